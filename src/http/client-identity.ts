// Who is calling: the subject of the verified client certificate, and the client's address.

import type { FastifyRequest } from 'fastify';
import type { Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

// The peer certificate is fixed once the handshake is done, and decoding it costs more than
// the rest of a refused request: each connection's identity is worked out once.
const identities = new WeakMap<TLSSocket, string>();

/** The client certificate's subject as `CN=mef-admin,O=Example`, or `unknown`. */
export function clientIdentity(request: FastifyRequest): string {
  const socket = request.raw.socket as TLSSocket;
  const known = identities.get(socket);
  if (known !== undefined) return known;

  const subject = socket.getPeerCertificate?.()?.subject as
    Record<string, string | string[]> | undefined;
  if (subject === undefined || Object.keys(subject).length === 0) return 'unknown';
  const identity = Object.entries(subject)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${key}=${v}`))
    .join(',');
  identities.set(socket, identity);
  return identity;
}

// A destroyed socket no longer knows its peer, and an answer that closes the connection, or a
// refused handshake, is logged after that: each connection's address is kept from its start.
const addresses = new WeakMap<Socket, string>();

/**
 * Remembers the address of each connection `server` accepts, for {@link socketAddress}. Call it
 * before the server listens.
 *
 * @example rememberClientAddresses(app.server);
 */
export function rememberClientAddresses(server: NetServer): void {
  server.on('connection', (socket: Socket) => {
    if (socket.remoteAddress !== undefined) addresses.set(socket, socket.remoteAddress);
  });
}

/**
 * The client's IP address on `socket`, a TCP socket or the TLS socket over it, without the
 * IPv4-mapped IPv6 prefix; `unknown` when the connection was gone before it was remembered.
 */
export function socketAddress(socket: Socket): string {
  // A server-side TLS socket wraps the TCP socket the server accepted; Node keeps it in
  // `_parent`, which is the only way back to the connection the address was remembered for.
  const tcpSocket = (socket as Socket & { _parent?: Socket })._parent;
  const address =
    addresses.get(socket) ??
    (tcpSocket === undefined ? undefined : addresses.get(tcpSocket)) ??
    socket.remoteAddress ??
    'unknown';
  return address.replace(/^::ffff:/, '');
}

/** The client's IP address, without the IPv4-mapped IPv6 prefix. */
export function clientAddress(request: FastifyRequest): string {
  return socketAddress(request.raw.socket);
}

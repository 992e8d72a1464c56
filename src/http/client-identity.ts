// Who is calling: the subject of the verified client certificate, and the client's address.

import type { FastifyRequest } from 'fastify';
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

/** The client's IP address, without the IPv4-mapped IPv6 prefix. */
export function clientAddress(request: FastifyRequest): string {
  return (request.ip ?? 'unknown').replace(/^::ffff:/, '');
}

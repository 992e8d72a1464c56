// Who is calling: the subject of the verified client certificate, and the client's address.

import type { FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';

/** The client certificate's subject as `CN=mef-admin,O=Example`, or `unknown`. */
export function clientIdentity(request: FastifyRequest): string {
  const socket = request.raw.socket as TLSSocket;
  const subject = socket.getPeerCertificate?.()?.subject as
    Record<string, string | string[]> | undefined;
  if (subject === undefined || Object.keys(subject).length === 0) return 'unknown';
  return Object.entries(subject)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${key}=${v}`))
    .join(',');
}

/** The client's IP address, without the IPv4-mapped IPv6 prefix. */
export function clientAddress(request: FastifyRequest): string {
  return (request.ip ?? 'unknown').replace(/^::ffff:/, '');
}

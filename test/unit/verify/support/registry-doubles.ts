// Real HTTPS servers that play a registry and its token service for the verifier's tests, and
// record every request they receive.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { IssuedCertificate } from '../../../../src/pki/certificate-authority.js';

export interface RecordedRequest {
  url: string;
  authorization?: string;
}

export interface TestServer {
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

async function listen(server: http.Server | https.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function serve(server: http.Server | https.Server, handler: Handler): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    requests.push({ url: request.url ?? '', authorization: request.headers.authorization });
    handler(request, response);
  });
  const port = await listen(server);
  return {
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An HTTPS server presenting `certificate` and answering with `handler`. */
export function startHttpsServer(
  certificate: IssuedCertificate,
  handler: Handler,
): Promise<TestServer> {
  const server = https.createServer({
    cert: certificate.certificatePem,
    key: certificate.privateKeyPem,
  });
  return serve(server, handler);
}

/** A plain-HTTP server, to play a token realm that would receive the password in clear. */
export function startHttpServer(handler: Handler): Promise<TestServer> {
  return serve(http.createServer(), handler);
}

/** A TCP server that accepts connections and never says a word, not even a TLS hello. */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens: bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Answers `status` with a JSON body, the way a registry and a token service do. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** The account and passwords the doubles know. */
export const account = 'robot';
export const password = 'Str0ng-pass#1';
export const wrongPassword = 'Wr0ng-pass#1';

/** The Basic auth token of `account` with `secret`. */
export const basicToken = (secret: string) =>
  Buffer.from(`${account}:${secret}`).toString('base64');

/** A registry that wants HTTP Basic auth with the right password. */
export function basicRegistry(request: IncomingMessage, response: ServerResponse): void {
  if (request.headers.authorization === `Basic ${basicToken(password)}`) {
    sendJson(response, 200, {});
    return;
  }
  sendJson(
    response,
    401,
    { errors: [{ code: 'UNAUTHORIZED' }] },
    { 'www-authenticate': 'Basic realm="test registry"' },
  );
}

// A TLS client that speaks HTTP/1.1 by hand, for tests of what happens below and around HTTP:
// handshakes a server refuses, connections it caps, and clients that send slowly.

import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface RawExchange {
  /** The handshake completed on the client's side. */
  secured: boolean;
  /** Everything the server sent, as text. */
  received: string;
  /** The client-side error, e.g. `ECONNRESET` or `ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION`. */
  errorCode?: string;
  /** Milliseconds from the start of the connection until it closed. */
  closedAfterMs: number;
}

/** The URL's host and port, as `tls.connect` takes them. */
export function addressOf(url: string): { host: string; port: number } {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
}

/** One GET request on a connection the server closes after answering. */
export function getRequest(urlPath: string): string {
  return `GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
}

/**
 * Connects, sends `request` once the handshake completes, and collects all the server sends
 * until the connection closes. Never rejects: a refusal is a result.
 *
 * @example const exchange = await exchangeOnce(apiUrl, { ca, cert, key }, getRequest('/'));
 */
export function exchangeOnce(
  url: string,
  options: ConnectionOptions,
  request: string,
  timeoutMs = 10_000,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const result: RawExchange = { secured: false, received: '', closedAfterMs: 0 };
    const socket = connect({ ...addressOf(url), servername: 'localhost', ...options }, () => {
      result.secured = true;
      socket.write(request);
    });
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (result.received += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (result.errorCode ??= error.code));
    socket.on('close', () => {
      clearTimeout(timer);
      result.closedAfterMs = Date.now() - started;
      resolve(result);
    });
  });
}

/** Opens a TLS connection and waits for the handshake; rejects when the server refuses it. */
export function openConnection(url: string, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ ...addressOf(url), servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the handshake completed')));
  });
}

/**
 * Resolves with the milliseconds until `socket` closes, measured from `since`. A socket still
 * open after `giveUpAfterMs` is closed by the client, so a test waiting on it ends.
 */
export function closedAfter(
  socket: TLSSocket,
  since = Date.now(),
  giveUpAfterMs = 10_000,
): Promise<number> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve(Date.now() - since);
    const timer = setTimeout(() => socket.destroy(), giveUpAfterMs);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - since);
    });
  });
}

/**
 * Sends one request on an open connection and resolves with the raw answer once a whole
 * response (head and a Content-Length body) has arrived.
 */
export function requestOn(socket: TLSSocket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('utf8');
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(received.slice(0, headEnd))?.[1];
      if (Buffer.byteLength(received.slice(headEnd + 4)) < Number(length ?? 0)) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(received);
    };
    const onClose = () => reject(new Error(`closed before a whole answer: ${received}`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(request);
  });
}

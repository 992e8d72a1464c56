// What one client may ask of the API listener: a rate of requests, a number of connections and
// the time it may take to send a request; and how long a stop waits for calls in flight.

import rateLimit, { normalizeIP, type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { ServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LimitSettings } from '../config/settings.js';
import { ApiError, StatusCode } from '../domain/status.js';
import type { HttpsApp } from './tls-policy.js';

/** Past this many tracked clients, the buckets of clients that went quiet are dropped. */
const trackedClientsBeforeSweep = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per client: each holds up to `burst` tokens and refills at `ratePerSecond`; a
 * request takes one token. A fixed window cannot express this: it lets a client send a whole
 * window's worth at once, twice over at a window boundary.
 *
 * @example new TokenBuckets(10, 5).take('192.0.2.1') // { allowed: true, tokens: 4, waitMs: 100 }
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Takes a token from `client`'s bucket. `waitMs` is how long until the next token when none
   * was left, or until the bucket is full again when one was.
   */
  take(client: string): { allowed: boolean; tokens: number; waitMs: number } {
    const now = this.now();
    const bucket = this.buckets.get(client) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond,
    );
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(client, bucket);
    if (this.buckets.size > trackedClientsBeforeSweep) this.sweep(now);

    const missing = allowed ? this.burst - bucket.tokens : 1 - bucket.tokens;
    return { allowed, tokens: bucket.tokens, waitMs: (missing / this.ratePerSecond) * 1000 };
  }

  private sweep(now: number): void {
    for (const [client, bucket] of this.buckets) {
      const full = bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond >= this.burst;
      if (full) this.buckets.delete(client);
    }
  }
}

/** Adapts {@link TokenBuckets} to the store interface of @fastify/rate-limit. */
function tokenBucketStore(buckets: TokenBuckets) {
  return class TokenBucketStore implements FastifyRateLimitStore {
    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    ) {
      const { allowed, tokens, waitMs } = buckets.take(key);
      // The plugin refuses when `current` exceeds `max` (the burst).
      const current = allowed ? buckets.burst - Math.floor(tokens) : buckets.burst + 1;
      callback(null, { current, ttl: Math.ceil(waitMs) });
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}

/** The message of a 429: names the limit and when to come back. */
function rateLimitedMessage(limits: LimitSettings, retryAfterSeconds: number): string {
  return (
    `too many requests: at most ${limits.ratePerSecond} per second from one client, ` +
    `in bursts of at most ${limits.burst}; retry after ${retryAfterSeconds} s`
  );
}

/** Every request, on every route and on unknown paths alike, takes a token of its client. */
async function limitRequestRate(
  app: HttpsApp,
  limits: LimitSettings,
  onRefusal: RefusalListener,
): Promise<void> {
  if (limits.ratePerSecond === undefined) return;
  const buckets = new TokenBuckets(limits.ratePerSecond, limits.burst);
  await app.register(rateLimit, {
    global: false,
    max: limits.burst,
    store: tokenBucketStore(buckets),
    addHeaders: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
      'retry-after': true,
    },
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
    onExceeded: () => onRefusal('requests'),
    errorResponseBuilder: (_request, context) =>
      new ApiError(
        StatusCode.rateLimited,
        429,
        rateLimitedMessage(limits, Math.max(1, Math.ceil(context.ttl / 1000))),
      ),
  });
  app.addHook('onRequest', app.rateLimit());
}

/** Told of every refusal, so that metrics can count them. */
export type RefusalListener = (limit: 'requests' | 'connections') => void;

/** The TCP connections of the listener, by client, for the cap and for the end of a stop. */
class ConnectionCount {
  private readonly perClient = new Map<string, number>();
  readonly sockets = new Set<Socket>();

  /** Counts `socket` unless its client already holds `max`; says whether it was counted. */
  admit(client: string, socket: Socket, max: number): boolean {
    const count = this.perClient.get(client) ?? 0;
    if (count >= max) return false;
    this.perClient.set(client, count + 1);
    this.sockets.add(socket);
    socket.once('close', () => {
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left === 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
      this.sockets.delete(socket);
    });
    return true;
  }
}

/**
 * Caps the connections of each client. They are counted as TCP connections, before the TLS
 * handshake, so a client stalling in the handshake holds its slots too.
 */
function capConnections(
  app: HttpsApp,
  limits: LimitSettings,
  onRefusal: RefusalListener,
): ConnectionCount {
  const connections = new ConnectionCount();
  app.server.on('connection', (socket: Socket) => {
    const client = normalizeIP(socket.remoteAddress ?? 'unknown');
    if (connections.admit(client, socket, limits.maxConnectionsPerIp)) return;
    socket.destroy();
    onRefusal('connections');
    app.log.warn(
      { event: 'connection.refused', clientIp: client, limit: limits.maxConnectionsPerIp },
      `refused a connection from ${client}: it already holds ${limits.maxConnectionsPerIp}`,
    );
  });
  return connections;
}

/**
 * The options of the HTTPS server that bound a slow client (slowloris): the TLS handshake and
 * the request head must each arrive within the headers timeout.
 */
export function slowClientServerOptions(limits: LimitSettings): ServerOptions {
  return {
    handshakeTimeout: limits.headersTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node enforces the headers and request timeouts only this often.
    connectionsCheckingInterval: Math.max(
      100,
      Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)),
    ),
  };
}

/**
 * Cuts off clients that send a request slowly. A connection that never starts a request is
 * idle rather than slow, so Node's headers timeout leaves it alone: it gets an idle timeout
 * until its first request arrives.
 */
function limitSlowClients(app: HttpsApp, limits: LimitSettings): void {
  const { server } = app;
  // Fastify sets its own request timeout on the server it creates; ours replaces it.
  server.requestTimeout = limits.requestTimeoutMs;
  server.on('secureConnection', (socket: Socket) => socket.setTimeout(limits.headersTimeoutMs));
  app.addHook('onRequest', async (request) => {
    request.raw.socket.setTimeout(0);
  });
}

/**
 * On close: calls in flight finish and answer with `Connection: close`, so keep-alive clients
 * let go; connections still open after the grace period are cut.
 */
function drainOnClose(app: HttpsApp, connections: ConnectionCount, graceMs: number): void {
  let closing = false;
  let deadline: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    deadline = setTimeout(() => {
      if (connections.sockets.size === 0) return;
      app.log.warn(
        { event: 'stop.cut', connections: connections.sockets.size, graceMs },
        `closed ${connections.sockets.size} connections still open after ${graceMs} ms`,
      );
      for (const socket of connections.sockets) socket.destroy();
    }, graceMs);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    // An answer that was on its way when the stop began went out without `Connection: close`.
    if (closing && reply.getHeader('connection') !== 'close') request.raw.socket.end();
  });
  app.addHook('onClose', async () => clearTimeout(deadline));
}

/**
 * Applies every limit of `limits` to the API listener. Call it before the routes are added.
 *
 * @example await applyRequestLimits(app, settings.limits);
 */
export async function applyRequestLimits(
  app: HttpsApp,
  limits: LimitSettings,
  onRefusal: RefusalListener = () => undefined,
): Promise<void> {
  await limitRequestRate(app, limits, onRefusal);
  const connections = capConnections(app, limits, onRefusal);
  limitSlowClients(app, limits);
  drainOnClose(app, connections, limits.shutdownTimeoutMs);
}

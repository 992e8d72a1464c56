// The benchmark's load: the requests it sends, and one autocannon run over mutual TLS.

import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';
import { request as httpsRequest } from 'node:https';
import { imageConfigPath } from '../src/http/routes/image-config.js';

/** The client side of mutual TLS; the server name is the one on the development certificate. */
export interface ClientTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  servername: string;
}

export interface RequestKind {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** The status the service must answer; anything else makes the figures meaningless. */
  expectedStatus: number;
}

const configuration = {
  domain: 'registry.example.com',
  port: 443,
  account: 'ImageRepository',
  password: [...Buffer.from('Example12#$')],
};

export const requestKinds = {
  validPost: {
    name: 'valid POST',
    method: 'POST',
    path: imageConfigPath,
    body: JSON.stringify(configuration),
    expectedStatus: 200,
  },
  invalidPost: {
    name: 'invalid POST',
    method: 'POST',
    path: imageConfigPath,
    // Well-formed JSON that the port rule refuses: decoding and every rule run, no store.
    body: JSON.stringify({ ...configuration, port: 70000 }),
    expectedStatus: 400,
  },
  get: { name: 'GET', method: 'GET', path: imageConfigPath, expectedStatus: 200 },
} as const satisfies Record<string, RequestKind>;

/** The registry address the valid POST configures, as it appears in dockerconfig.json. */
export const configuredRegistry = `${configuration.domain}:${configuration.port}`;

function headersOf(kind: RequestKind): Record<string, string> {
  return kind.body === undefined ? {} : { 'content-type': 'application/json' };
}

/** Sends one request of `kind` and returns the status, to check a case before loading it. */
export function probe(baseUrl: string, tls: ClientTls, kind: RequestKind): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      `${baseUrl}${kind.path}`,
      { method: kind.method, headers: headersOf(kind), agent: false, ...tls },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    request.end(kind.body);
  });
}

export interface LoadFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Requests answered, warm-up included. */
  answered: number;
  errors: number;
  /** Answers by HTTP status, warm-up included. */
  statuses: Record<string, number>;
}

export interface LoadOptions {
  connections: number;
  /** Seconds of measured load; or `amount` requests in all. */
  duration?: number;
  amount?: number;
  warmupSeconds?: number;
  /** Called for every answer to a request of this kind (warm-up included). */
  onAnswer?: (kind: RequestKind, status: number) => void;
}

function statusesOf(results: (AutocannonResult | undefined)[]): Record<string, number> {
  const statuses: Record<string, number> = {};
  for (const result of results) {
    for (const [status, { count }] of Object.entries(result?.statusCodeStats ?? {})) {
      statuses[status] = (statuses[status] ?? 0) + count;
    }
  }
  return statuses;
}

/**
 * Drives `baseUrl` with `kinds` in turn on every connection, over kept-alive mutual TLS.
 *
 * @example const figures = await drive(url, tls, [requestKinds.get], { connections: 64 });
 */
export async function drive(
  baseUrl: string,
  tls: ClientTls,
  kinds: RequestKind[],
  options: LoadOptions,
): Promise<LoadFigures> {
  const requests: AutocannonRequest[] = kinds.map((kind) => ({
    method: kind.method,
    path: kind.path,
    headers: headersOf(kind),
    body: kind.body,
    onResponse: (status: number) => options.onAnswer?.(kind, status),
  }));
  const warmup = options.warmupSeconds;
  const result = await autocannon({
    url: baseUrl,
    connections: options.connections,
    // autocannon refuses an explicit undefined for either.
    ...(options.amount === undefined ? { duration: options.duration } : { amount: options.amount }),
    timeout: 30,
    servername: tls.servername,
    tlsOptions: { ca: tls.ca, cert: tls.cert, key: tls.key },
    requests,
    warmup:
      warmup === undefined ? undefined : { connections: options.connections, duration: warmup },
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    answered: result.requests.total + (result.warmup?.requests.total ?? 0),
    errors: result.errors + result.timeouts,
    statuses: statusesOf([result, result.warmup]),
  };
}

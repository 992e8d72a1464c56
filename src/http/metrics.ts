// Prometheus metrics of one service instance: API traffic, configuration updates, registry
// verifications, store errors, TLS handshake failures, rate-limit refusals and the process.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { StoreError } from '../store/store.js';
import { verificationSteps, type VerificationResult } from '../verify/verification-result.js';
import { imageConfigPath } from './routes/image-config.js';
import type { HttpsApp } from './tls-policy.js';

/** Where the ops listener serves the metrics. */
export const metricsPath = '/metrics';

/** Every metric this service defines, written once for the code, the tests and the README. */
export const metricNames = {
  httpRequests: 'mef_http_requests_total',
  httpRequestDuration: 'mef_http_request_duration_seconds',
  configurationUpdates: 'mef_configuration_updates_total',
  registryVerifications: 'mef_registry_verifications_total',
  storeErrors: 'mef_store_errors_total',
  tlsHandshakeFailures: 'mef_tls_handshake_failures_total',
  rateLimitRefusals: 'mef_rate_limit_refusals_total',
} as const;

/** The route label of a request that matched no route: never the raw path, which is unbounded. */
export const unmatchedRoute = 'unmatched';

/** What became of a configuration call: saved and applied, refused (4xx), or failed (5xx). */
export type ConfigurationUpdateResult = 'applied' | 'refused' | 'failed';

/** Which limit refused a client: its request rate, or its number of open connections. */
export type RateLimit = 'requests' | 'connections';

// From a refused request (~1 ms) to a registry verification or an fsync on a busy disk (~5 s).
const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type RequestLabels = 'route' | 'method' | 'status';

/**
 * One registry of metrics, created per service instance so that several services can run in
 * one process (the tests do) without sharing counters.
 *
 * @example const metrics = new ServiceMetrics(); metrics.recordRateLimitRefusal('requests');
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  private readonly httpRequests = new Counter<RequestLabels>({
    name: metricNames.httpRequests,
    help: 'API requests answered, by route template, method and HTTP status',
    labelNames: ['route', 'method', 'status'],
    registers: [this.registry],
  });

  private readonly httpRequestDuration = new Histogram<RequestLabels>({
    name: metricNames.httpRequestDuration,
    help: 'Time from receiving an API request to sending the answer, in seconds',
    labelNames: ['route', 'method', 'status'],
    buckets: durationBuckets,
    registers: [this.registry],
  });

  private readonly configurationUpdates = new Counter<'result'>({
    name: metricNames.configurationUpdates,
    help: `Configuration calls (POST ${imageConfigPath}) by result: applied, refused, failed`,
    labelNames: ['result'],
    registers: [this.registry],
  });

  private readonly registryVerifications = new Counter<'result' | 'step'>({
    name: metricNames.registryVerifications,
    help: 'Registry verifications by result, and the step that failed (none on success)',
    labelNames: ['result', 'step'],
    registers: [this.registry],
  });

  private readonly storeErrors = new Counter<'store'>({
    name: metricNames.storeErrors,
    help: 'Store operations that failed while serving an API request, by store kind',
    labelNames: ['store'],
    registers: [this.registry],
  });

  private readonly tlsHandshakeFailures = new Counter<'reason'>({
    name: metricNames.tlsHandshakeFailures,
    help: 'TLS handshakes the API listener refused or lost, by error code',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  private readonly rateLimitRefusals = new Counter<'limit'>({
    name: metricNames.rateLimitRefusals,
    help: 'Clients refused by a limit: requests (429) or connections per address',
    labelNames: ['limit'],
    registers: [this.registry],
  });

  /** Label children by `route method status`: the request path skips prom-client's hashing. */
  private readonly requestChildren = new Map<
    string,
    { count: Counter.Internal; duration: Histogram.Internal<RequestLabels> }
  >();

  constructor() {
    collectDefaultMetrics({ register: this.registry });

    // Series that exist from the start, so a rate() over them works before the first event.
    for (const result of ['applied', 'refused', 'failed'] as const) {
      this.configurationUpdates.labels(result).inc(0);
    }
    this.registryVerifications.labels('success', 'none').inc(0);
    for (const step of verificationSteps) {
      this.registryVerifications.labels('failure', step).inc(0);
    }
    for (const limit of ['requests', 'connections'] as const) {
      this.rateLimitRefusals.labels(limit).inc(0);
    }
  }

  /** Counts one answered API request and its duration. */
  recordRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`;
    let children = this.requestChildren.get(key);
    if (children === undefined) {
      const labels = { route, method, status: String(status) };
      children = {
        count: this.httpRequests.labels(labels),
        duration: this.httpRequestDuration.labels(labels),
      };
      this.requestChildren.set(key, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  }

  recordConfigurationUpdate(result: ConfigurationUpdateResult): void {
    this.configurationUpdates.labels(result).inc();
  }

  /**
   * Counts one registry verification by its result; a failure by the step it failed at.
   *
   * @example metrics.recordVerification(await verifyRegistry(credentials));
   */
  recordVerification(result: VerificationResult): void {
    if (result.ok) this.registryVerifications.labels('success', 'none').inc();
    else this.registryVerifications.labels('failure', result.step).inc();
  }

  recordStoreError(store: string): void {
    this.storeErrors.labels(store).inc();
  }

  /** `reason` is OpenSSL's verify error (`CERT_REVOKED`) or the socket's error code. */
  recordTlsHandshakeFailure(reason: string): void {
    this.tlsHandshakeFailures.labels(reason).inc();
  }

  /**
   * Counts one client refused by a limit; the rate limiter calls it from its `onExceeded`.
   *
   * @example onExceeded: () => metrics.recordRateLimitRefusal('requests')
   */
  recordRateLimitRefusal(limit: RateLimit): void {
    this.rateLimitRefusals.labels(limit).inc();
  }

  /** The exposition text and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

function configurationUpdateResult(status: number): ConfigurationUpdateResult {
  if (status < 400) return 'applied';
  return status < 500 ? 'refused' : 'failed';
}

/**
 * Counts every request the API listener answers, every store error a request meets, and every
 * TLS handshake it refuses. Call it on the root instance, before the routes are registered.
 */
export function observeApiServer(app: HttpsApp, metrics: ServiceMetrics, storeKind: string): void {
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? unmatchedRoute;
    const status = reply.statusCode;
    metrics.recordRequest(route, request.method, status, reply.elapsedTime / 1000);
    if (route === imageConfigPath && request.method === 'POST') {
      metrics.recordConfigurationUpdate(configurationUpdateResult(status));
    }
  });

  app.addHook('onError', async (_request, _reply, error) => {
    if (error instanceof StoreError) metrics.recordStoreError(storeKind);
  });

  app.server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    // At run time a verify failure is OpenSSL's code as a string, despite the declared type.
    const verifyError = socket.authorizationError as unknown as string | undefined;
    metrics.recordTlsHandshakeFailure(verifyError ?? error.code ?? 'unknown');
  });
}

/** Serves the metrics of `metrics` at {@link metricsPath}; registered on the ops listener. */
export async function metricsRoute(
  app: FastifyInstance,
  options: { metrics: ServiceMetrics },
): Promise<void> {
  app.get(metricsPath, async (_request, reply) => {
    const { contentType, text } = await options.metrics.exposition();
    return reply.type(contentType).send(text);
  });
}

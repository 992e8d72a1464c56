// The plain-HTTP operations listener: liveness, readiness and metrics for probes and scrapers.

import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import type { ImageConfigStore } from '../store/store.js';
import { metricsRoute, type ServiceMetrics } from './metrics.js';
import { openApiRoute } from './openapi.js';

export interface OpsServerOptions {
  store: ImageConfigStore;
  logger: Logger;
  /** True once the API listener accepts connections. */
  apiListening: () => boolean;
  /** Served at `/metrics` when given. */
  metrics?: ServiceMetrics;
}

export async function buildOpsServer(options: OpsServerOptions) {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const storeReady = await options.store.isReady().catch(() => false);
    const listening = options.apiListening();
    const ready = storeReady && listening;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      store: storeReady ? 'ready' : 'unavailable',
      api: listening ? 'listening' : 'not listening',
    });
  });

  if (options.metrics !== undefined) {
    await app.register(metricsRoute, { metrics: options.metrics });
  }

  await app.register(openApiRoute);
  return app;
}

export type OpsServer = Awaited<ReturnType<typeof buildOpsServer>>;

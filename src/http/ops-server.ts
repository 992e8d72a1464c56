// The plain-HTTP operations listener: liveness and readiness for probes and load balancers.

import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import type { ImageConfigStore } from '../store/store.js';

export interface OpsServerOptions {
  store: ImageConfigStore;
  logger: Logger;
  /** True once the API listener accepts connections. */
  apiListening: () => boolean;
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

  return app;
}

export type OpsServer = Awaited<ReturnType<typeof buildOpsServer>>;

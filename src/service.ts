// The whole service: settings in, store opened, both listeners up; one object to stop it all.

import type { Logger } from 'pino';
import type { Settings } from './config/settings.js';
import { buildApiServer, type ApiServer } from './http/api-server.js';
import { buildOpsServer, type OpsServer } from './http/ops-server.js';
import {
  ensureDevelopmentPki,
  readTlsFiles,
  type DevelopmentPkiPaths,
} from './pki/development-pki.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { ImageConfigStore } from './store/store.js';

export interface RunningService {
  api: ApiServer;
  ops: OpsServer;
  store: ImageConfigStore;
  /** The API's bound address, e.g. `https://127.0.0.1:30035`. */
  apiUrl: string;
  opsUrl: string;
  /** Set when the service created or used the development PKI. */
  developmentPki?: DevelopmentPkiPaths;
  /** Stops accepting, finishes calls in flight, then closes the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  /** The store to use instead of the one the settings select (tests inject faults this way). */
  store?: ImageConfigStore;
}

function urlOf(scheme: string, address: string | { address: string; port: number }): string {
  if (typeof address === 'string') return address;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

async function tlsFiles(settings: Settings) {
  const { certFile, keyFile, clientCaFile } = settings.tls;
  if (certFile !== undefined && keyFile !== undefined && clientCaFile !== undefined) {
    return { files: { cert: certFile, key: keyFile, clientCa: clientCaFile } };
  }
  const { paths, created } = await ensureDevelopmentPki(settings.dataDir);
  const files = { cert: paths.serverCert, key: paths.serverKey, clientCa: paths.caCert };
  return { files, developmentPki: paths, created };
}

/**
 * Starts the service described by `settings`.
 *
 * @example const service = await startService(loadSettings(process.env), { logger });
 */
export async function startService(
  settings: Settings,
  options: StartOptions,
): Promise<RunningService> {
  const { logger } = options;
  const tls = await tlsFiles(settings);
  if (tls.created) {
    logger.info(
      { event: 'pki.created', directory: tls.developmentPki?.directory },
      'created a development PKI; use your own certificates in production',
    );
  }

  const store = options.store ?? new SqliteStore({ dataDir: settings.dataDir, logger });
  await store.open();

  let apiListening = false;
  const api = await buildApiServer({
    tls: await readTlsFiles(tls.files),
    store,
    edgeHostIps: settings.edgeHostIps,
    logger,
  });
  const ops = await buildOpsServer({ store, logger, apiListening: () => apiListening });

  await api.listen({ host: settings.listen.host, port: settings.listen.port });
  apiListening = true;
  await ops.listen({ host: settings.opsListen.host, port: settings.opsListen.port });

  const running: RunningService = {
    api,
    ops,
    store,
    apiUrl: urlOf('https', api.server.address() ?? ''),
    opsUrl: urlOf('http', ops.server.address() ?? ''),
    developmentPki: tls.developmentPki,
    async stop() {
      apiListening = false;
      await api.close();
      await ops.close();
      await store.close();
    },
  };
  return running;
}

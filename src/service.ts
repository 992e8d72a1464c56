// The whole service: settings in, store opened, both listeners up; one object to stop it all.

import type { Logger } from 'pino';
import type { Settings } from './config/settings.js';
import { buildApiServer, type ApiServer } from './http/api-server.js';
import { ServiceMetrics } from './http/metrics.js';
import { buildOpsServer, type OpsServer } from './http/ops-server.js';
import { openOperationLog } from './operation-log.js';
import { ensureDevelopmentPki, type DevelopmentPkiPaths } from './pki/development-pki.js';
import { loadTlsMaterial } from './pki/tls-material.js';
import type { CertificateStore } from './store/certificate-store.js';
import { createStore } from './store/create-store.js';
import { createCertificateStore } from './store/create-certificate-store.js';
import type { ImageConfigStore } from './store/store.js';

export interface RunningService {
  api: ApiServer;
  ops: OpsServer;
  store: ImageConfigStore;
  /** Imported registry CA certificates, kept beside the configuration. */
  certificates: CertificateStore;
  /** This instance's metrics, served by the ops listener at `/metrics`. */
  metrics: ServiceMetrics;
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
  /** The certificate store to use instead of the one the settings select. */
  certificates?: CertificateStore;
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

  const store = options.store ?? (await createStore(settings, logger));
  await store.open();
  const certificates = options.certificates ?? (await createCertificateStore(settings));

  let apiListening = false;
  const metrics = new ServiceMetrics();
  const tlsFilesWithCrl = { ...tls.files, crl: settings.tls.crlFile };
  const operationLog = await openOperationLog(settings.dataDir, logger);
  const api = await buildApiServer({
    tls: await loadTlsMaterial(tlsFilesWithCrl),
    tlsFiles: tlsFilesWithCrl,
    limits: settings.limits,
    requireStrongPassword: settings.requireStrongPassword,
    operations: operationLog.logger,
    store,
    edgeHostIps: settings.edgeHostIps,
    certificates,
    verification: {
      defaultMode: settings.verification.mode,
      timeoutMs: settings.verification.timeoutMs,
      recordResult: (result) => metrics.recordVerification(result),
    },
    logger,
    metrics,
  });
  const ops = await buildOpsServer({
    store,
    logger,
    apiListening: () => apiListening,
    metrics,
  });

  await api.listen({ host: settings.listen.host, port: settings.listen.port });
  apiListening = true;
  await ops.listen({ host: settings.opsListen.host, port: settings.opsListen.port });

  const running: RunningService = {
    api,
    ops,
    store,
    certificates,
    metrics,
    apiUrl: urlOf('https', api.server.address() ?? ''),
    opsUrl: urlOf('http', ops.server.address() ?? ''),
    developmentPki: tls.developmentPki,
    async stop() {
      apiListening = false;
      await api.close();
      await ops.close();
      await store.close();
      await operationLog.close();
    },
  };
  return running;
}

// The whole service: settings in, store opened, both listeners up; one object to stop it all.

import type { Logger } from 'pino';
import { SettingsError, type ListenAddress, type Settings } from './config/settings.js';
import { createWritableDirectory } from './files/writable-directory.js';
import { buildApiServer, type ApiServer } from './http/api-server.js';
import { ServiceMetrics } from './http/metrics.js';
import { buildOpsServer, type OpsServer } from './http/ops-server.js';
import { openOperationLog } from './operation-log.js';
import { ensureDevelopmentPki, type DevelopmentPkiPaths } from './pki/development-pki.js';
import { loadTlsMaterial, TlsMaterialError, type TlsFiles } from './pki/tls-material.js';
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

/** `host:port`, with an IPv6 host in brackets. */
function hostAndPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function urlOf(scheme: string, address: string | { address: string; port: number }): string {
  if (typeof address === 'string') return address;
  return `${scheme}://${hostAndPort(address.address, address.port)}`;
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

/** The directory is made here, once, so that its failure names the setting that chose it. */
async function prepareDataDirectory(settings: Settings): Promise<void> {
  try {
    await createWritableDirectory(settings.dataDir, 0o700);
  } catch (error) {
    throw new SettingsError('MEF_DATA_DIR', (error as Error).message);
  }
}

/** Loads the TLS files; one that cannot be used is reported as the setting that names it. */
async function loadTls(settings: Settings, files: TlsFiles) {
  try {
    return await loadTlsMaterial(files);
  } catch (error) {
    if (!(error instanceof TlsMaterialError)) throw error;
    const { certFile, keyFile, clientCaFile, crlFile } = settings.tls;
    const variables = [
      ['MEF_TLS_CERT', certFile],
      ['MEF_TLS_KEY', keyFile],
      ['MEF_TLS_CLIENT_CA', clientCaFile],
      ['MEF_TLS_CRL', crlFile],
    ] as const;
    const variable = variables.find(([, file]) => file === error.file)?.[0];
    // A file of the development PKI is named by its path alone.
    if (variable === undefined) throw error;
    throw new SettingsError(variable, error.message);
  }
}

/** Why a listener cannot bind, for the errors a setting can cause. */
const listenProblems: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'the host has no such address',
  EACCES: 'the port is privileged (below 1024) and the service may not bind it',
};

async function listenOn(
  server: ApiServer | OpsServer,
  variable: 'MEF_LISTEN' | 'MEF_OPS_LISTEN',
  address: ListenAddress,
): Promise<void> {
  try {
    await server.listen({ host: address.host, port: address.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const problem = listenProblems[code];
    if (problem === undefined) throw error;
    const where = hostAndPort(address.host, address.port);
    throw new SettingsError(variable, `cannot listen on ${where}: ${problem} (${code})`);
  }
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
  await prepareDataDirectory(settings);
  const tls = await tlsFiles(settings);
  if (tls.created) {
    logger.info(
      { event: 'pki.created', directory: tls.developmentPki?.directory },
      'created a development PKI; use your own certificates in production',
    );
  }
  // Before the store opens, so that a bad TLS setting leaves the data untouched.
  const tlsFilesWithCrl = { ...tls.files, crl: settings.tls.crlFile };
  const tlsMaterial = await loadTls(settings, tlsFilesWithCrl);

  const store = options.store ?? (await createStore(settings, logger));
  await store.open();
  const certificates = options.certificates ?? (await createCertificateStore(settings));

  let apiListening = false;
  const metrics = new ServiceMetrics();
  const operationLog = await openOperationLog(settings.dataDir, logger);
  const api = await buildApiServer({
    tls: tlsMaterial,
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

  try {
    await listenOn(api, 'MEF_LISTEN', settings.listen);
    apiListening = true;
    await listenOn(ops, 'MEF_OPS_LISTEN', settings.opsListen);
  } catch (error) {
    apiListening = false;
    await api.close();
    await ops.close();
    await store.close();
    await operationLog.close();
    throw error;
  }

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

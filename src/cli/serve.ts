#!/usr/bin/env node
// Runs the service: reads the settings, starts both listeners, stops cleanly on SIGTERM.

import path from 'node:path';
import { loadSettings, SettingsError } from '../config/settings.js';
import { imageConfigPath } from '../http/routes/image-config.js';
import { createLogger } from '../logging.js';
import type { DevelopmentPkiPaths } from '../pki/development-pki.js';
import { startService } from '../service.js';

/** A ready-to-paste call for a first configuration with the development certificates. */
function curlExample(pki: DevelopmentPkiPaths, port: number): string {
  const relative = (file: string) => {
    const shorter = path.relative(process.cwd(), file);
    return shorter.startsWith('..') ? file : shorter;
  };
  const body = JSON.stringify({
    domain: 'registry.example.com',
    port: 443,
    account: 'ImageRepository',
    password: [...Buffer.from('Huawei12#$')],
  });
  return [
    `curl --cacert ${relative(pki.caCert)} --cert ${relative(pki.clientCert)}`,
    `--key ${relative(pki.clientKey)} -H 'Content-Type: application/json'`,
    `-d '${body}' https://localhost:${port}${imageConfigPath}`,
  ].join(' \\\n  ');
}

/** A settings error exits 2, as a usage error; anything else is rethrown. */
function exitOnBadSetting(error: unknown): never {
  if (!(error instanceof SettingsError)) throw error;
  console.error(`mef-image-config: bad setting ${error.message}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let settings;
  try {
    settings = loadSettings(process.env);
  } catch (error) {
    exitOnBadSetting(error);
  }

  const logger = createLogger(settings.logLevel);
  // Start-up also refuses settings: a file, directory or address the system will not give us.
  const service = await startService(settings, { logger }).catch(exitOnBadSetting);
  logger.info(
    {
      event: 'started',
      api: service.apiUrl,
      ops: service.opsUrl,
      dataDir: settings.dataDir,
      store: service.store.kind,
      storeLocation: service.store.location,
      tls: service.developmentPki ? 'development PKI' : 'configured certificates',
    },
    `serving ${imageConfigPath} on ${service.apiUrl}; ops on ${service.opsUrl}; ` +
      `${service.store.kind} store: ${service.store.location}`,
  );
  if (service.developmentPki !== undefined) {
    const port = service.api.server.address();
    const example = curlExample(
      service.developmentPki,
      typeof port === 'object' && port !== null ? port.port : settings.listen.port,
    );
    logger.info(
      { event: 'pki.development', directory: service.developmentPki.directory },
      'development certificates in use; try:',
    );
    process.stderr.write(`\n${example}\n\n`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'stopping', signal }, 'finishing calls in flight, then exiting');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(`mef-image-config: ${(error as Error).message}`);
  process.exit(1);
});

// Starts the whole service in-process on ephemeral ports, and calls it over real mutual TLS.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadSettings } from '../../src/config/settings.js';
import { createLogger } from '../../src/logging.js';
import { startService, type RunningService } from '../../src/service.js';
import type { CertificateStore } from '../../src/store/certificate-store.js';
import type { ImageConfigStore } from '../../src/store/store.js';

export interface TestResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body; undefined when it is not JSON. */
  json: Record<string, unknown> | undefined;
}

export interface ClientCredentials {
  cert?: Buffer | string;
  key?: Buffer | string;
}

export interface TestService {
  service: RunningService;
  dataDir: string;
  /** Every log line the service wrote, as text. */
  logs: string[];
  /** The development CA and client certificate, for callers that open their own connections. */
  client: { ca: Buffer; cert: Buffer; key: Buffer };
  /** Calls the API with the development client certificate unless `client` says otherwise. */
  call(
    method: string,
    urlPath: string,
    body?: unknown,
    options?: { contentType?: string; client?: ClientCredentials },
  ): Promise<TestResponse>;
  stop(): Promise<void>;
}

/**
 * A service on 127.0.0.1 with a fresh data directory and a development PKI.
 *
 * @example const { call, stop } = await startTestService();
 */
export async function startTestService(
  options: {
    env?: Record<string, string>;
    store?: (dataDir: string) => ImageConfigStore;
    certificates?: (dataDir: string) => CertificateStore;
  } = {},
): Promise<TestService> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-test-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const settings = loadSettings({
    MEF_DATA_DIR: dataDir,
    MEF_LISTEN: '127.0.0.1:0',
    MEF_OPS_LISTEN: '127.0.0.1:0',
    // Unit tests reach no registry; a test that verifies turns it on.
    MEF_VERIFY_REGISTRY: 'off',
    // Tests call faster, and over more connections at once, than an operator does; the limits
    // have tests of their own.
    MEF_RATE_LIMIT: 'off',
    MEF_MAX_CONNECTIONS_PER_IP: '1000',
    ...options.env,
  });
  const logger = createLogger('info', sink);
  const service = await startService(settings, {
    logger,
    store: options.store?.(dataDir),
    certificates: options.certificates?.(dataDir),
  });
  const pki = service.developmentPki!;
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caCert),
    readFile(pki.clientCert),
    readFile(pki.clientKey),
  ]);

  const call: TestService['call'] = (method, urlPath, body, callOptions = {}) =>
    new Promise((resolve, reject) => {
      const payload =
        body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const client = callOptions.client ?? { cert, key };
      const request = httpsRequest(
        `${service.apiUrl}${urlPath}`,
        {
          method,
          ca,
          cert: client.cert,
          key: client.key,
          servername: 'localhost',
          agent: false,
          headers:
            payload === undefined
              ? {}
              : { 'content-type': callOptions.contentType ?? 'application/json' },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Record<string, unknown> | undefined;
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              json = undefined;
            }
            resolve({
              statusCode: response.statusCode ?? 0,
              headers: response.headers,
              text,
              json,
            });
          });
        },
      );
      request.on('error', reject);
      request.end(payload);
    });

  return {
    service,
    dataDir,
    logs,
    client: { ca, cert, key },
    call,
    async stop() {
      await service.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

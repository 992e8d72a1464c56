// The service as an operator runs it (`node src/cli/serve.ts`), started on free loopback ports
// with a fresh data directory, and a mutual-TLS client for its API.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { developmentPkiPaths, type DevelopmentPkiPaths } from '../../../src/pki/development-pki.js';
import { findFreePort, spawnWithHostsFile, stopProcess, waitUntilReady } from './processes.js';

const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));
const serveEntryPoint = path.join(repositoryRoot, 'src', 'cli', 'serve.ts');

export interface ServiceResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface TestService {
  dataDir: string;
  /** `https://127.0.0.1:<port>` */
  apiUrl: string;
  /** `http://127.0.0.1:<port>` */
  opsUrl: string;
  /** The development PKI the service wrote on its first start. */
  pki: DevelopmentPkiPaths;
  process: ChildProcess;
  /** Calls the API over mutual TLS with the development client certificate. */
  request(method: string, requestPath: string, body?: unknown): Promise<ServiceResponse>;
  /** Everything the service wrote to stdout and stderr so far. */
  output(): string;
  /** Stops the service; removes the data directory unless it was passed in. */
  stop(): Promise<void>;
}

export interface StartServiceOptions {
  /** Overrides on top of the MEF_* settings chosen here. */
  env?: NodeJS.ProcessEnv;
  /** Run the service where this hosts file is /etc/hosts (see spawnWithHostsFile). */
  hostsFile?: string;
  /** Reuse a data directory, e.g. to restart a service; it is then left in place by stop(). */
  dataDir?: string;
}

/** The caller's environment without MEF_* settings, so only what a test sets applies. */
function serviceEnvironment(settings: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('MEF_')) env[name] = value;
  }
  return { ...env, ...settings };
}

function isReady(opsUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = httpGet(`${opsUrl}/readyz`, { timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    probe.on('error', () => resolve(false));
    probe.on('timeout', () => probe.destroy());
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Starts `node --import tsx src/cli/serve.ts` on free loopback ports and waits for `/readyz`.
 *
 * @example
 * const service = await startService({ hostsFile: registry.hostsFile });
 * const response = await service.request('POST', '/edgemanager/v1/image/config', body);
 */
export async function startService(options: StartServiceOptions = {}): Promise<TestService> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'mef-e2e-service-')));
  const [apiPort, opsPort] = [await findFreePort(), await findFreePort()];
  const env = serviceEnvironment({
    MEF_DATA_DIR: dataDir,
    MEF_LISTEN: `127.0.0.1:${apiPort}`,
    MEF_OPS_LISTEN: `127.0.0.1:${opsPort}`,
    MEF_LOG_LEVEL: 'info',
    ...options.env,
  });
  const args = ['--import', 'tsx', serveEntryPoint];
  const child =
    options.hostsFile === undefined
      ? spawn(process.execPath, args, {
          env,
          cwd: repositoryRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawnWithHostsFile(options.hostsFile, process.execPath, args, {
          env,
          cwd: repositoryRoot,
        });

  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));

  const apiUrl = `https://127.0.0.1:${apiPort}`;
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  const removeDataDir = async () => {
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(
      'the service',
      child,
      () => isReady(opsUrl),
      () => output,
      60_000,
    );
  } catch (error) {
    await stopProcess(child);
    await removeDataDir();
    throw error;
  }

  const pki = developmentPkiPaths(dataDir);
  const [ca, cert, key] = await Promise.all(
    [pki.caCert, pki.clientCert, pki.clientKey].map((file) => readFile(file)),
  );

  const request = (method: string, requestPath: string, body?: unknown) =>
    new Promise<ServiceResponse>((resolve, reject) => {
      const payload =
        body === undefined
          ? undefined
          : Buffer.isBuffer(body) || typeof body === 'string'
            ? Buffer.from(body)
            : Buffer.from(JSON.stringify(body));
      const call = httpsRequest(
        `${apiUrl}${requestPath}`,
        {
          method,
          ca,
          cert,
          key,
          headers:
            payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': payload.length },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              text,
              json: parseJson(text),
            }),
          );
          response.on('error', reject);
        },
      );
      call.on('error', reject);
      call.end(payload);
    });

  return {
    dataDir,
    apiUrl,
    opsUrl,
    pki,
    process: child,
    request,
    output: () => output,
    stop: async () => {
      await stopProcess(child);
      await removeDataDir();
    },
  };
}

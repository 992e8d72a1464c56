// The operator's HTTPS client for the service's API: mutual TLS, one call, one JSON envelope.

import { readFile } from 'node:fs/promises';
import https from 'node:https';
import tls from 'node:tls';
import type { ClientRequest } from 'node:http';
import { StatusCode } from '../domain/status.js';

/** Where the client's certificate, key and trusted CA are read from. */
export interface ClientTlsFiles {
  cert: string;
  key: string;
  cacert: string;
}

export interface ApiClientOptions {
  /** The service's base address, e.g. `https://localhost:30035`. */
  server: URL;
  tls: ClientTlsFiles;
  timeoutMs: number;
}

/** The JSON envelope every answer of the API travels in. */
export interface ApiEnvelope {
  status: string;
  msg: string;
  warnings?: string[];
  data?: unknown;
}

/** What one call achieved: the HTTP status and the envelope of the answer. */
export interface ApiAnswer {
  httpStatus: number;
  envelope: ApiEnvelope;
}

/**
 * No answer came: the TLS files could not be read, the connection or the TLS handshake failed,
 * or the time ran out. After a timeout the service may still have applied the call.
 */
export class ServiceUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceUnreachableError';
  }
}

/** The service answered, but with something other than a JSON envelope. */
export class UnexpectedAnswerError extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
    this.name = 'UnexpectedAnswerError';
  }
}

/** Answers are small envelopes; anything far larger is not this service. */
const maxAnswerBytes = 1024 * 1024;

/** True when the envelope reports success. */
export function isSuccess(envelope: ApiEnvelope): boolean {
  return envelope.status === StatusCode.success;
}

async function readTlsFile(role: string, option: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ServiceUnreachableError(
      `cannot read the ${role} ${file} (${code}); pass ${option}, or start the service once ` +
        'to create the development PKI in its data directory',
    );
  }
}

/** The client certificate, key and CA were read, but TLS cannot be set up with them. */
function unusableTlsFiles(files: ClientTlsFiles, error: unknown): ServiceUnreachableError {
  const reason = (error as Error).message || errorCode(error);
  const message =
    errorCode(error) === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
      ? `the client key ${files.key} does not belong to the client certificate ` +
        `${files.cert} (${reason}); check --key and --cert`
      : `cannot set up TLS with the client key ${files.key}, the client certificate ` +
        `${files.cert} and the CA certificate ${files.cacert} (${reason}); ` +
        'check --key, --cert and --cacert';
  return new ServiceUnreachableError(message, { cause: error });
}

function errorCode(error: unknown): string {
  const { code, errors } = error as { code?: unknown; errors?: unknown };
  if (typeof code === 'string') return code;
  // Connecting to several addresses in turn fails with an AggregateError of the attempts.
  if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0]);
  return 'UNKNOWN';
}

function describeFailure(server: URL, error: unknown): string {
  const code = errorCode(error);
  const reason = (error as Error).message || code;
  const where = `cannot reach ${server.origin}: ${reason}`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/.test(code)) {
    return `${where} (${code}); check --cacert and the host name in --server`;
  }
  if (code.startsWith('ERR_SSL') || code === 'EPROTO' || code === 'ECONNRESET') {
    // A server that refuses the client certificate closes the connection during or right
    // after the handshake, so this is the usual sign of a wrong --cert or --key.
    return `${where} (${code}); check --cert and --key, and that --server speaks HTTPS`;
  }
  return `${where} (${code})`;
}

function parseEnvelope(httpStatus: number, body: Buffer): ApiEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const candidate = parsed as Partial<ApiEnvelope> | undefined;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.status !== 'string' ||
    typeof candidate.msg !== 'string'
  ) {
    throw new UnexpectedAnswerError(
      httpStatus,
      `the service answered HTTP ${httpStatus} without a JSON envelope; check --server`,
    );
  }
  const warnings = Array.isArray(candidate.warnings)
    ? candidate.warnings.filter((item): item is string => typeof item === 'string')
    : undefined;
  return { status: candidate.status, msg: candidate.msg, warnings, data: candidate.data };
}

/**
 * Calls the API over mutual TLS. Rejects with {@link ServiceUnreachableError} when no answer
 * came, and with {@link UnexpectedAnswerError} when the answer is not an envelope.
 *
 * @example
 * const client = new ApiClient({ server: new URL('https://localhost:30035'), tls, timeoutMs });
 * const { envelope } = await client.call('GET', '/edgemanager/v1/image/config');
 */
export class ApiClient {
  private agent: Promise<https.Agent> | undefined;

  constructor(private readonly options: ApiClientOptions) {}

  /**
   * Reads the certificate files now, so that a missing file is reported before the operator
   * is asked for anything. {@link ApiClient.call} does it on first use otherwise.
   */
  async prepare(): Promise<void> {
    await this.tlsAgent();
  }

  private tlsAgent(): Promise<https.Agent> {
    this.agent ??= (async () => {
      const { cert, key, cacert } = this.options.tls;
      const [certificate, privateKey, ca] = await Promise.all([
        readTlsFile('client certificate', '--cert', cert),
        readTlsFile('client key', '--key', key),
        readTlsFile('CA certificate', '--cacert', cacert),
      ]);
      try {
        // Built once here so that a key that does not fit the certificate is reported before
        // the operator is asked for anything, not from inside the request.
        tls.createSecureContext({ cert: certificate, key: privateKey, ca });
      } catch (error) {
        throw unusableTlsFiles(this.options.tls, error);
      }
      return new https.Agent({ cert: certificate, key: privateKey, ca, keepAlive: false });
    })();
    return this.agent;
  }

  /**
   * Sends one request. A `body` is sent as `application/json`; the caller owns it and may zero
   * it once this settles.
   */
  async call(method: 'GET' | 'POST', path: string, body?: Buffer): Promise<ApiAnswer> {
    const agent = await this.tlsAgent();
    const { server, timeoutMs } = this.options;
    const url = new URL(path, server);

    return new Promise((resolve, reject) => {
      let settled = false;
      let request: ClientRequest | undefined;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request?.destroy();
        reject(error);
      };
      const timer = setTimeout(() => {
        const limit = `${timeoutMs / 1000} s`;
        const advice = 'check --server, or raise --timeout';
        fail(
          new ServiceUnreachableError(`no answer from ${server.origin} within ${limit}; ${advice}`),
        );
      }, timeoutMs);

      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = body.length;
      }
      try {
        request = https.request(url, { method, agent, headers }, (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxAnswerBytes) {
              fail(new UnexpectedAnswerError(response.statusCode ?? 0, 'the answer is too large'));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            const httpStatus = response.statusCode ?? 0;
            try {
              resolve({ httpStatus, envelope: parseEnvelope(httpStatus, Buffer.concat(chunks)) });
            } catch (error) {
              reject(error as Error);
            }
          });
          response.on('error', (error) =>
            fail(new ServiceUnreachableError(describeFailure(server, error), { cause: error })),
          );
        });
      } catch (error) {
        // https.request builds the TLS context at once and throws when it cannot.
        fail(unusableTlsFiles(this.options.tls, error));
        return;
      }
      request.on('error', (error) =>
        fail(new ServiceUnreachableError(describeFailure(server, error), { cause: error })),
      );
      request.end(body);
    });
  }
}

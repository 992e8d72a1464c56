// One HTTPS GET of the verifier, with every failure turned into the step it belongs to.

import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { VerificationStepError } from './verification-result.js';

/** What every request of one verification shares. */
export interface RequestContext {
  /** Carries the trusted CAs; one per verification so no connection outlives it. */
  agent: https.Agent;
  /** Aborted when the verification's total time is up. */
  signal: AbortSignal;
  timeoutMs: number;
  lookup?: LookupFunction;
}

export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every header's values kept apart, so repeated WWW-Authenticate headers stay whole. */
  headersDistinct: NodeJS.Dict<string[]>;
  body: Buffer;
}

/** Token answers are a few kilobytes; anything far larger is not a token service. */
const maxBodyBytes = 1024 * 1024;

const nameResolutionCodes = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_NONAME',
  'ENODATA',
]);

/** What an untrusted certificate means, by OpenSSL's verification code. */
const certificateProblems: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is not signed by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'chains to a CA that is not trusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed and not trusted',
  CERT_UNTRUSTED: 'is not trusted',
  CERT_REJECTED: 'is rejected',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet',
  CERT_SIGNATURE_FAILURE: 'has a signature that does not verify',
  CERT_CHAIN_TOO_LONG: 'has too long a chain',
  INVALID_CA: 'chains to a certificate that is not a CA',
  INVALID_PURPOSE: 'is not meant for a TLS server',
  PATH_LENGTH_EXCEEDED: 'has too long a chain',
  ERR_TLS_CERT_ALTNAME_INVALID: 'does not name this host',
};

function errorCode(error: unknown): string {
  const { code, errors } = error as { code?: unknown; errors?: unknown };
  if (typeof code === 'string') return code;
  // Connecting to several addresses in turn fails with an AggregateError of the attempts.
  if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0]);
  return 'UNKNOWN';
}

/** Maps a Node.js network or TLS error to the step it failed and a message safe to show. */
function classifyRequestError(error: unknown, host: string): VerificationStepError {
  const code = errorCode(error);
  if (nameResolutionCodes.has(code)) {
    return new VerificationStepError(
      'name-resolution',
      host,
      `${host}: the name does not resolve (${code}); check the domain and the DNS and hosts ` +
        'file of the service',
    );
  }

  const problem = certificateProblems[code];
  if (problem !== undefined) {
    const advice =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? 'the certificate must list the registry domain or ip'
        : "import the CA that issued the registry's certificate";
    return new VerificationStepError(
      'tls',
      host,
      `${host}: the TLS certificate ${problem} (${code}); ${advice}`,
    );
  }
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new VerificationStepError(
      'tls',
      host,
      `${host}: the TLS handshake failed (${code}); check that the port serves HTTPS`,
    );
  }

  const connectionProblems: Record<string, string> = {
    ECONNREFUSED: 'refused the connection; nothing listens on that port',
    ECONNRESET: 'closed the connection',
    EHOSTUNREACH: 'is unreachable',
    ENETUNREACH: 'is on an unreachable network',
    ETIMEDOUT: 'did not accept the connection in time',
  };
  const connectionProblem = connectionProblems[code] ?? 'could not be connected to';
  return new VerificationStepError('connection', host, `${host} ${connectionProblem} (${code})`);
}

/**
 * GETs `url` with `headers` and reads the whole answer. Redirects are not followed, so
 * credentials go only where the caller sends them. Rejects with a {@link VerificationStepError}.
 */
export function httpsGet(
  url: URL,
  headers: Record<string, string>,
  context: RequestContext,
): Promise<HttpsAnswer> {
  const host = url.host;
  const { signal } = context;
  const timedOut = () =>
    new VerificationStepError(
      'timeout',
      host,
      `${host}: no answer within the verification's ${context.timeoutMs} ms`,
    );
  if (signal.aborted) return Promise.reject(timedOut());

  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      finish();
    };
    const fail = (error: VerificationStepError) => {
      settle(() => reject(error));
      request.destroy();
    };
    const onAbort = () => fail(timedOut());

    const request = https.request(
      url,
      { method: 'GET', agent: context.agent, headers, lookup: context.lookup },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) {
            fail(
              new VerificationStepError(
                'http-status',
                host,
                `${host}: the answer is larger than ${maxBodyBytes} bytes`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () =>
          settle(() =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              headersDistinct: response.headersDistinct,
              body: Buffer.concat(chunks),
            }),
          ),
        );
        response.on('error', (error) => fail(classifyRequestError(error, host)));
        response.on('close', () => {
          if (!response.complete) {
            fail(
              new VerificationStepError(
                'connection',
                host,
                `${host} closed the connection before the answer was complete`,
              ),
            );
          }
        });
      },
    );
    request.on('error', (error) => fail(classifyRequestError(error, host)));
    signal.addEventListener('abort', onAbort, { once: true });
    request.end();
  });
}

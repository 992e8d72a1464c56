// Checks registry credentials against the registry itself, before they are saved: the
// Docker Registry HTTP API V2 ping (`GET /v2/`) answered with Basic auth or a Bearer token.
//
// Safe use: the password leaves this module only as an Authorization header over verified
// TLS, and no result, message or error ever carries it. The caller owns the password Buffer
// and wipes it. Known shortcoming: node:https takes header values as strings, so the Basic
// and Bearer tokens live as immutable strings until garbage-collected; zeroing them would
// need a client that writes headers from Buffers.

import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { RegistryCredentials } from '../domain/registry-credentials.js';
import { type HostResolver, toLookupFunction } from './host-resolver.js';
import { type HttpsAnswer, httpsGet, type RequestContext } from './https-get.js';
import {
  type VerificationResult,
  VerificationStepError,
  type VerificationSuccess,
} from './verification-result.js';
import { type AuthChallenge, parseWwwAuthenticate } from './www-authenticate.js';

export {
  type RegistryAuthScheme,
  type VerificationFailure,
  type VerificationResult,
  type VerificationStep,
  type VerificationSuccess,
  verificationSteps,
} from './verification-result.js';
export { type HostResolver, pinnedHostResolver, systemResolver } from './host-resolver.js';

/** The bound over all the steps of one verification, unless the caller gives another. */
export const defaultVerificationTimeoutMs = 5000;

export interface VerifyRegistryOptions {
  /** A PEM CA (or bundle) trusted besides the system store: the imported registry CA. */
  extraCaPem?: string;
  /** The bound over all steps together, in milliseconds. */
  timeoutMs?: number;
  /** How host names resolve; the OS resolver when absent. */
  resolve?: HostResolver;
}

const userAgent = 'mef-image-config-registry-verifier';

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function isCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** The system store plus the extra CA; undefined when the extra CA holds no certificate. */
function trustedCertificates(extraCaPem: string | undefined): string[] | undefined {
  if (extraCaPem === undefined) return [...rootCertificates];
  const blocks = extraCaPem.match(pemCertificate) ?? [];
  if (blocks.length === 0 || !blocks.every(isCertificate)) return undefined;
  return [...rootCertificates, ...blocks];
}

/**
 * Building a TLS context from the whole system store costs tens of milliseconds of CPU, so the
 * context for the current extra CA is kept and rebuilt only when that CA changes.
 */
let cachedTrust: { extraCaPem: string | undefined; context: SecureContext } | undefined;

function trustContext(extraCaPem: string | undefined): SecureContext | undefined {
  if (cachedTrust !== undefined && cachedTrust.extraCaPem === extraCaPem) {
    return cachedTrust.context;
  }
  const ca = trustedCertificates(extraCaPem);
  if (ca === undefined) return undefined;
  cachedTrust = { extraCaPem, context: createSecureContext({ ca }) };
  return cachedTrust.context;
}

function registryPingUrl(credentials: RegistryCredentials): URL {
  const host = credentials.host.includes(':') ? `[${credentials.host}]` : credentials.host;
  return new URL(`https://${host}:${credentials.port}/v2/`);
}

/** A status the flow did not expect, with a hint for the common ones. */
function unexpectedStatus(url: URL, answer: HttpsAnswer, what: string): VerificationStepError {
  const { status } = answer;
  let hint = '';
  if (status === 404) hint = '; this is not a Docker Registry HTTP API V2 endpoint';
  else if (status >= 300 && status < 400) hint = '; redirects are not followed';
  else if (status >= 500) hint = '; the server failed';
  return new VerificationStepError(
    'http-status',
    url.host,
    `${url.host} answered ${what} with HTTP ${status}${hint}`,
  );
}

/** `application/json`, or a neutral phrase when the server sent something odd. */
function contentTypeOf(answer: HttpsAnswer): string {
  const mediaType = answer.headers['content-type']?.split(';')[0]?.trim() ?? '';
  return /^[\w.+-]+\/[\w.+-]+$/.test(mediaType) ? mediaType : 'no recognisable content type';
}

/** Reads `token` or `access_token` (RFC 6749's name) from the token service's JSON answer. */
function readToken(realm: URL, answer: HttpsAnswer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    throw new VerificationStepError(
      'http-status',
      realm.host,
      `the token service at ${realm.host} answered with ${contentTypeOf(answer)}, ` +
        'not a JSON token',
    );
  } finally {
    answer.body.fill(0);
  }
  const { token, access_token: accessToken } = (parsed ?? {}) as Record<string, unknown>;
  for (const candidate of [token, accessToken]) {
    if (typeof candidate === 'string' && candidate !== '') return candidate;
  }
  throw new VerificationStepError(
    'http-status',
    realm.host,
    `the token service at ${realm.host} answered JSON without a "token" or "access_token"`,
  );
}

/** Where to ask for a token, refusing any realm that would carry the password in clear. */
function tokenRealm(challenge: AuthChallenge, registry: URL): URL {
  const realm = challenge.params.realm ?? '';
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new VerificationStepError(
      'http-status',
      registry.host,
      `${registry.host} sent a Bearer challenge whose realm is not an absolute URL`,
    );
  }
  if (url.protocol === 'http:') {
    throw new VerificationStepError(
      'tls',
      url.host,
      `the token realm http://${url.host}${url.pathname} is plain HTTP; the password is ` +
        'only sent over TLS, so it was not sent',
    );
  }
  if (url.protocol !== 'https:') {
    throw new VerificationStepError(
      'http-status',
      registry.host,
      `${registry.host} sent a Bearer challenge whose realm is not an https URL`,
    );
  }
  for (const name of ['service', 'scope']) {
    const value = challenge.params[name];
    if (value !== undefined) url.searchParams.append(name, value);
  }
  return url;
}

function verified(scheme: 'basic' | 'bearer'): VerificationSuccess {
  return { ok: true, open: false, scheme };
}

async function verifyWithBasic(
  credentials: RegistryCredentials,
  registry: URL,
  context: RequestContext,
): Promise<VerificationSuccess> {
  const answer = await httpsGet(
    registry,
    { 'user-agent': userAgent, authorization: `Basic ${credentials.basicAuthToken()}` },
    context,
  );
  if (answer.status === 200) return verified('basic');
  if (answer.status === 401) {
    throw new VerificationStepError(
      'authentication',
      registry.host,
      `${registry.host} refused account "${credentials.account}" with the given password`,
    );
  }
  throw unexpectedStatus(registry, answer, 'GET /v2/ with Basic auth');
}

async function verifyWithBearer(
  credentials: RegistryCredentials,
  registry: URL,
  challenge: AuthChallenge,
  context: RequestContext,
): Promise<VerificationSuccess> {
  const realm = tokenRealm(challenge, registry);
  // Docker clients name the account too; some token services need it to pick the user store.
  realm.searchParams.append('account', credentials.account);
  const tokenAnswer = await httpsGet(
    realm,
    {
      'user-agent': userAgent,
      accept: 'application/json',
      authorization: `Basic ${credentials.basicAuthToken()}`,
    },
    context,
  );
  if (tokenAnswer.status === 401) {
    throw new VerificationStepError(
      'authentication',
      realm.host,
      `the token service at ${realm.host} refused account "${credentials.account}" with the ` +
        'given password',
    );
  }
  if (tokenAnswer.status !== 200) {
    throw unexpectedStatus(realm, tokenAnswer, 'the token request');
  }
  const token = readToken(realm, tokenAnswer);

  const answer = await httpsGet(
    registry,
    { 'user-agent': userAgent, authorization: `Bearer ${token}` },
    context,
  );
  if (answer.status === 200) return verified('bearer');
  if (answer.status === 401) {
    throw new VerificationStepError(
      'authentication',
      registry.host,
      `${registry.host} refused the token that ${realm.host} issued to account ` +
        `"${credentials.account}"`,
    );
  }
  throw unexpectedStatus(registry, answer, 'GET /v2/ with a Bearer token');
}

async function runVerification(
  credentials: RegistryCredentials,
  registry: URL,
  context: RequestContext,
): Promise<VerificationSuccess> {
  const ping = await httpsGet(registry, { 'user-agent': userAgent }, context);
  if (ping.status === 200) {
    const announced = ping.headers['docker-distribution-api-version'] !== undefined;
    const note =
      `${registry.host} answers GET /v2/ without credentials: the registry is open, so the ` +
      'credentials were not checked' +
      (announced ? '' : '; it does not announce Docker-Distribution-API-Version either');
    return { ok: true, open: true, scheme: 'none', note };
  }
  if (ping.status !== 401) throw unexpectedStatus(registry, ping, 'GET /v2/');

  const challenges = parseWwwAuthenticate(ping.headersDistinct['www-authenticate']);
  const bearer = challenges.find((challenge) => challenge.scheme === 'bearer');
  if (bearer !== undefined) return verifyWithBearer(credentials, registry, bearer, context);
  if (challenges.some((challenge) => challenge.scheme === 'basic')) {
    return verifyWithBasic(credentials, registry, context);
  }
  throw new VerificationStepError(
    'http-status',
    registry.host,
    `${registry.host} answered GET /v2/ with HTTP 401 but no Basic or Bearer challenge`,
  );
}

/**
 * Checks `credentials` against the registry at `credentials.host:credentials.port` over HTTPS,
 * within `timeoutMs` for all steps together. Resolves with the outcome, never rejects for a
 * network, TLS or HTTP failure; the caller keeps ownership of the password and wipes it.
 *
 * @example
 * const result = await verifyRegistry(credentials, { extraCaPem: importedCa });
 * if (!result.ok) console.log(`${result.step} failed on ${result.host}: ${result.message}`);
 */
export async function verifyRegistry(
  credentials: RegistryCredentials,
  options: VerifyRegistryOptions = {},
): Promise<VerificationResult> {
  const timeoutMs = options.timeoutMs ?? defaultVerificationTimeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError('timeoutMs: must be a positive number of milliseconds');
  }
  const registry = registryPingUrl(credentials);
  const secureContext = trustContext(options.extraCaPem);
  if (secureContext === undefined) {
    return {
      ok: false,
      step: 'tls',
      host: registry.host,
      message: 'the registry CA given for verification holds no valid PEM certificate',
    };
  }

  const agent = new https.Agent({ secureContext, keepAlive: false });
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const context: RequestContext = { agent, signal: deadline.signal, timeoutMs };
  if (options.resolve !== undefined) context.lookup = toLookupFunction(options.resolve);
  try {
    return await runVerification(credentials, registry, context);
  } catch (error) {
    if (error instanceof VerificationStepError) return error.toResult();
    throw error;
  } finally {
    clearTimeout(timer);
    agent.destroy();
  }
}

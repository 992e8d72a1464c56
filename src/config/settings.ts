// Service settings: read from the environment and checked once, at start-up.

import path from 'node:path';
import { isDottedQuad } from '../domain/rules.js';
import {
  parseVerificationMode,
  verificationModeRule,
  type VerificationMode,
} from '../domain/verification-mode.js';
import { defaultVerificationTimeoutMs } from '../verify/registry-verifier.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Settings {
  listen: ListenAddress;
  opsListen: ListenAddress;
  dataDir: string;
  tls: {
    certFile?: string;
    keyFile?: string;
    clientCaFile?: string;
    /** Revoked client certificates (PEM CRL of the client CA); none when unset. */
    crlFile?: string;
  };
  /** Edge host addresses that may never be configured as the registry `ip`. */
  edgeHostIps: string[];
  logLevel: string;
  store: StoreSettings;
  verification: VerificationSettings;
  limits: LimitSettings;
  /** Refuse, rather than warn about, a password the API document advises against. */
  requireStrongPassword: boolean;
}

/** Bounds on what one client may ask of the API listener, and on how long a stop may take. */
export interface LimitSettings {
  /** Requests per second per client IP; undefined when MEF_RATE_LIMIT is `off`. */
  ratePerSecond: number | undefined;
  /** Requests a client may send back to back before the rate applies. */
  burst: number;
  maxConnectionsPerIp: number;
  /** The TLS handshake, and then the head of each request, must arrive within this. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number;
  /** How long a stop waits for calls in flight before it closes their connections. */
  shutdownTimeoutMs: number;
}

/** Whether and how registry credentials are checked against the registry before saving. */
export interface VerificationSettings {
  /** The default of each call; `?verify=` overrides it per call. */
  mode: VerificationMode;
  /** The bound over all the steps of one verification. */
  timeoutMs: number;
}

/** Where the configuration lives: the embedded SQLite store or a Kubernetes Secret. */
export interface StoreSettings {
  kind: 'sqlite' | 'kubernetes';
  /** Kubernetes mode: the namespace of the image-pull Secret. */
  namespace: string;
  secretName: string;
  /** Kubernetes mode: also list the Secret in the namespace's `default` ServiceAccount. */
  patchDefaultServiceAccount: boolean;
  /** Kubernetes mode: the bound on every request to the API server. */
  timeoutMs: number;
}

/** The documented default of every setting, written once for the code and the README. */
export const settingDefaults = {
  MEF_LISTEN: '0.0.0.0:30035',
  MEF_OPS_LISTEN: '127.0.0.1:30036',
  MEF_DATA_DIR: './data',
  MEF_LOG_LEVEL: 'info',
  /** `auto`: kubernetes when KUBERNETES_SERVICE_HOST or KUBECONFIG is set, else sqlite. */
  MEF_STORE: 'auto',
  MEF_NAMESPACE: 'mef-user',
  MEF_SECRET_NAME: 'image-pull-secret',
  MEF_PATCH_DEFAULT_SA: 'false',
  MEF_KUBERNETES_TIMEOUT_MS: '5000',
  MEF_VERIFY_REGISTRY: 'warn',
  MEF_VERIFY_TIMEOUT_MS: String(defaultVerificationTimeoutMs),
  /** Requests per second per client IP, or `off`. */
  MEF_RATE_LIMIT: '10',
  MEF_RATE_BURST: '5',
  MEF_MAX_CONNECTIONS_PER_IP: '5',
  MEF_HEADERS_TIMEOUT_MS: '10000',
  MEF_REQUEST_TIMEOUT_MS: '30000',
  MEF_SHUTDOWN_TIMEOUT_MS: '10000',
  MEF_REQUIRE_STRONG_PASSWORD: 'false',
} as const;

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A setting that stops start-up; the message names the variable and the rule. */
export class SettingsError extends Error {
  constructor(variable: string, rule: string) {
    super(`${variable}: ${rule}`);
    this.name = 'SettingsError';
  }
}

type Environment = Record<string, string | undefined>;

function read(env: Environment, name: keyof typeof settingDefaults): string {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? settingDefaults[name] : value;
}

function optional(env: Environment, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Parses `host:port`, `[v6]:port` or `:port` (all interfaces). */
export function parseListenAddress(variable: string, value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SettingsError(
      variable,
      `must be host:port with a port from 0 to 65535, got "${value}"`,
    );
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

function parseEdgeHostIps(value: string | undefined): string[] {
  if (value === undefined) return [];
  const addresses = value.split(/[\s,]+/).filter((item) => item !== '');
  const bad = addresses.find((address) => !isDottedQuad(address));
  if (bad !== undefined) {
    throw new SettingsError('MEF_EDGE_HOST_IPS', `"${bad}" is not a dotted-quad IPv4 address`);
  }
  return addresses;
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A namespace name: a DNS-1123 label. */
function namespaceRule(value: string): string | undefined {
  if (value.length > 63 || !dns1123Label.test(value)) {
    return (
      'must be a DNS-1123 label: at most 63 lowercase letters, digits and "-", ' +
      'starting and ending with a letter or a digit'
    );
  }
  return undefined;
}

/** A Secret name: a DNS-1123 subdomain. */
function secretNameRule(value: string): string | undefined {
  if (value.length > 253 || !value.split('.').every((label) => dns1123Label.test(label))) {
    return (
      'must be a DNS-1123 subdomain: at most 253 characters, dot-separated labels of ' +
      'lowercase letters, digits and "-", each starting and ending with a letter or a digit'
    );
  }
  return undefined;
}

function parseStoreSettings(env: Environment): StoreSettings {
  const requested = read(env, 'MEF_STORE');
  if (!['auto', 'sqlite', 'kubernetes'].includes(requested)) {
    throw new SettingsError('MEF_STORE', `must be auto, sqlite or kubernetes, got "${requested}"`);
  }
  // In a pod, or with a kubeconfig at hand, the cluster is the obvious home of the Secret.
  const clusterAtHand = ['KUBERNETES_SERVICE_HOST', 'KUBECONFIG'].some(
    (name) => optional(env, name) !== undefined,
  );
  const detected = clusterAtHand ? 'kubernetes' : 'sqlite';
  const kind = requested === 'auto' ? detected : (requested as StoreSettings['kind']);

  const namespace = read(env, 'MEF_NAMESPACE');
  const namespaceBroken = namespaceRule(namespace);
  if (namespaceBroken !== undefined) throw new SettingsError('MEF_NAMESPACE', namespaceBroken);
  const secretName = read(env, 'MEF_SECRET_NAME');
  const secretNameBroken = secretNameRule(secretName);
  if (secretNameBroken !== undefined) {
    throw new SettingsError('MEF_SECRET_NAME', secretNameBroken);
  }

  return {
    kind,
    namespace,
    secretName,
    patchDefaultServiceAccount: trueOrFalse(env, 'MEF_PATCH_DEFAULT_SA'),
    timeoutMs: wholeNumber(env, 'MEF_KUBERNETES_TIMEOUT_MS'),
  };
}

function parseVerificationSettings(env: Environment): VerificationSettings {
  const requested = read(env, 'MEF_VERIFY_REGISTRY');
  const mode = parseVerificationMode(requested);
  if (mode === undefined) {
    throw new SettingsError('MEF_VERIFY_REGISTRY', `${verificationModeRule}, got "${requested}"`);
  }
  const timeoutMs = wholeNumber(env, 'MEF_VERIFY_TIMEOUT_MS');
  return { mode, timeoutMs };
}

type SettingName = keyof typeof settingDefaults;

/** The settings that take a whole number: the unit and the range of each. */
const wholeNumberRanges = {
  MEF_RATE_BURST: ['requests', 1, 100_000],
  MEF_MAX_CONNECTIONS_PER_IP: ['connections', 1, 100_000],
  MEF_HEADERS_TIMEOUT_MS: ['milliseconds', 100, 600_000],
  MEF_REQUEST_TIMEOUT_MS: ['milliseconds', 100, 3_600_000],
  MEF_SHUTDOWN_TIMEOUT_MS: ['milliseconds', 0, 3_600_000],
  MEF_KUBERNETES_TIMEOUT_MS: ['milliseconds', 100, 300_000],
  MEF_VERIFY_TIMEOUT_MS: ['milliseconds', 100, 120_000],
} as const;

function wholeNumber(env: Environment, name: keyof typeof wholeNumberRanges): number {
  const [unit, min, max] = wholeNumberRanges[name];
  const value = read(env, name);
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new SettingsError(
      name,
      `must be a whole number of ${unit} from ${min} to ${max}, got "${value}"`,
    );
  }
  return number;
}

function trueOrFalse(env: Environment, name: SettingName): boolean {
  const value = read(env, name);
  if (value !== 'true' && value !== 'false') {
    throw new SettingsError(name, `must be true or false, got "${value}"`);
  }
  return value === 'true';
}

function parseLimitSettings(env: Environment): LimitSettings {
  const rate = read(env, 'MEF_RATE_LIMIT');
  const ratePerSecond = rate === 'off' ? undefined : Number(rate);
  if (ratePerSecond !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(rate) || ratePerSecond <= 0 || ratePerSecond > 100_000) {
      throw new SettingsError(
        'MEF_RATE_LIMIT',
        `must be off or a number of requests per second above 0 and up to 100000, got "${rate}"`,
      );
    }
  }
  const headersTimeoutMs = wholeNumber(env, 'MEF_HEADERS_TIMEOUT_MS');
  const requestTimeoutMs = wholeNumber(env, 'MEF_REQUEST_TIMEOUT_MS');
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new SettingsError(
      'MEF_REQUEST_TIMEOUT_MS',
      `must not be shorter than MEF_HEADERS_TIMEOUT_MS (${headersTimeoutMs})`,
    );
  }
  return {
    ratePerSecond,
    burst: wholeNumber(env, 'MEF_RATE_BURST'),
    maxConnectionsPerIp: wholeNumber(env, 'MEF_MAX_CONNECTIONS_PER_IP'),
    headersTimeoutMs,
    requestTimeoutMs,
    shutdownTimeoutMs: wholeNumber(env, 'MEF_SHUTDOWN_TIMEOUT_MS'),
  };
}

/**
 * Reads every setting from `env`, applying the documented defaults.
 *
 * @example const settings = loadSettings(process.env);
 */
export function loadSettings(env: Environment): Settings {
  const logLevel = read(env, 'MEF_LOG_LEVEL');
  if (!logLevels.includes(logLevel)) {
    throw new SettingsError('MEF_LOG_LEVEL', `must be one of ${logLevels.join(', ')}`);
  }
  const tls = {
    certFile: optional(env, 'MEF_TLS_CERT'),
    keyFile: optional(env, 'MEF_TLS_KEY'),
    clientCaFile: optional(env, 'MEF_TLS_CLIENT_CA'),
  };
  const given = Object.values(tls).filter((file) => file !== undefined).length;
  if (given !== 0 && given !== 3) {
    throw new SettingsError(
      'MEF_TLS_CERT',
      'MEF_TLS_CERT, MEF_TLS_KEY and MEF_TLS_CLIENT_CA must be set together, or none of them',
    );
  }
  const listen = parseListenAddress('MEF_LISTEN', read(env, 'MEF_LISTEN'));
  const opsListen = parseListenAddress('MEF_OPS_LISTEN', read(env, 'MEF_OPS_LISTEN'));
  // Port 0 asks the system for a free port, so two of them never collide.
  if (listen.port !== 0 && listen.host === opsListen.host && listen.port === opsListen.port) {
    throw new SettingsError(
      'MEF_OPS_LISTEN',
      `must differ from MEF_LISTEN: both are ${listen.host}:${listen.port}`,
    );
  }
  return {
    listen,
    opsListen,
    dataDir: path.resolve(read(env, 'MEF_DATA_DIR')),
    tls: { ...tls, crlFile: optional(env, 'MEF_TLS_CRL') },
    edgeHostIps: parseEdgeHostIps(optional(env, 'MEF_EDGE_HOST_IPS')),
    logLevel,
    store: parseStoreSettings(env),
    verification: parseVerificationSettings(env),
    limits: parseLimitSettings(env),
    requireStrongPassword: trueOrFalse(env, 'MEF_REQUIRE_STRONG_PASSWORD'),
  };
}

// Service settings: read from the environment and checked once, at start-up.

import path from 'node:path';
import { isDottedQuad } from '../domain/rules.js';

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
  };
  /** Edge host addresses that may never be configured as the registry `ip`. */
  edgeHostIps: string[];
  logLevel: string;
}

/** The documented default of every setting, written once for the code and the README. */
export const settingDefaults = {
  MEF_LISTEN: '0.0.0.0:30035',
  MEF_OPS_LISTEN: '127.0.0.1:30036',
  MEF_DATA_DIR: './data',
  MEF_LOG_LEVEL: 'info',
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
  return {
    listen: parseListenAddress('MEF_LISTEN', read(env, 'MEF_LISTEN')),
    opsListen: parseListenAddress('MEF_OPS_LISTEN', read(env, 'MEF_OPS_LISTEN')),
    dataDir: path.resolve(read(env, 'MEF_DATA_DIR')),
    tls,
    edgeHostIps: parseEdgeHostIps(optional(env, 'MEF_EDGE_HOST_IPS')),
    logLevel,
  };
}

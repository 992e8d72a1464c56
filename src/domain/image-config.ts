// The image download configuration: decoding an untrusted request body the way MEF's Go
// decoder does, then applying the rules of every field.

import { decodeBase64, optionalString, pickFields, requireObject } from './go-json.js';
import {
  accountRule,
  domainRule,
  ipRule,
  passwordRule,
  passwordStrengthAdvice,
  portRule,
} from './rules.js';
import { ruleBroken, wrongShape } from './status.js';

/** The non-secret part of a configuration, as stored and read back. */
export interface ImageConfigFields {
  domain?: string;
  ip?: string;
  port: number;
  account: string;
}

/** A decoded request: every field has its JSON type, no rule has been checked yet. */
export interface ImageConfigRequest {
  domain?: string;
  ip?: string;
  port?: number;
  account?: string;
  password?: Buffer;
}

const fieldNames = ['domain', 'ip', 'port', 'account', 'password'] as const;

/** Turns a password given as a byte array or a base64 string into a Buffer. */
function decodePassword(value: unknown): Buffer {
  if (typeof value === 'string') {
    const bytes = decodeBase64(value);
    if (bytes === undefined) throw wrongShape('password', 'a string must be valid base64');
    return bytes;
  }
  if (!Array.isArray(value)) {
    throw wrongShape('password', 'must be an array of bytes or a base64 string');
  }
  const isByte = (item: unknown) =>
    Number.isInteger(item) && (item as number) >= 0 && (item as number) <= 255;
  if (!value.every(isByte)) {
    value.fill(0);
    throw wrongShape('password', 'every element must be an integer from 0 to 255');
  }
  const bytes = Buffer.from(value as number[]);
  value.fill(0);
  return bytes;
}

/**
 * Decodes a parsed JSON value into a typed request. Wrong JSON types fail with 00001006;
 * rules are left to {@link validateImageConfig}.
 *
 * @example decodeImageConfig({ Port: 443, account: 'a', password: 'UGFzc3dvcmQx' })
 */
export function decodeImageConfig(body: unknown): ImageConfigRequest {
  const fields = pickFields(requireObject(body), fieldNames);
  const request: ImageConfigRequest = {
    domain: optionalString('domain', fields.domain),
    ip: optionalString('ip', fields.ip),
    account: optionalString('account', fields.account),
  };
  if (fields.port !== undefined && fields.port !== null) {
    if (typeof fields.port !== 'number' || !Number.isInteger(fields.port)) {
      throw wrongShape('port', 'must be an integer');
    }
    request.port = fields.port;
  }
  if (fields.password !== undefined && fields.password !== null) {
    request.password = decodePassword(fields.password);
  }
  return request;
}

/** A request that passed every rule. */
export interface ValidImageConfig {
  fields: ImageConfigFields;
  password: Buffer;
  warnings: string[];
}

export interface ValidationOptions {
  /** Refuse a password the API document advises against, instead of warning about it. */
  requireStrongPassword?: boolean;
}

/**
 * Applies every rule to a decoded request. `forbiddenIps` holds the addresses of this host and
 * of the edge hosts. Fails with 00001005 naming the first field whose rule is broken. A weak
 * password is a warning, or a broken rule with `requireStrongPassword`.
 */
export function validateImageConfig(
  request: ImageConfigRequest,
  forbiddenIps: ReadonlySet<string>,
  options: ValidationOptions = {},
): ValidImageConfig {
  const { domain, ip, port, account, password } = request;
  if (domain === undefined && ip === undefined) {
    throw ruleBroken('domain', 'domain or ip is required');
  }
  const check = (field: string, rule: string | undefined) => {
    if (rule !== undefined) throw ruleBroken(field, rule);
  };
  if (domain !== undefined) check('domain', domainRule(domain));
  if (ip !== undefined) check('ip', ipRule(ip, forbiddenIps));
  if (port === undefined) throw ruleBroken('port', 'is required');
  check('port', portRule(port));
  if (account === undefined) throw ruleBroken('account', 'is required');
  check('account', accountRule(account));
  if (password === undefined) throw ruleBroken('password', 'is required');
  check('password', passwordRule(password));
  const advice = passwordStrengthAdvice(password, account);
  if (options.requireStrongPassword === true) check('password', advice);

  const warnings: string[] = [];
  if (advice !== undefined) warnings.push(`password: ${advice}`);
  if (domain !== undefined && !domain.includes('.')) {
    warnings.push(
      `domain "${domain}" has no dot: write images with the port (${domain}:${port}/app), ` +
        'or Docker clients send them to Docker Hub',
    );
  }
  return { fields: { domain, ip, port, account }, password, warnings };
}

/** The address clients pull from: `domain:port` when a domain is set, else `ip:port`. */
export function registryAddress(fields: ImageConfigFields): string {
  return `${fields.domain ?? fields.ip}:${fields.port}`;
}

// The image download configuration: decoding an untrusted request body the way MEF's Go
// decoder does, then applying the rules of every field.

import { accountRule, domainRule, ipRule, passwordRule, portRule } from './rules.js';
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
type FieldName = (typeof fieldNames)[number];

/**
 * Folds a key the way Go's encoding/json matches struct fields: case-insensitively, with the
 * long s (U+017F) equal to "s"; the Kelvin sign already lower-cases to "k".
 */
function foldKey(key: string): string {
  return key.toLowerCase().replace(/\u017f/g, 's');
}

/**
 * Picks the value of each field from a decoded JSON object. An exact-case key wins over a
 * differently-cased one; among differently-cased keys the last one wins, as in Go.
 */
function pickFields(body: Record<string, unknown>): Partial<Record<FieldName, unknown>> {
  const picked: Partial<Record<FieldName, unknown>> = {};
  for (const key of Object.keys(body)) {
    const field = fieldNames.find((name) => name === foldKey(key));
    if (field === undefined || (Object.hasOwn(body, field) && key !== field)) continue;
    picked[field] = body[key];
  }
  return picked;
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Turns a password given as a byte array or a base64 string into a Buffer. */
function decodePassword(value: unknown): Buffer {
  if (typeof value === 'string') {
    // Go's base64 decoder skips line breaks; anything else outside the alphabet is an error.
    const text = value.replace(/[\r\n]/g, '');
    if (!base64.test(text)) throw wrongShape('password', 'a string must be valid base64');
    return Buffer.from(text, 'base64');
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

function optionalString(field: FieldName, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw wrongShape(field, 'must be a string');
  return value;
}

/**
 * Decodes a parsed JSON value into a typed request. Wrong JSON types fail with 00001006;
 * rules are left to {@link validateImageConfig}.
 *
 * @example decodeImageConfig({ Port: 443, account: 'a', password: 'UGFzc3dvcmQx' })
 */
export function decodeImageConfig(body: unknown): ImageConfigRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw wrongShape('body', 'must be a JSON object');
  }
  const fields = pickFields(body as Record<string, unknown>);
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

/**
 * Applies every rule to a decoded request. `forbiddenIps` holds the addresses of this host and
 * of the edge hosts. Fails with 00001005 naming the first field whose rule is broken.
 */
export function validateImageConfig(
  request: ImageConfigRequest,
  forbiddenIps: ReadonlySet<string>,
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

  const warnings: string[] = [];
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

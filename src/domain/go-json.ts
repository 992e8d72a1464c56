// Reading untrusted JSON objects the way MEF's Go decoder (encoding/json) fills a struct, so that
// every endpoint accepts the same spellings of its keys as MEF Center does.

import { wrongShape } from './status.js';

/**
 * Folds a key the way Go's encoding/json matches struct fields: case-insensitively, with the
 * long s (U+017F) equal to "s"; the Kelvin sign already lower-cases to "k".
 */
export function foldKey(key: string): string {
  return key.toLowerCase().replace(/\u017f/g, 's');
}

/**
 * Picks the value of each field from a decoded JSON object. An exact-case key wins over a
 * differently-cased one; among differently-cased keys the last one wins, as in Go. Unknown keys
 * are ignored.
 *
 * @example pickFields({ CertName: 'image' }, ['certName', 'cert']) // { certName: 'image' }
 */
export function pickFields<Field extends string>(
  body: Record<string, unknown>,
  fieldNames: readonly Field[],
): Partial<Record<Field, unknown>> {
  const picked: Partial<Record<Field, unknown>> = {};
  for (const key of Object.keys(body)) {
    const field = fieldNames.find((name) => foldKey(name) === foldKey(key));
    if (field === undefined || (Object.hasOwn(body, field) && key !== field)) continue;
    picked[field] = body[key];
  }
  return picked;
}

/** The request body as an object, or a 00001006 failure when it is any other JSON value. */
export function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw wrongShape('body', 'must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** A string field; `null` and absence both mean absent, as for a Go string pointer. */
export function optionalString(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw wrongShape(field, 'must be a string');
  return value;
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard padded base64 as Go's decoder does: line breaks are skipped, anything else
 * outside the alphabet makes it invalid (undefined).
 *
 * @example decodeBase64('SGk=') // <Buffer 48 69>
 */
export function decodeBase64(value: string): Buffer | undefined {
  const text = value.replace(/[\r\n]/g, '');
  return base64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

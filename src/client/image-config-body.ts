// The JSON body of an image download configuration call, built so the password never becomes a
// JavaScript string: its bytes go straight from one Buffer into the body Buffer as digits.

import type { ImageConfigFields } from '../domain/image-config.js';

const ascii = { zero: 0x30, comma: 0x2c } as const;

/** How many decimal digits a byte value takes. */
function digitCount(byte: number): number {
  return byte >= 100 ? 3 : byte >= 10 ? 2 : 1;
}

/** Writes the decimal digits of `byte` at `offset`; returns the offset after them. */
function writeDigits(target: Buffer, offset: number, byte: number): number {
  let at = offset;
  if (byte >= 100) target[at++] = ascii.zero + Math.floor(byte / 100);
  if (byte >= 10) target[at++] = ascii.zero + (Math.floor(byte / 10) % 10);
  target[at++] = ascii.zero + (byte % 10);
  return at;
}

/**
 * Builds `{"domain", "ip", "port", "account", "password": [bytes]}` as UTF-8 JSON. The caller
 * zeroes the returned Buffer once it is sent, and `password` when it is no longer needed.
 *
 * @example
 * const body = imageConfigBody({ domain: 'registry.example.com', port: 443, account }, password);
 */
export function imageConfigBody(fields: ImageConfigFields, password: Buffer): Buffer {
  const { domain, ip, port, account } = fields;
  // JSON.stringify escapes the non-secret fields; only the closing brace is taken off.
  const head = Buffer.from(`${JSON.stringify({ domain, ip, port, account }).slice(0, -1)},`);
  const open = Buffer.from('"password":[');
  const close = Buffer.from(']}');

  let digits = Math.max(password.length - 1, 0);
  for (const byte of password) digits += digitCount(byte);

  const body = Buffer.alloc(head.length + open.length + digits + close.length);
  let offset = head.copy(body, 0);
  offset += open.copy(body, offset);
  password.forEach((byte, index) => {
    if (index > 0) body[offset++] = ascii.comma;
    offset = writeDigits(body, offset, byte);
  });
  close.copy(body, offset);
  return body;
}

// The validation rules of an image download configuration: one plain function per field.
//
// Each function returns the rule that failed, or undefined when the value is good. They are pure
// so the API and the edge tool apply exactly the same rules to `ip` and `domain`.

import { timingSafeEqual } from 'node:crypto';

export const limits = {
  domainMinLength: 3,
  domainMaxLength: 63,
  portMin: 1,
  portMax: 65535,
  accountMinLength: 1,
  accountMaxLength: 256,
  passwordMinBytes: 8,
  passwordMaxBytes: 20,
  /** `:` separates account and password in Basic auth, so a password cannot hold it. */
  passwordForbiddenByte: 58,
} as const;

/** Names that resolve to this host on every system, compared case-insensitively. */
const localhostNames = new Set([
  'localhost',
  'localhost.localdomain',
  'localhost6',
  'localhost6.localdomain6',
  'ip6-localhost',
  'ip6-loopback',
]);

const dottedQuad = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ipv4Shape = /^\d+\.\d+\.\d+\.\d+$/;

/** True for a dotted-quad IPv4 address written without leading zeros. */
export function isDottedQuad(value: string): boolean {
  return dottedQuad.test(value);
}

const inetAtonPart = /^(0x[0-9a-f]*|[0-9]+)$/i;

/**
 * True when the C library's inet_aton would read `value` as an IPv4 address: 1 to 4
 * dot-separated parts, each decimal, octal (leading 0) or hex (0x). A resolver hands such a
 * name to the network as that address, never to DNS, so `0x7f.1` reaches 127.0.0.1.
 *
 * @example isInetAtonAddress('0x7f.1') // true
 */
export function isInetAtonAddress(value: string): boolean {
  const parts = value.split('.');
  return parts.length <= 4 && parts.every((part) => inetAtonPart.test(part));
}

/**
 * Checks a registry domain name.
 *
 * @example domainRule('registry.example.com') // undefined
 * @example domainRule('host:5000') // 'must not carry a port; put it in port'
 */
export function domainRule(domain: string): string | undefined {
  const { domainMinLength: min, domainMaxLength: max } = limits;
  if (domain.includes('://')) return 'must be a bare host name, without a scheme';
  if (domain.includes('/')) return 'must be a bare host name, without a path';
  if (domain.includes(':')) return 'must not carry a port; put it in port';
  if (domain.length < min || domain.length > max) {
    return `must be ${min} to ${max} characters long`;
  }
  if (!/^[A-Za-z0-9.-]+$/.test(domain)) {
    return 'may hold only letters, digits, "." and "-"';
  }
  if (!/^[A-Za-z0-9]/.test(domain) || !/[A-Za-z0-9]$/.test(domain)) {
    return 'must start and end with a letter or a digit';
  }
  if (ipv4Shape.test(domain)) return 'must not be an IPv4 address; put addresses in ip';
  if (/^[0-9.]+$/.test(domain)) return 'must not consist of digits only';
  if (isInetAtonAddress(domain)) return 'must not be an IPv4 address; put addresses in ip';

  const labels = domain.split('.');
  if (labels.some((label) => label === '')) return 'must not hold an empty label ("..")';
  if (labels.some((label) => label.startsWith('-') || label.endsWith('-'))) {
    return 'must not hold a label that starts or ends with "-"';
  }

  const lower = domain.toLowerCase();
  if (localhostNames.has(lower) || lower.endsWith('.localhost')) {
    return 'must not name this host (localhost)';
  }
  return undefined;
}

/**
 * Checks a registry IPv4 address. `forbidden` holds the addresses of this host's interfaces and
 * of the edge hosts; they are matched exactly, never as substrings.
 *
 * @example ipRule('10.10.10.10', new Set()) // undefined
 */
export function ipRule(ip: string, forbidden: ReadonlySet<string>): string | undefined {
  if (!isDottedQuad(ip)) {
    return 'must be a dotted-quad IPv4 address without leading zeros';
  }
  const [first, second] = ip.split('.').map(Number) as [number, number, number, number];
  if (first === 0) return 'must not be in 0.0.0.0/8';
  if (ip === '255.255.255.255') return 'must not be the broadcast address';
  if (first === 127) return 'must not be a loopback address (127.0.0.0/8)';
  if (first >= 224 && first <= 239) return 'must not be a multicast address (224.0.0.0/4)';
  if (first === 169 && second === 254) return 'must not be link-local (169.254.0.0/16)';
  if (forbidden.has(ip)) return 'must not be an address of this host or of an edge host';
  return undefined;
}

/** @example portRule(443) // undefined */
export function portRule(port: number): string | undefined {
  const { portMin, portMax } = limits;
  if (!Number.isInteger(port) || port < portMin || port > portMax) {
    return `must be an integer from ${portMin} to ${portMax}`;
  }
  return undefined;
}

/** @example accountRule('ImageRepository') // undefined */
export function accountRule(account: string): string | undefined {
  const { accountMinLength: min, accountMaxLength: max } = limits;
  if (account.length < min || account.length > max) {
    return `must be ${min} to ${max} characters long`;
  }
  if (!/^[A-Za-z0-9_-]+$/.test(account)) return 'may hold only letters, digits, "_" and "-"';
  if (/^[_-]|[_-]$/.test(account)) return 'must not start or end with "_" or "-"';
  return undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks password bytes. The messages describe the rule only; they never show the password.
 *
 * @example passwordRule(Buffer.from('Huawei12#$')) // undefined
 */
export function passwordRule(password: Uint8Array): string | undefined {
  const { passwordMinBytes: min, passwordMaxBytes: max, passwordForbiddenByte } = limits;
  if (password.length < min || password.length > max) {
    return `must be ${min} to ${max} bytes long`;
  }
  if (password.includes(passwordForbiddenByte)) return 'must not contain ":"';
  // A Docker config carries the password as JSON text, so it must be text: a stray newline
  // from `echo` is a classic cause of an unexplained 401 from the registry.
  if (password.some((byte) => byte < 32 || byte === 127)) {
    return 'must not contain control characters (bytes 0 to 31 and 127)';
  }
  try {
    strictUtf8.decode(password);
  } catch {
    return 'must be valid UTF-8';
  }
  return undefined;
}

/** The API document's advice on passwords, beyond the rules a password must follow. */
export const passwordAdvice = {
  minCharacterKinds: 2,
  characterKinds: ['lowercase letters', 'uppercase letters', 'digits', 'special characters'],
} as const;

/** The kinds of characters in a password, one bit each, in the order of the advice. */
function characterKindBits(password: Uint8Array): number {
  let bits = 0;
  // Every byte is visited, so the time taken does not depend on where a kind first appears.
  for (const byte of password) {
    const lowercase = byte >= 97 && byte <= 122;
    const uppercase = byte >= 65 && byte <= 90;
    const digit = byte >= 48 && byte <= 57;
    const special = !lowercase && !uppercase && !digit;
    bits |= Number(lowercase) | (Number(uppercase) << 1) | (Number(digit) << 2);
    bits |= Number(special) << 3;
  }
  return bits;
}

function sameBytes(password: Uint8Array, account: string): boolean {
  const accountBytes = Buffer.from(account, 'utf8');
  if (accountBytes.length !== password.length) return false;
  return timingSafeEqual(password, accountBytes);
}

/**
 * Says what makes a password weak by the API document's advice: it should mix at least two
 * kinds of characters (lowercase and uppercase letters, digits, special characters, where any
 * other character counts as special) and differ from the account. Returns undefined when the
 * advice is followed. The password is read as bytes and compared with the account in constant
 * time; it never becomes a string, and the answer never shows it.
 *
 * @example passwordStrengthAdvice(Buffer.from('Huawei12#$'), 'admin') // undefined
 * @example passwordStrengthAdvice(Buffer.from('imagerepo'), 'imagerepo')
 */
export function passwordStrengthAdvice(password: Uint8Array, account: string): string | undefined {
  const { minCharacterKinds, characterKinds } = passwordAdvice;
  const advice: string[] = [];
  let kinds = 0;
  for (let bits = characterKindBits(password); bits !== 0; bits >>= 1) kinds += bits & 1;
  if (kinds < minCharacterKinds) {
    const names = `${characterKinds.slice(0, -1).join(', ')} and ${characterKinds.at(-1)}`;
    advice.push(`should mix at least ${minCharacterKinds} of ${names}`);
  }
  if (sameBytes(password, account)) advice.push('should differ from the account');
  return advice.length === 0 ? undefined : advice.join('; ');
}

// The checks a registry's CA certificate must pass before a device or the server trusts it:
// shared by `mef-edge registry-ca install` and the certificate import endpoint.

import { createPublicKey, webcrypto } from 'node:crypto';
import { x509 } from '../pki/x509.js';

/** The limits of the checks, each written once for the code, the messages and the README. */
export const caCertificateLimits = {
  rsaMinBits: 3072,
  ecMinBits: 256,
  signatureHashes: ['SHA-256', 'SHA-384', 'SHA-512'],
} as const;

/** Every reason a certificate is refused: stable codes a caller can match on. */
export const CaRejection = {
  unreadable: 'unreadable',
  severalCertificates: 'several-certificates',
  privateKeyIncluded: 'private-key-included',
  notVersion3: 'not-v3',
  notCa: 'not-ca',
  noKeyCertSign: 'no-key-cert-sign',
  weakKey: 'weak-key',
  unsupportedKey: 'unsupported-key',
  weakSignature: 'weak-signature',
  notYetValid: 'not-yet-valid',
  expired: 'expired',
  notSelfSigned: 'not-self-signed',
} as const;

export type CaRejection = (typeof CaRejection)[keyof typeof CaRejection];

/** What a caller learns about a certificate that passed. */
export interface CaCertificateDetails {
  /** The certificate alone, re-encoded as PEM with a final newline: what gets installed. */
  pem: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** `RSA 3072` or `ECDSA P-256`. */
  key: string;
  signatureHash: string;
  /** Hex SHA-256 of the DER encoding, as `openssl x509 -fingerprint -sha256` shows it. */
  sha256Fingerprint: string;
  /** Issuer equals subject and the signature verifies with the certificate's own key. */
  selfSigned: boolean;
}

export type CaCheckResult =
  | { ok: true; certificate: CaCertificateDetails }
  | { ok: false; reason: CaRejection; message: string };

export interface CaCheckOptions {
  /** The moment the validity period is checked against; defaults to now. */
  now?: Date;
  /** Also require a valid self-signature (a root CA), as the server's import does. */
  requireSelfSigned?: boolean;
}

/** The field name every message starts with. */
const field = 'certificate';

/** The NIST curves Go's crypto/x509 (and so every container runtime) accepts, by OpenSSL name. */
const ecCurves: Record<string, { name: string; bits: number }> = {
  secp224r1: { name: 'P-224', bits: 224 },
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

const { rsaMinBits, ecMinBits, signatureHashes } = caCertificateLimits;
const keyRequirement = `RSA of at least ${rsaMinBits} bits or ECDSA of at least ${ecMinBits} bits`;
const hashRequirement = `${signatureHashes.join(', ')} required`;

class Rejected extends Error {
  constructor(
    readonly reason: CaRejection,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/** Exposes the version field, which @peculiar/x509 parses but does not publish. */
class ParsedCertificate extends x509.X509Certificate {
  /** 0 for v1, 2 for v3. */
  get versionNumber(): number {
    return this.asn.tbsCertificate.version;
  }
}

/**
 * Checks that `pem` holds exactly one X.509 v3 CA certificate fit to anchor a registry's TLS: the
 * CA basic constraint, the keyCertSign key usage, a strong key and signature hash, and a
 * validity period that covers `now`. Never throws for a bad certificate; the result says why.
 *
 * @example
 * const result = await checkCaCertificate(pem, { requireSelfSigned: true });
 * if (!result.ok) console.error(result.reason, result.message);
 * // 'weak-key' 'certificate: RSA key of 2048 bits; at least 3072 required'
 */
export async function checkCaCertificate(
  pem: string,
  options: CaCheckOptions = {},
): Promise<CaCheckResult> {
  try {
    const certificate = parseSingleCertificate(pem);
    checkCaFields(certificate);
    const key = checkKey(certificate);
    const signatureHash = checkSignatureHash(certificate);
    checkValidity(certificate, options.now ?? new Date());
    const selfSigned = await hasValidSelfSignature(certificate);
    if (options.requireSelfSigned === true && !selfSigned) {
      throw new Rejected(
        CaRejection.notSelfSigned,
        'not self-signed (the issuer differs from the subject or the signature does not ' +
          'verify with its own key); a root CA certificate is required',
      );
    }
    return { ok: true, certificate: await describe(certificate, key, signatureHash, selfSigned) };
  } catch (error) {
    if (error instanceof Rejected) {
      return { ok: false, reason: error.reason, message: error.message };
    }
    throw error;
  }
}

/**
 * True when the certificate names itself as issuer and its signature verifies with its own public
 * key: what makes it a root a trust store can hold on its own.
 */
export async function hasValidSelfSignature(certificate: x509.X509Certificate): Promise<boolean> {
  try {
    return await certificate.isSelfSigned(webcrypto as Crypto);
  } catch {
    // A signature algorithm WebCrypto cannot verify is not a valid self-signature either.
    return false;
  }
}

function parseSingleCertificate(pem: string): ParsedCertificate {
  let blocks: { type: string; rawData: ArrayBuffer }[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(pem);
  } catch {
    blocks = [];
  }
  // The file is installed where every process on the device can read it.
  if (blocks.some((block) => block.type.includes('PRIVATE KEY'))) {
    throw new Rejected(
      CaRejection.privateKeyIncluded,
      'the file holds a private key; pass the CA certificate alone',
    );
  }

  const certificates = blocks.filter((block) => block.type === 'CERTIFICATE');
  if (certificates.length === 0) {
    throw new Rejected(CaRejection.unreadable, 'no PEM "CERTIFICATE" block found');
  }
  if (certificates.length > 1) {
    throw new Rejected(
      CaRejection.severalCertificates,
      `${certificates.length} certificates found; exactly one CA certificate is required`,
    );
  }

  try {
    return new ParsedCertificate(certificates[0]!.rawData);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Rejected(CaRejection.unreadable, `not a parseable X.509 certificate (${reason})`);
  }
}

function checkCaFields(certificate: ParsedCertificate): void {
  if (certificate.versionNumber !== 2) {
    throw new Rejected(
      CaRejection.notVersion3,
      `X.509 version ${certificate.versionNumber + 1}; version 3 is required`,
    );
  }

  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (constraints === null || !constraints.ca) {
    throw new Rejected(
      CaRejection.notCa,
      'basic constraints do not mark it as a CA (CA:TRUE); a CA certificate is required',
    );
  }

  const usages = certificate.getExtension(x509.KeyUsagesExtension);
  if (usages === null) {
    throw new Rejected(
      CaRejection.noKeyCertSign,
      'no key usage extension; the certificate-signing usage (keyCertSign) is required',
    );
  }
  if ((usages.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new Rejected(
      CaRejection.noKeyCertSign,
      'key usage lacks certificate signing (keyCertSign), which a CA needs',
    );
  }
}

function checkKey(certificate: ParsedCertificate): string {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({
      key: Buffer.from(certificate.publicKey.rawData),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw new Rejected(CaRejection.unsupportedKey, `unreadable public key; ${keyRequirement}`);
  }

  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    if (bits < rsaMinBits) {
      throw new Rejected(
        CaRejection.weakKey,
        `RSA key of ${bits} bits; at least ${rsaMinBits} required`,
      );
    }
    return `RSA ${bits}`;
  }

  if (key.asymmetricKeyType === 'ec') {
    const curve = ecCurves[details.namedCurve ?? ''];
    if (curve === undefined) {
      throw new Rejected(
        CaRejection.unsupportedKey,
        `ECDSA key on curve ${details.namedCurve ?? 'unknown'}; ` +
          'container runtimes accept only P-256, P-384 and P-521',
      );
    }
    if (curve.bits < ecMinBits) {
      throw new Rejected(
        CaRejection.weakKey,
        `ECDSA key of ${curve.bits} bits; at least ${ecMinBits} required`,
      );
    }
    return `ECDSA ${curve.name}`;
  }

  throw new Rejected(
    CaRejection.unsupportedKey,
    `${key.asymmetricKeyType ?? 'unknown'} key; ${keyRequirement} required`,
  );
}

function checkSignatureHash(certificate: ParsedCertificate): string {
  const algorithm = certificate.signatureAlgorithm as { name: string; hash?: { name: string } };
  const hash = algorithm.hash?.name;
  if (hash === undefined) {
    throw new Rejected(
      CaRejection.weakSignature,
      `signature algorithm ${algorithm.name} is not supported; ${hashRequirement}`,
    );
  }
  if (!(signatureHashes as readonly string[]).includes(hash)) {
    throw new Rejected(CaRejection.weakSignature, `signature uses ${hash}; ${hashRequirement}`);
  }
  return hash;
}

function checkValidity(certificate: ParsedCertificate, now: Date): void {
  if (now < certificate.notBefore) {
    throw new Rejected(
      CaRejection.notYetValid,
      `not valid before ${certificate.notBefore.toISOString()}`,
    );
  }
  if (now > certificate.notAfter) {
    throw new Rejected(CaRejection.expired, `expired on ${certificate.notAfter.toISOString()}`);
  }
}

async function describe(
  certificate: ParsedCertificate,
  key: string,
  signatureHash: string,
  selfSigned: boolean,
): Promise<CaCertificateDetails> {
  const digest = await certificate.getThumbprint('SHA-256', webcrypto as Crypto);
  return {
    pem: `${certificate.toString('pem').trim()}\n`,
    subject: certificate.subject,
    issuer: certificate.issuer,
    serialNumber: certificate.serialNumber,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    key,
    signatureHash,
    sha256Fingerprint: Buffer.from(digest)
      .toString('hex')
      .toUpperCase()
      .replace(/(..)(?!$)/g, '$1:'),
    selfSigned,
  };
}

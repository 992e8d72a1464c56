// The registry CA import and deletion requests: decoding them as MEF's Go decoder does, and the
// certificate checks an imported root must pass.

import { checkCaCertificate, type CaCertificateDetails } from './ca-certificate.js';
import { decodeBase64, optionalString, pickFields, requireObject } from './go-json.js';
import { ApiError, ruleBroken, StatusCode } from './status.js';

/**
 * The certificates an operator can import: `image` anchors TLS to the image registry, `software`
 * to the software repository.
 */
export const certificateNames = ['image', 'software'] as const;

export type CertificateName = (typeof certificateNames)[number];

export interface CertificateImportRequest {
  certName: CertificateName;
  /** The decoded PEM text, not yet checked. */
  pem: string;
}

const nameRule = `must be ${certificateNames.map((name) => `"${name}"`).join(' or ')}`;

function certificateName(field: string, value: unknown): CertificateName {
  const name = optionalString(field, value);
  if (name === undefined) throw ruleBroken(field, 'is required');
  const known = certificateNames.find((candidate) => candidate === name);
  if (known === undefined) throw ruleBroken(field, nameRule);
  return known;
}

/** A certificate that cannot be imported: HTTP 400 with status 60001003. */
export function invalidCertificate(message: string): ApiError {
  return new ApiError(StatusCode.invalidCertificate, 400, message);
}

/**
 * Decodes `{"certName": "image", "cert": "<base64 of a PEM certificate>"}`. Wrong JSON types fail
 * with 00001006, a missing or unknown name with 00001005, and a `cert` that is not base64 with
 * 60001003: the certificate itself is unreadable.
 *
 * @example decodeCertificateImport({ CertName: 'image', cert: 'LS0tLS1CRUdJTi...' })
 */
export function decodeCertificateImport(body: unknown): CertificateImportRequest {
  const fields = pickFields(requireObject(body), ['certName', 'cert'] as const);
  const certName = certificateName('certName', fields.certName);
  const encoded = optionalString('cert', fields.cert);
  if (encoded === undefined || encoded === '') throw ruleBroken('cert', 'is required');

  const bytes = decodeBase64(encoded);
  if (bytes === undefined) {
    throw invalidCertificate('cert: must be the base64 encoding of a PEM certificate');
  }
  return { certName, pem: bytes.toString('utf8') };
}

/**
 * Decodes `{"type": "image"}`, the body of a certificate deletion.
 *
 * @example decodeCertificateDeletion({ type: 'software' }) // 'software'
 */
export function decodeCertificateDeletion(body: unknown): CertificateName {
  const fields = pickFields(requireObject(body), ['type'] as const);
  return certificateName('type', fields.type);
}

/**
 * Applies the checks of a registry root CA to an import request: X.509 v3, a CA, allowed to
 * sign certificates, a strong key and hash, a valid self-signature, within its validity period.
 * Fails with 60001003 and the reason.
 */
export async function checkImportedCertificate(
  request: CertificateImportRequest,
  now?: Date,
): Promise<CaCertificateDetails> {
  const result = await checkCaCertificate(request.pem, { now, requireSelfSigned: true });
  if (!result.ok) throw invalidCertificate(result.message);
  return result.certificate;
}

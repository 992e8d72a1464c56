// Issuing X.509 certificates: the development PKI of a first start, and test certificates.

import { webcrypto } from 'node:crypto';
import { x509 } from './x509.js';

/** ECDSA P-256 with SHA-256: small, fast to handshake, and accepted everywhere TLS 1.2 is. */
const keyAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A certificate with its private key, both PEM. */
export interface IssuedCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** Hexadecimal, as a certificate revocation list names it. */
  serialNumber: string;
}

export interface CertificateAuthority extends IssuedCertificate {
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface IssueOptions {
  commonName: string;
  /** Host names and IP addresses the certificate is valid for (server certificates). */
  subjectAltNames?: { dns?: string[]; ip?: string[] };
  usage: 'server' | 'client';
  notBefore?: Date;
  notAfter?: Date;
}

const day = 24 * 60 * 60 * 1000;

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

/**
 * Creates a self-signed CA that can sign certificates.
 *
 * @example const ca = await createCertificateAuthority('MEF development CA');
 */
export async function createCertificateAuthority(
  commonName: string,
  validDays = 3650,
): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm,
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + validDays * day),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificate,
    keys,
    certificatePem: certificate.toString('pem'),
    privateKeyPem: await exportPrivateKey(keys.privateKey),
    serialNumber: certificate.serialNumber,
  };
}

/**
 * Issues a server or client certificate signed by `authority`.
 *
 * @example await issueCertificate(ca, { commonName: 'mef-admin', usage: 'client' });
 */
export async function issueCertificate(
  authority: CertificateAuthority,
  options: IssueOptions,
): Promise<IssuedCertificate> {
  const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
  const names = [
    ...(options.subjectAltNames?.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.subjectAltNames?.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extendedUsage =
    options.usage === 'server'
      ? x509.ExtendedKeyUsage.serverAuth
      : x509.ExtendedKeyUsage.clientAuth;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([extendedUsage]),
    await x509.AuthorityKeyIdentifierExtension.create(authority.certificate),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));

  const certificate = await x509.X509CertificateGenerator.create({
    subject: `CN=${options.commonName}`,
    issuer: authority.certificate.subject,
    publicKey: keys.publicKey,
    signingKey: authority.keys.privateKey,
    signingAlgorithm,
    notBefore: options.notBefore ?? new Date(Date.now() - day),
    notAfter: options.notAfter ?? new Date(Date.now() + 825 * day),
    extensions,
  });
  return {
    certificatePem: certificate.toString('pem'),
    privateKeyPem: await exportPrivateKey(keys.privateKey),
    serialNumber: certificate.serialNumber,
  };
}

export interface RevocationListOptions {
  /** Serial numbers (hexadecimal) of the certificates to revoke. */
  revoked: string[];
  thisUpdate?: Date;
  /** When verifiers stop trusting this list; a TLS server refuses every client after it. */
  nextUpdate?: Date;
}

/**
 * Issues a certificate revocation list (PEM) signed by `authority`.
 *
 * @example await issueRevocationList(ca, { revoked: [client.serialNumber] });
 */
export async function issueRevocationList(
  authority: CertificateAuthority,
  options: RevocationListOptions,
): Promise<string> {
  const thisUpdate = options.thisUpdate ?? new Date(Date.now() - day);
  const crl = await x509.X509CrlGenerator.create({
    issuer: authority.certificate.subject,
    signingKey: authority.keys.privateKey,
    signingAlgorithm,
    thisUpdate,
    nextUpdate: options.nextUpdate ?? new Date(Date.now() + 30 * day),
    entries: options.revoked.map((serialNumber) => ({
      serialNumber,
      revocationDate: thisUpdate,
      reason: x509.X509CrlReason.keyCompromise,
    })),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(authority.certificate)],
  });
  // OpenSSL, and so Node's tls `crl` option, reads only the `X509 CRL` PEM label.
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
}

// CA certificates generated for a test run: good roots and one for each reason a root is refused.

import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { x509 } from '../../src/pki/x509.js';

const subtle = webcrypto.subtle;
export const day = 24 * 60 * 60 * 1000;
export const rsaSha256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
export const ecdsaSha256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const caUsages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

export interface CaCertificateOptions {
  keys: CryptoKeyPair;
  signingAlgorithm: Algorithm;
  subject?: string;
  /** Sign with this key instead of the subject's own (another CA's). */
  signingKey?: CryptoKey;
  issuer?: string;
  ca?: boolean;
  /** null leaves the key usage extension out. */
  keyUsages?: number | null;
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * A PEM certificate shaped by `options`: by default a self-signed CA valid from yesterday for
 * thirty days, allowed to sign certificates.
 *
 * @example const pem = await makeCaCertificate({ keys, signingAlgorithm: ecdsaSha256 });
 */
export async function makeCaCertificate(options: CaCertificateOptions): Promise<string> {
  const subject = options.subject ?? 'CN=Test Registry CA';
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca ?? true, undefined, true),
  ];
  const keyUsages = options.keyUsages === undefined ? caUsages : options.keyUsages;
  if (keyUsages !== null) extensions.push(new x509.KeyUsagesExtension(keyUsages, true));
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: options.issuer ?? subject,
    publicKey: options.keys.publicKey,
    signingKey: options.signingKey ?? options.keys.privateKey,
    signingAlgorithm: options.signingAlgorithm,
    notBefore: options.notBefore ?? new Date(Date.now() - day),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * day),
    extensions,
  });
  return certificate.toString('pem');
}

export function rsaKeys(modulusLength: number, hash = 'SHA-256'): Promise<CryptoKeyPair> {
  const algorithm = {
    name: 'RSASSA-PKCS1-v1_5',
    hash,
    modulusLength,
    publicExponent: new Uint8Array([1, 0, 1]),
  };
  return subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

export function ecKeys(namedCurve = 'P-256'): Promise<CryptoKeyPair> {
  return subtle.generateKey({ name: 'ECDSA', namedCurve }, true, ['sign', 'verify']);
}

export async function ed25519Keys(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The same RSA key pair bound to another hash: WebCrypto ties the hash to the key. */
export async function withHash(keys: CryptoKeyPair, hash: string): Promise<CryptoKeyPair> {
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash };
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  const spki = await subtle.exportKey('spki', keys.publicKey);
  return {
    privateKey: await subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']),
    publicKey: await subtle.importKey('spki', spki, algorithm, true, ['verify']),
  };
}

export async function privateKeyPem(keys: CryptoKeyPair): Promise<string> {
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

const run = promisify(execFile);

/** True when the openssl command is at hand (it makes the version 1 certificate). */
export const hasOpenssl = await run('openssl', ['version']).then(
  () => true,
  () => false,
);

/**
 * An X.509 version 1 self-signed certificate: `openssl x509 -req` without extensions signs one,
 * which no WebCrypto-based generator can.
 */
export async function makeVersion1Certificate(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'mef-ca-v1-'));
  try {
    const key = path.join(directory, 'key.pem');
    const request = path.join(directory, 'request.csr');
    const certificate = path.join(directory, 'ca.pem');
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      '/CN=Version 1 CA',
      '-out',
      request,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      request,
      '-signkey',
      key,
      '-days',
      '2',
      '-sha256',
      '-out',
      certificate,
    ]);
    return await readFile(certificate, 'utf8');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * A self-signed CA on an ECDSA curve WebCrypto does not offer (P-224), made by openssl with the
 * CA basic constraint and certificate-signing key usage, so only the key size is wrong.
 */
export async function makeP224Certificate(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'mef-ca-p224-'));
  try {
    const certificate = path.join(directory, 'ca.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-224',
      '-nodes',
      '-keyout',
      path.join(directory, 'key.pem'),
      '-subj',
      '/CN=P-224 CA',
      '-days',
      '2',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      certificate,
    ]);
    return await readFile(certificate, 'utf8');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

// Tests of the CA certificate checks with certificates generated for the run, one per reason.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CaRejection,
  checkCaCertificate,
  type CaCheckResult,
} from '../../../src/domain/ca-certificate.js';
import { x509 } from '../../../src/pki/x509.js';

const subtle = webcrypto.subtle;
const day = 24 * 60 * 60 * 1000;
const rsaSha256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const ecdsaSha256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const caUsages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

interface CertificateOptions {
  keys: CryptoKeyPair;
  signingAlgorithm: Algorithm;
  /** Sign with this key instead of the subject's own (the issuer's, for instance). */
  signingKey?: CryptoKey;
  issuer?: string;
  ca?: boolean;
  /** null leaves the key usage extension out. */
  keyUsages?: number | null;
  notBefore?: Date;
  notAfter?: Date;
}

async function makeCertificate(options: CertificateOptions): Promise<string> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca ?? true, undefined, true),
  ];
  const keyUsages = options.keyUsages === undefined ? caUsages : options.keyUsages;
  if (keyUsages !== null) extensions.push(new x509.KeyUsagesExtension(keyUsages, true));
  const certificate = await x509.X509CertificateGenerator.create({
    subject: 'CN=Test Registry CA',
    issuer: options.issuer ?? 'CN=Test Registry CA',
    publicKey: options.keys.publicKey,
    signingKey: options.signingKey ?? options.keys.privateKey,
    signingAlgorithm: options.signingAlgorithm,
    notBefore: options.notBefore ?? new Date(Date.now() - day),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * day),
    extensions,
  });
  return certificate.toString('pem');
}

function rsaKeys(modulusLength: number, hash = 'SHA-256'): Promise<CryptoKeyPair> {
  const algorithm = {
    name: 'RSASSA-PKCS1-v1_5',
    hash,
    modulusLength,
    publicExponent: new Uint8Array([1, 0, 1]),
  };
  return subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

function ecKeys(namedCurve = 'P-256'): Promise<CryptoKeyPair> {
  return subtle.generateKey({ name: 'ECDSA', namedCurve }, true, ['sign', 'verify']);
}

/** The same RSA key pair, bound to another hash: WebCrypto ties the hash to the key. */
async function withHash(keys: CryptoKeyPair, hash: string): Promise<CryptoKeyPair> {
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash };
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  const spki = await subtle.exportKey('spki', keys.publicKey);
  return {
    privateKey: await subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']),
    publicKey: await subtle.importKey('spki', spki, algorithm, true, ['verify']),
  };
}

function assertRejected(result: CaCheckResult, reason: CaRejection, message: RegExp): void {
  assert.equal(result.ok, false, 'the certificate was accepted');
  if (result.ok) return;
  assert.equal(result.reason, reason, result.message);
  assert.match(result.message, /^certificate: /);
  assert.match(result.message, message);
}

const hasOpenssl = await promisify(execFile)('openssl', ['version']).then(
  () => true,
  () => false,
);

describe('checkCaCertificate', () => {
  let rsa3072: CryptoKeyPair;
  let p256: CryptoKeyPair;

  before(async () => {
    [rsa3072, p256] = await Promise.all([rsaKeys(3072), ecKeys('P-256')]);
  });

  it('accepts an RSA-3072 CA certificate and describes it', async () => {
    const pem = await makeCertificate({ keys: rsa3072, signingAlgorithm: rsaSha256 });

    const result = await checkCaCertificate(pem, { requireSelfSigned: true });

    assert.ok(result.ok, result.ok ? '' : result.message);
    const { certificate } = result;
    assert.equal(certificate.key, 'RSA 3072');
    assert.equal(certificate.signatureHash, 'SHA-256');
    assert.equal(certificate.subject, 'CN=Test Registry CA');
    assert.equal(certificate.selfSigned, true);
    assert.match(certificate.sha256Fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.match(
      certificate.pem,
      /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/,
    );
    assert.equal(new x509.X509Certificate(certificate.pem).subject, 'CN=Test Registry CA');
  });

  it('accepts an ECDSA P-256 CA certificate signed with SHA-384', async () => {
    const pem = await makeCertificate({
      keys: p256,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } as Algorithm,
    });

    const result = await checkCaCertificate(pem, { requireSelfSigned: true });

    assert.ok(result.ok, result.ok ? '' : result.message);
    assert.equal(result.certificate.key, 'ECDSA P-256');
    assert.equal(result.certificate.signatureHash, 'SHA-384');
  });

  it('keeps only the certificate when text surrounds the PEM block', async () => {
    const pem = await makeCertificate({ keys: p256, signingAlgorithm: ecdsaSha256 });

    const result = await checkCaCertificate(`Registry CA, issued by ops\n${pem}\n\n`);

    assert.ok(result.ok, result.ok ? '' : result.message);
    assert.equal(result.certificate.pem, `${pem.trim()}\n`);
  });

  it('refuses a certificate that is not a CA', async () => {
    const pem = await makeCertificate({ keys: p256, signingAlgorithm: ecdsaSha256, ca: false });

    assertRejected(await checkCaCertificate(pem), CaRejection.notCa, /CA:TRUE/);
  });

  it('refuses a CA whose key usage lacks keyCertSign', async () => {
    const pem = await makeCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      keyUsages: x509.KeyUsageFlags.digitalSignature,
    });

    assertRejected(await checkCaCertificate(pem), CaRejection.noKeyCertSign, /keyCertSign/);
  });

  it('refuses a CA without a key usage extension', async () => {
    const pem = await makeCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      keyUsages: null,
    });

    assertRejected(await checkCaCertificate(pem), CaRejection.noKeyCertSign, /no key usage/);
  });

  it('refuses an RSA key of 2048 bits', async () => {
    const pem = await makeCertificate({ keys: await rsaKeys(2048), signingAlgorithm: rsaSha256 });

    const result = await checkCaCertificate(pem);

    assertRejected(result, CaRejection.weakKey, /RSA/);
    assert.equal(
      !result.ok && result.message,
      'certificate: RSA key of 2048 bits; at least 3072 required',
    );
  });

  it('refuses a SHA-1 signature', async () => {
    const sha1Keys = await withHash(rsa3072, 'SHA-1');
    const pem = await makeCertificate({
      keys: sha1Keys,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' } as Algorithm,
    });
    assert.equal(new x509.X509Certificate(pem).signatureAlgorithm.hash.name, 'SHA-1');

    assertRejected(await checkCaCertificate(pem), CaRejection.weakSignature, /SHA-1; SHA-256/);
  });

  it('refuses an expired certificate, and one not valid yet', async () => {
    const expired = await makeCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      notBefore: new Date(Date.now() - 10 * day),
      notAfter: new Date(Date.now() - day),
    });
    const future = await makeCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      notBefore: new Date(Date.now() + day),
      notAfter: new Date(Date.now() + 10 * day),
    });

    assertRejected(await checkCaCertificate(expired), CaRejection.expired, /expired on 20/);
    assertRejected(await checkCaCertificate(future), CaRejection.notYetValid, /not valid before/);
  });

  it('checks the validity period against the given moment', async () => {
    const pem = await makeCertificate({ keys: p256, signingAlgorithm: ecdsaSha256 });

    const later = new Date(Date.now() + 60 * day);

    assertRejected(await checkCaCertificate(pem, { now: later }), CaRejection.expired, /expired/);
  });

  it('requires a valid self-signature only when asked to', async () => {
    const issuer = await ecKeys();
    const issuedByOther = await makeCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      signingKey: issuer.privateKey,
      issuer: 'CN=Another CA',
    });
    // Same name as issuer and subject, but signed by a key that is not its own.
    const forgedSelfSigned = await makeCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      signingKey: issuer.privateKey,
    });

    const lenient = await checkCaCertificate(issuedByOther);
    assert.ok(lenient.ok);
    assert.equal(lenient.certificate.selfSigned, false);
    for (const pem of [issuedByOther, forgedSelfSigned]) {
      const strict = await checkCaCertificate(pem, { requireSelfSigned: true });
      assertRejected(strict, CaRejection.notSelfSigned, /not self-signed/);
    }
  });

  it('refuses what is not a PEM certificate', async () => {
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';

    assertRejected(await checkCaCertificate('garbage'), CaRejection.unreadable, /no PEM/);
    assertRejected(await checkCaCertificate(''), CaRejection.unreadable, /no PEM/);
    assertRejected(await checkCaCertificate(broken), CaRejection.unreadable, /not a parseable/);
  });

  it('refuses several certificates, and a private key beside the certificate', async () => {
    const pem = await makeCertificate({ keys: p256, signingAlgorithm: ecdsaSha256 });
    const pkcs8 = await subtle.exportKey('pkcs8', p256.privateKey);
    const key = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');

    assertRejected(
      await checkCaCertificate(`${pem}\n${pem}`),
      CaRejection.severalCertificates,
      /2 certificates/,
    );
    assertRejected(
      await checkCaCertificate(`${pem}\n${key}`),
      CaRejection.privateKeyIncluded,
      /private key/,
    );
  });

  it(
    'refuses an X.509 version 1 certificate',
    { skip: !hasOpenssl && 'needs openssl' },
    async () => {
      // `openssl x509 -req` without extensions signs a version 1 certificate.
      const directory = await mkdtemp(path.join(tmpdir(), 'mef-ca-v1-'));
      try {
        const key = path.join(directory, 'key.pem');
        const request = path.join(directory, 'request.csr');
        const certificate = path.join(directory, 'ca.pem');
        const run = promisify(execFile);
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

        const result = await checkCaCertificate(await readFile(certificate, 'utf8'));

        assertRejected(result, CaRejection.notVersion3, /version 1; version 3 is required/);
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  );

  it('refuses a key type container runtimes cannot use', async () => {
    const keys = (await subtle.generateKey({ name: 'Ed25519' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const pem = await makeCertificate({ keys, signingAlgorithm: { name: 'Ed25519' } });

    assertRejected(await checkCaCertificate(pem), CaRejection.unsupportedKey, /ed25519 key/);
  });
});

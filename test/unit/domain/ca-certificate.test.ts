// Tests of the CA certificate checks with certificates generated for the run, one per reason.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  CaRejection,
  checkCaCertificate,
  type CaCheckResult,
} from '../../../src/domain/ca-certificate.js';
import {
  day,
  ecdsaSha256,
  ecKeys,
  ed25519Keys,
  hasOpenssl,
  makeCaCertificate as makeCertificate,
  makeVersion1Certificate,
  privateKeyPem,
  rsaKeys,
  rsaSha256,
  withHash,
} from '../../support/ca-certificates.js';
import { x509 } from '../../../src/pki/x509.js';

function assertRejected(result: CaCheckResult, reason: CaRejection, message: RegExp): void {
  assert.equal(result.ok, false, 'the certificate was accepted');
  if (result.ok) return;
  assert.equal(result.reason, reason, result.message);
  assert.match(result.message, /^certificate: /);
  assert.match(result.message, message);
}

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
    const key = await privateKeyPem(p256);

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
      const result = await checkCaCertificate(await makeVersion1Certificate());

      assertRejected(result, CaRejection.notVersion3, /version 1; version 3 is required/);
    },
  );

  it('refuses a key type container runtimes cannot use', async () => {
    const keys = await ed25519Keys();
    const pem = await makeCertificate({ keys, signingAlgorithm: { name: 'Ed25519' } });

    assertRejected(await checkCaCertificate(pem), CaRejection.unsupportedKey, /ed25519 key/);
  });
});

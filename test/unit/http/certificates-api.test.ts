// The registry CA import and delete endpoints over mutual TLS, with certificates made for the run
// and the files they leave in the data directory.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StatusCode } from '../../../src/domain/status.js';
import { certificatePaths } from '../../../src/http/routes/certificates.js';
import { x509 } from '../../../src/pki/x509.js';
import {
  day,
  ecdsaSha256,
  ecKeys,
  ed25519Keys,
  hasOpenssl,
  makeCaCertificate,
  makeP224Certificate,
  makeVersion1Certificate,
  privateKeyPem,
  rsaKeys,
  rsaSha256,
  withHash,
} from '../../support/ca-certificates.js';
import { startTestService, type TestService } from '../../support/test-service.js';

const base64 = (pem: string) => Buffer.from(pem).toString('base64');

async function fileMode(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

describe('POST /certmanager/v1/certificates/import and delete-cert', () => {
  let test: TestService;
  let certs: string;
  let rsaRoot: string;
  let ecRoot: string;
  let p256: CryptoKeyPair;
  let rsa3072: CryptoKeyPair;

  before(async () => {
    // The refusal cases call faster than the default per-client rate allows.
    test = await startTestService({ env: { MEF_RATE_LIMIT: 'off' } });
    certs = path.join(test.dataDir, 'certs');
    [rsa3072, p256] = await Promise.all([rsaKeys(3072), ecKeys('P-256')]);
    rsaRoot = await makeCaCertificate({
      keys: rsa3072,
      signingAlgorithm: rsaSha256,
      subject: 'CN=RSA Registry Root',
    });
    ecRoot = await makeCaCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      subject: 'CN=ECDSA Registry Root',
    });
  });

  after(() => test.stop());

  const importCertificate = (certName: unknown, pem: string) =>
    test.call('POST', certificatePaths.import, { certName, cert: base64(pem) });

  it('imports an RSA-3072 root as the image CA, readable by every process', async () => {
    const response = await importCertificate('image', rsaRoot);

    assert.equal(response.statusCode, 200, response.text);
    assert.equal(response.json?.status, StatusCode.success);
    assert.equal(response.json?.msg, 'import certificate success');
    const data = response.json?.data as Record<string, unknown>;
    assert.equal(data.key, 'RSA 3072');
    assert.equal(data.subject, 'CN=RSA Registry Root');
    assert.equal(data.replaced, false);

    const stored = await readFile(path.join(certs, 'image.crt'), 'utf8');
    assert.equal(new x509.X509Certificate(stored).subject, 'CN=RSA Registry Root');
    assert.equal(await fileMode(path.join(certs, 'image.crt')), 0o644);
    assert.equal(await fileMode(certs), 0o755);
    await assert.rejects(stat(path.join(certs, 'image.crt.bak')), { code: 'ENOENT' });
  });

  it('imports an ECDSA P-256 root as the software CA, beside the image CA', async () => {
    const response = await importCertificate('software', ecRoot);

    assert.equal(response.statusCode, 200, response.text);
    assert.equal((response.json?.data as Record<string, unknown>).key, 'ECDSA P-256');
    const stored = await readFile(path.join(certs, 'software.crt'), 'utf8');
    assert.equal(new x509.X509Certificate(stored).subject, 'CN=ECDSA Registry Root');
    const image = await readFile(path.join(certs, 'image.crt'), 'utf8');
    assert.equal(new x509.X509Certificate(image).subject, 'CN=RSA Registry Root');
  });

  it('keeps one backup, of the certificate a re-import replaced', async () => {
    const second = await makeCaCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      subject: 'CN=Second Image Root',
    });
    const third = await makeCaCertificate({
      keys: p256,
      signingAlgorithm: ecdsaSha256,
      subject: 'CN=Third Image Root',
    });
    const subjectOf = async (file: string) =>
      new x509.X509Certificate(await readFile(path.join(certs, file), 'utf8')).subject;

    const replaced = await importCertificate('image', second);
    assert.equal(replaced.statusCode, 200, replaced.text);
    assert.equal((replaced.json?.data as Record<string, unknown>).replaced, true);
    assert.equal(await subjectOf('image.crt'), 'CN=Second Image Root');
    assert.equal(await subjectOf('image.crt.bak'), 'CN=RSA Registry Root');
    assert.equal(await fileMode(path.join(certs, 'image.crt.bak')), 0o644);

    assert.equal((await importCertificate('image', third)).statusCode, 200);
    assert.equal(await subjectOf('image.crt'), 'CN=Third Image Root');
    assert.equal(await subjectOf('image.crt.bak'), 'CN=Second Image Root');
  });

  it('matches keys case-insensitively, as the image configuration does', async () => {
    const response = await test.call('POST', certificatePaths.import, {
      CERTNAME: 'software',
      Cert: base64(ecRoot),
    });

    assert.equal(response.statusCode, 200, response.text);
    assert.equal((response.json?.data as Record<string, unknown>).certName, 'software');
  });

  describe('refuses a certificate with 400 60001003 and the reason, changing nothing', () => {
    const refusals: [string, () => Promise<string>, RegExp][] = [
      ['a text that holds no certificate', async () => 'just some text', /no PEM/],
      [
        'a PEM block that is not a certificate',
        async () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        /not a parseable X\.509 certificate/,
      ],
      [
        'two certificates',
        async () => `${ecRoot}\n${rsaRoot}`,
        /2 certificates found; exactly one/,
      ],
      [
        'a certificate with its private key',
        async () => `${ecRoot}\n${await privateKeyPem(p256)}`,
        /private key/,
      ],
      [
        'a certificate that is not a CA',
        () => makeCaCertificate({ keys: p256, signingAlgorithm: ecdsaSha256, ca: false }),
        /CA:TRUE/,
      ],
      [
        'a CA without certificate signing in its key usage',
        () =>
          makeCaCertificate({
            keys: p256,
            signingAlgorithm: ecdsaSha256,
            keyUsages: x509.KeyUsageFlags.digitalSignature,
          }),
        /keyCertSign/,
      ],
      [
        'a CA without a key usage extension',
        () => makeCaCertificate({ keys: p256, signingAlgorithm: ecdsaSha256, keyUsages: null }),
        /no key usage extension/,
      ],
      [
        'an RSA key of 2048 bits',
        async () => makeCaCertificate({ keys: await rsaKeys(2048), signingAlgorithm: rsaSha256 }),
        /RSA key of 2048 bits; at least 3072 required/,
      ],
      [
        'a key type container runtimes cannot use (Ed25519)',
        async () =>
          makeCaCertificate({ keys: await ed25519Keys(), signingAlgorithm: { name: 'Ed25519' } }),
        /ed25519 key; RSA of at least 3072 bits or ECDSA of at least 256 bits/,
      ],
      [
        'a SHA-1 signature',
        async () =>
          makeCaCertificate({
            keys: await withHash(rsa3072, 'SHA-1'),
            signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' } as Algorithm,
          }),
        /signature uses SHA-1; SHA-256, SHA-384, SHA-512 required/,
      ],
      [
        'an expired certificate',
        () =>
          makeCaCertificate({
            keys: p256,
            signingAlgorithm: ecdsaSha256,
            notBefore: new Date(Date.now() - 10 * day),
            notAfter: new Date(Date.now() - day),
          }),
        /expired on/,
      ],
      [
        'a certificate not valid yet',
        () =>
          makeCaCertificate({
            keys: p256,
            signingAlgorithm: ecdsaSha256,
            notBefore: new Date(Date.now() + day),
            notAfter: new Date(Date.now() + 10 * day),
          }),
        /not valid before/,
      ],
      [
        'a CA issued by another CA',
        async () =>
          makeCaCertificate({
            keys: p256,
            signingAlgorithm: ecdsaSha256,
            signingKey: (await ecKeys()).privateKey,
            issuer: 'CN=Another CA',
          }),
        /not self-signed/,
      ],
      [
        'a CA that names itself as issuer but is signed by another key',
        async () =>
          makeCaCertificate({
            keys: p256,
            signingAlgorithm: ecdsaSha256,
            signingKey: (await ecKeys()).privateKey,
          }),
        /not self-signed/,
      ],
    ];

    for (const [name, make, reason] of refusals) {
      it(name, async () => {
        const before = await readFile(path.join(certs, 'image.crt'));
        const response = await importCertificate('image', await make());

        assert.equal(response.statusCode, 400, response.text);
        assert.equal(response.json?.status, StatusCode.invalidCertificate);
        assert.match(String(response.json?.msg), reason);
        assert.deepEqual(await readFile(path.join(certs, 'image.crt')), before);
      });
    }

    it('an X.509 version 1 certificate', { skip: !hasOpenssl && 'needs openssl' }, async () => {
      const response = await importCertificate('image', await makeVersion1Certificate());

      assert.equal(response.statusCode, 400, response.text);
      assert.equal(response.json?.status, StatusCode.invalidCertificate);
      assert.match(String(response.json?.msg), /version 1; version 3 is required/);
    });

    it('an ECDSA key of 224 bits', { skip: !hasOpenssl && 'needs openssl' }, async () => {
      const response = await importCertificate('image', await makeP224Certificate());

      assert.equal(response.statusCode, 400, response.text);
      assert.equal(response.json?.status, StatusCode.invalidCertificate);
      assert.match(String(response.json?.msg), /ECDSA key of 224 bits; at least 256 required/);
    });

    it('a cert that is not base64', async () => {
      const response = await test.call('POST', certificatePaths.import, {
        certName: 'image',
        cert: '-----BEGIN CERTIFICATE-----',
      });

      assert.equal(response.statusCode, 400);
      assert.equal(response.json?.status, StatusCode.invalidCertificate);
      assert.match(String(response.json?.msg), /^cert: must be the base64 encoding/);
    });
  });

  it('refuses an unknown certName with 00001005 naming certName', async () => {
    const response = await importCertificate('docker', ecRoot);

    assert.equal(response.statusCode, 400);
    assert.equal(response.json?.status, StatusCode.ruleBroken);
    assert.equal(response.json?.msg, 'certName: must be "image" or "software"');
  });

  it('refuses missing fields with 00001005 and wrong JSON types with 00001006', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ cert: base64(ecRoot) }, StatusCode.ruleBroken, /^certName: is required/],
      [{ certName: 'image' }, StatusCode.ruleBroken, /^cert: is required/],
      [{ certName: 7, cert: base64(ecRoot) }, StatusCode.wrongShape, /^certName: must be a string/],
      [{ certName: 'image', cert: [1, 2] }, StatusCode.wrongShape, /^cert: must be a string/],
      [[{ certName: 'image' }], StatusCode.wrongShape, /^body: must be a JSON object/],
    ];
    for (const [body, status, msg] of cases) {
      const response = await test.call('POST', certificatePaths.import, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(response.json?.status, status, JSON.stringify(body));
      assert.match(String(response.json?.msg), msg);
    }
  });

  it('deletes a certificate, keeping it as the backup', async () => {
    const current = await readFile(path.join(certs, 'software.crt'));

    const response = await test.call('POST', certificatePaths.delete, { type: 'software' });

    assert.equal(response.statusCode, 200, response.text);
    assert.equal(response.json?.status, StatusCode.success);
    assert.equal(response.json?.msg, 'delete certificate success');
    assert.equal(response.json?.warnings, undefined);
    await assert.rejects(stat(path.join(certs, 'software.crt')), { code: 'ENOENT' });
    assert.deepEqual(await readFile(path.join(certs, 'software.crt.bak')), current);
  });

  it('answers a deletion of what is not there with a warning', async () => {
    const response = await test.call('POST', certificatePaths.delete, { Type: 'software' });

    assert.equal(response.statusCode, 200, response.text);
    assert.deepEqual(response.json?.warnings, [
      'no software certificate was imported; nothing changed',
    ]);
  });

  it('refuses a deletion of an unknown type with 00001005 naming type', async () => {
    const unknown = await test.call('POST', certificatePaths.delete, { type: 'all' });
    const wrongType = await test.call('POST', certificatePaths.delete, { type: ['image'] });

    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json?.status, StatusCode.ruleBroken);
    assert.equal(unknown.json?.msg, 'type: must be "image" or "software"');
    assert.equal(wrongType.json?.status, StatusCode.wrongShape);
  });

  it('leaves operation-log lines naming the client, the certificate and the result', async () => {
    const expected = [
      /CN=mef-admin@127\.0\.0\.1 import certificate image [0-9A-F:]{95} success/,
      /import certificate failed: certificate: /,
      /delete certificate software success/,
    ];
    const file = path.join(test.dataDir, 'logs', 'operations.log');
    // The operation log is a file stream; give it a moment to reach the disk.
    let text = '';
    for (let attempt = 0; attempt < 50; attempt += 1) {
      text = await readFile(file, 'utf8').catch(() => '');
      if (expected.every((pattern) => pattern.test(text))) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const pattern of expected) assert.match(text, pattern);
  });
});

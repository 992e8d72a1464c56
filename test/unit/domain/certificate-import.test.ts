// Decoding the certificate import and deletion requests, and the checks an imported root passes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkImportedCertificate,
  decodeCertificateDeletion,
  decodeCertificateImport,
} from '../../../src/domain/certificate-import.js';
import { ApiError, StatusCode } from '../../../src/domain/status.js';
import { apiFailure as failure } from '../../support/api-error.js';
import { ecdsaSha256, ecKeys, makeCaCertificate } from '../../support/ca-certificates.js';

const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const cert = Buffer.from(pem).toString('base64');

describe('decodeCertificateImport', () => {
  it('decodes the name and the base64 PEM, with keys in any case', () => {
    assert.deepEqual(decodeCertificateImport({ certName: 'image', cert }), {
      certName: 'image',
      pem,
    });
    assert.equal(
      decodeCertificateImport({ CertName: 'software', CERT: cert }).certName,
      'software',
    );
  });

  it('refuses a missing or unknown name with 00001005 naming certName', () => {
    for (const certName of [undefined, null, '', 'Image', 'docker']) {
      const error = failure(() => decodeCertificateImport({ certName, cert }));
      assert.equal(error.status, StatusCode.ruleBroken);
      assert.match(error.message, /^certName: /);
    }
  });

  it('refuses a missing cert with 00001005 and one of the wrong type with 00001006', () => {
    assert.equal(failure(() => decodeCertificateImport({ certName: 'image' })).status, '00001005');
    const wrongType = failure(() => decodeCertificateImport({ certName: 'image', cert: {} }));
    assert.equal(wrongType.status, StatusCode.wrongShape);
    assert.equal(wrongType.message, 'cert: must be a string');
  });

  it('refuses a cert that is not base64 as an invalid certificate', () => {
    const error = failure(() => decodeCertificateImport({ certName: 'image', cert: pem }));
    assert.equal(error.status, StatusCode.invalidCertificate);
    assert.equal(error.httpStatus, 400);
  });
});

describe('decodeCertificateDeletion', () => {
  it('decodes the type, with the key in any case', () => {
    assert.equal(decodeCertificateDeletion({ TYPE: 'image' }), 'image');
  });

  it('refuses an unknown type with 00001005 and a wrong JSON type with 00001006', () => {
    assert.equal(
      failure(() => decodeCertificateDeletion({ type: 'x' })).message,
      'type: must be "image" or "software"',
    );
    assert.equal(failure(() => decodeCertificateDeletion({ type: 1 })).status, '00001006');
    assert.equal(failure(() => decodeCertificateDeletion('image')).status, '00001006');
  });
});

describe('checkImportedCertificate', () => {
  it('requires a self-signed root, answering 60001003 with the reason', async () => {
    const keys = await ecKeys();
    const issued = await makeCaCertificate({
      keys,
      signingAlgorithm: ecdsaSha256,
      signingKey: (await ecKeys()).privateKey,
      issuer: 'CN=Another CA',
    });

    await assert.rejects(
      checkImportedCertificate({ certName: 'image', pem: issued }),
      (error: unknown) =>
        error instanceof ApiError &&
        error.status === StatusCode.invalidCertificate &&
        /not self-signed/.test(error.message),
    );
  });

  it('checks the validity period against the given moment', async () => {
    const root = await makeCaCertificate({ keys: await ecKeys(), signingAlgorithm: ecdsaSha256 });
    const request = { certName: 'image' as const, pem: root };

    const details = await checkImportedCertificate(request);
    assert.equal(details.key, 'ECDSA P-256');
    await assert.rejects(
      checkImportedCertificate(request, new Date(Date.now() + 400 * 24 * 3600 * 1000)),
      /expired/,
    );
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createCertificateAuthority,
  issueCertificate,
  issueRevocationList,
  type CertificateAuthority,
} from '../../../src/pki/certificate-authority.js';
import { loadTlsMaterial, TlsMaterialError } from '../../../src/pki/tls-material.js';

const day = 24 * 60 * 60 * 1000;

describe('loadTlsMaterial', () => {
  let directory: string;
  let authority: CertificateAuthority;
  const files = { cert: '', key: '', clientCa: '', crl: '' };
  const file = (name: string) => path.join(directory, name);

  before(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'mef-tls-material-'));
    authority = await createCertificateAuthority('MEF test client CA');
    const server = await issueCertificate(authority, { commonName: 'localhost', usage: 'server' });
    Object.assign(files, {
      cert: file('server.crt'),
      key: file('server.key'),
      clientCa: file('ca.crt'),
      crl: file('ca.crl'),
    });
    await writeFile(files.cert, server.certificatePem);
    await writeFile(files.key, server.privateKeyPem);
    await writeFile(files.clientCa, authority.certificatePem);
    await writeFile(files.crl, await issueRevocationList(authority, { revoked: [] }));
  });

  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  /** Loads with one file replaced by `content`; returns the error. */
  async function problemWith(which: keyof typeof files, content: string) {
    const replaced = file(`replaced-${which}`);
    await writeFile(replaced, content);
    const error = await loadTlsMaterial({ ...files, [which]: replaced }).then(
      () => assert.fail('loaded'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof TlsMaterialError, String(error));
    assert.ok(error.message.startsWith(`${replaced}: `), error.message);
    return error.message;
  }

  it('loads matching files, with the CRL and its next update', async () => {
    const material = await loadTlsMaterial(files);
    assert.ok(material.crl !== undefined && material.crlNextUpdate! > new Date());
    const withoutCrl = await loadTlsMaterial({ ...files, crl: undefined });
    assert.equal(withoutCrl.crl, undefined);
  });

  it('names a file that cannot be read', async () => {
    await assert.rejects(loadTlsMaterial({ ...files, key: file('missing.key') }), {
      message: `${file('missing.key')}: cannot be read (ENOENT)`,
    });
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const other = await issueCertificate(authority, { commonName: 'other', usage: 'server' });
    assert.match(await problemWith('key', other.privateKeyPem), /does not match the certificate/);
  });

  it('refuses files without a certificate or a key', async () => {
    assert.match(await problemWith('cert', 'not a certificate'), /holds no PEM certificate/);
    assert.match(await problemWith('clientCa', ''), /holds no PEM certificate/);
    assert.match(await problemWith('key', 'not a key'), /no PEM private key/);
  });

  it('refuses a CRL that another CA signed, or that is not a CRL', async () => {
    const stranger = await createCertificateAuthority('Another CA');
    const foreign = await issueRevocationList(stranger, { revoked: [] });
    assert.match(await problemWith('crl', foreign), /not signed by a certificate of the client CA/);
    assert.match(await problemWith('crl', authority.certificatePem), /no PEM certificate revoc/);
  });

  it('refuses a CRL past its next update, with which every client would be refused', async () => {
    const stale = await issueRevocationList(authority, {
      revoked: [],
      thisUpdate: new Date(Date.now() - 10 * day),
      nextUpdate: new Date(Date.now() - day),
    });
    assert.match(await problemWith('crl', stale), /expired at .*every client would be refused/);
  });
});

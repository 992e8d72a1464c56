import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { ConnectionOptions } from 'node:tls';
import { loadSettings } from '../../../src/config/settings.js';
import { writeFileAtomically } from '../../../src/files/atomic-write.js';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import { createLogger } from '../../../src/logging.js';
import {
  createCertificateAuthority,
  issueCertificate,
  issueRevocationList,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../../src/pki/certificate-authority.js';
import { startService, type RunningService } from '../../../src/service.js';
import {
  exchangeOnce,
  getRequest,
  openConnection,
  requestOn,
} from '../../support/raw-tls-client.js';

const day = 24 * 60 * 60 * 1000;
const keepAliveRequest = `GET ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

/** Polls `condition` every 50 ms until it holds; fails after `timeoutMs`. */
async function eventually(what: string, condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the TLS policy of the API listener', () => {
  let directory: string;
  let service: RunningService;
  let authority: CertificateAuthority;
  let server: IssuedCertificate;
  const clients: Record<string, IssuedCertificate> = {};
  const logs: string[] = [];
  let secureConnections = 0;
  const files = { cert: '', key: '', ca: '', crl: '' };

  const client = (name: string, extra: ConnectionOptions = {}): ConnectionOptions => ({
    ca: authority.certificatePem,
    cert: clients[name]!.certificatePem,
    key: clients[name]!.privateKeyPem,
    ...extra,
  });
  const logCount = (event: string) => logs.filter((line) => line.includes(event)).length;

  /** Sends one request and says whether an HTTP answer came back. */
  async function answered(options: ConnectionOptions): Promise<boolean> {
    const exchange = await exchangeOnce(service.apiUrl, options, getRequest(imageConfigPath));
    return exchange.received.startsWith('HTTP/1.1 200');
  }

  /** Expects the server to refuse the handshake: no HTTP, and no connection handed to HTTP. */
  async function assertRefused(options: ConnectionOptions): Promise<string | undefined> {
    const before = secureConnections;
    const exchange = await exchangeOnce(service.apiUrl, options, getRequest(imageConfigPath));
    assert.equal(exchange.received, '', 'the server answered over a refused handshake');
    assert.equal(secureConnections, before, 'the server completed the handshake');
    return exchange.errorCode;
  }

  before(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'mef-tls-'));
    authority = await createCertificateAuthority('MEF test client CA');
    server = await issueCertificate(authority, {
      commonName: 'localhost',
      subjectAltNames: { dns: ['localhost'], ip: ['127.0.0.1'] },
      usage: 'server',
    });
    for (const name of ['good', 'revoked', 'revokedLater']) {
      clients[name] = await issueCertificate(authority, { commonName: name, usage: 'client' });
    }
    clients.expired = await issueCertificate(authority, {
      commonName: 'expired',
      usage: 'client',
      notBefore: new Date(Date.now() - 30 * day),
      notAfter: new Date(Date.now() - day),
    });
    const stranger = await createCertificateAuthority('Another CA');
    clients.stranger = await issueCertificate(stranger, { commonName: 'good', usage: 'client' });

    Object.assign(files, {
      cert: path.join(directory, 'server.crt'),
      key: path.join(directory, 'server.key'),
      ca: path.join(directory, 'clients-ca.crt'),
      crl: path.join(directory, 'clients.crl'),
    });
    await writeFile(files.cert, server.certificatePem);
    await writeFile(files.key, server.privateKeyPem, { mode: 0o600 });
    await writeFile(files.ca, authority.certificatePem);
    await writeFile(
      files.crl,
      await issueRevocationList(authority, { revoked: [clients.revoked!.serialNumber] }),
    );

    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const settings = loadSettings({
      MEF_DATA_DIR: path.join(directory, 'data'),
      MEF_LISTEN: '127.0.0.1:0',
      MEF_OPS_LISTEN: '127.0.0.1:0',
      MEF_TLS_CERT: files.cert,
      MEF_TLS_KEY: files.key,
      MEF_TLS_CLIENT_CA: files.ca,
      MEF_TLS_CRL: files.crl,
      MEF_RATE_LIMIT: 'off',
      MEF_VERIFY_REGISTRY: 'off',
    });
    service = await startService(settings, { logger: createLogger('debug', sink) });
    service.api.server.on('secureConnection', () => (secureConnections += 1));
  });

  after(async () => {
    await service.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('serves a valid client over TLS 1.3 and over TLS 1.2 with ECDHE and AES-GCM', async () => {
    assert.ok(await answered(client('good', { minVersion: 'TLSv1.3' })));
    for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384']) {
      const socket = await openConnection(
        service.apiUrl,
        client('good', { maxVersion: 'TLSv1.2', ciphers: cipher }),
      );
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      assert.equal(socket.getCipher().standardName.includes('ECDHE'), true);
      assert.match(await requestOn(socket, keepAliveRequest), /^HTTP\/1\.1 200/);
      socket.destroy();
    }
  });

  it('refuses a client without a certificate', async () => {
    await assertRefused({ ca: authority.certificatePem });
  });

  it('refuses a client whose certificate another CA signed', async () => {
    await assertRefused(client('stranger'));
    assert.ok(logs.some((line) => /"event":"tls.refused".*UNABLE_TO_VERIFY/.test(line)));
  });

  it('refuses an expired client certificate', async () => {
    await assertRefused(client('expired'));
    assert.ok(logs.some((line) => /"event":"tls.refused".*CERT_HAS_EXPIRED/.test(line)));
  });

  it('refuses a client certificate the CRL revokes', async () => {
    await assertRefused(client('revoked'));
    assert.ok(logs.some((line) => /"event":"tls.refused".*CERT_REVOKED/.test(line)));
  });

  it('refuses a TLS 1.1 client', async () => {
    // OpenSSL offers TLS 1.1 only at security level 0; the server must still refuse it.
    const code = await assertRefused(
      client('good', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    );
    assert.match(code ?? '', /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
  });

  it('refuses a TLS 1.2 client that offers only CBC ciphers', async () => {
    const cbc = 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA';
    const code = await assertRefused(client('good', { maxVersion: 'TLSv1.2', ciphers: cbc }));
    assert.match(code ?? '', /HANDSHAKE_FAILURE/);
  });

  it('applies a new CRL without a restart and without dropping open connections', async () => {
    const open = await openConnection(service.apiUrl, client('revokedLater'));
    assert.match(await requestOn(open, keepAliveRequest), /^HTTP\/1\.1 200/);

    const reloads = logCount('"event":"tls.reloaded"');
    const crl = await issueRevocationList(authority, {
      revoked: [clients.revoked!.serialNumber, clients.revokedLater!.serialNumber],
    });
    await writeFileAtomically(files.crl, crl, { mode: 0o644 });
    await eventually('the reload', () => logCount('"event":"tls.reloaded"') > reloads);

    await assertRefused(client('revokedLater'));
    assert.ok(await answered(client('good')));
    // The connection set up before the reload carries on.
    assert.match(await requestOn(open, keepAliveRequest), /^HTTP\/1\.1 200/);
    open.destroy();
  });

  it('keeps the version and cipher policy and the CRL through a reload', async () => {
    const reloads = logCount('"event":"tls.reloaded"');
    const renewed = await issueCertificate(authority, {
      commonName: 'localhost',
      subjectAltNames: { dns: ['localhost'], ip: ['127.0.0.1'] },
      usage: 'server',
    });
    // Replaced in place, key after certificate, as a careless renewal script would.
    await writeFile(files.cert, renewed.certificatePem);
    await writeFile(files.key, renewed.privateKeyPem);
    await eventually('the reload', () => logCount('"event":"tls.reloaded"') > reloads);

    const socket = await openConnection(service.apiUrl, client('good'));
    assert.equal(
      socket.getPeerCertificate().serialNumber.toLowerCase(),
      renewed.serialNumber.replace(/^0+/, '').toLowerCase(),
    );
    socket.destroy();
    await assertRefused(client('revoked'));
    await assertRefused(
      client('good', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }),
    );
    await assertRefused(
      client('good', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    );
  });

  it('keeps the previous certificates and CRL when a new file is broken, and says so', async () => {
    const failures = logCount('"event":"tls.reload_failed"');
    await writeFile(files.crl, '-----BEGIN X509 CRL-----\nbroken\n-----END X509 CRL-----\n');
    await eventually('the failed reload', () => logCount('"event":"tls.reload_failed"') > failures);

    const failure = logs.filter((line) => line.includes('"event":"tls.reload_failed"')).at(-1);
    assert.ok(failure?.includes(files.crl), failure);
    assert.ok(await answered(client('good')));
    await assertRefused(client('revokedLater'));
  });

  it('refuses a CRL that another CA signed, which would lock every client out', async () => {
    const failures = logCount('"event":"tls.reload_failed"');
    const stranger = await createCertificateAuthority('Another CA');
    await writeFileAtomically(files.crl, await issueRevocationList(stranger, { revoked: [] }), {
      mode: 0o644,
    });
    await eventually('the failed reload', () => logCount('"event":"tls.reload_failed"') > failures);
    assert.ok(await answered(client('good')));
    await assertRefused(client('revoked'));
  });
});

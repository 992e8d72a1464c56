// Verification before saving: what each mode makes of the registry's answer, the imported CA it
// trusts, and that nothing secret reaches a warning, an error or a log line.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ImageConfigFields } from '../../../src/domain/image-config.js';
import { RegistryCredentials } from '../../../src/domain/registry-credentials.js';
import { ApiError, StatusCode } from '../../../src/domain/status.js';
import {
  verificationModeOf,
  verifyBeforeSave,
  type RegistryVerificationOptions,
} from '../../../src/http/registry-verification.js';
import { createLogger } from '../../../src/logging.js';
import {
  createCertificateAuthority,
  issueCertificate,
  type CertificateAuthority,
} from '../../../src/pki/certificate-authority.js';
import { FileCertificateStore } from '../../../src/store/file-certificate-store.js';
import {
  pinnedHostResolver,
  type VerificationResult,
} from '../../../src/verify/registry-verifier.js';
import {
  closedPort,
  startHttpsServer,
  type TestServer,
  account,
  basicRegistry,
  basicToken,
  password,
  wrongPassword,
} from '../verify/support/registry-doubles.js';

const secrets = [
  password,
  wrongPassword,
  Buffer.from(password).toString('base64'),
  basicToken(password),
  basicToken(wrongPassword),
];

function assertNoSecret(text: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `a secret leaked: ${text}`);
}

describe('verificationModeOf', () => {
  it('takes ?verify when given, else the default', () => {
    assert.equal(verificationModeOf({}, 'warn'), 'warn');
    assert.equal(verificationModeOf(undefined, 'off'), 'off');
    assert.equal(verificationModeOf({ verify: 'enforce' }, 'warn'), 'enforce');
    assert.equal(verificationModeOf({ verify: 'off' }, 'enforce'), 'off');
  });

  it('refuses any other value with 00001005 naming verify', () => {
    for (const verify of ['', 'ENFORCE', 'true', ['off', 'warn']]) {
      assert.throws(
        () => verificationModeOf({ verify }, 'warn'),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === StatusCode.ruleBroken &&
          error.httpStatus === 400 &&
          error.message === 'verify: must be off, warn or enforce',
      );
    }
  });
});

describe('verifyBeforeSave', () => {
  let authority: CertificateAuthority;
  let registry: TestServer;
  let dataDir: string;
  let certificates: FileCertificateStore;
  let logs: string[];
  let results: VerificationResult[];
  let options: RegistryVerificationOptions;

  const logger = () =>
    createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    );
  const fields = (port: number): ImageConfigFields => ({
    domain: 'registry.test',
    port,
    account,
  });
  const credentials = (port: number, secret = password) =>
    new RegistryCredentials('registry.test', port, account, Buffer.from(secret));

  before(async () => {
    authority = await createCertificateAuthority('Verification test registry CA', 1);
    const certificate = await issueCertificate(authority, {
      commonName: 'registry.test',
      usage: 'server',
      subjectAltNames: { dns: ['registry.test'] },
    });
    registry = await startHttpsServer(certificate, basicRegistry);
    dataDir = await mkdtemp(path.join(tmpdir(), 'mef-verification-'));
    certificates = new FileCertificateStore({ dataDir });
    await certificates.save('image', authority.certificatePem);
  });

  after(async () => {
    await registry.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    logs = [];
    results = [];
    registry.requests.length = 0;
    options = {
      defaultMode: 'warn',
      timeoutMs: 3000,
      certificates,
      resolve: pinnedHostResolver({ 'registry.test': '127.0.0.1' }),
      recordResult: (result) => results.push(result),
    };
  });

  it('off: asks the registry nothing and records nothing', async () => {
    const outcome = await verifyBeforeSave(
      credentials(registry.port),
      fields(registry.port),
      'off',
      options,
      logger(),
    );

    assert.deepEqual(outcome, { warnings: [] });
    assert.equal(registry.requests.length, 0);
    assert.equal(results.length, 0);
  });

  it('trusts the imported image CA and passes with the right password', async () => {
    for (const mode of ['warn', 'enforce'] as const) {
      const outcome = await verifyBeforeSave(
        credentials(registry.port),
        fields(registry.port),
        mode,
        options,
        logger(),
      );
      assert.deepEqual(outcome, { verified: true, warnings: [] });
    }
    assert.equal(results.length, 2);
    assert.ok(results.every((result) => result.ok));
    assertNoSecret(logs.join(''));
  });

  it('warn: saves a wrong password unverified, warning with the step and host', async () => {
    const outcome = await verifyBeforeSave(
      credentials(registry.port, wrongPassword),
      fields(registry.port),
      'warn',
      options,
      logger(),
    );

    assert.equal(outcome.verified, false);
    assert.equal(outcome.warnings.length, 1);
    assert.match(
      outcome.warnings[0]!,
      new RegExp(
        `^registry verification failed at the authentication step on ` +
          `registry\\.test:${registry.port}: .*saved anyway \\(verify=warn\\)$`,
      ),
    );
    assertNoSecret(outcome.warnings[0]!);
    assertNoSecret(logs.join(''));
    assert.ok(logs.some((line) => line.includes('"event":"registry.verification_failed"')));
  });

  it('enforce: refuses a wrong password with 400 60001008 naming step and host', async () => {
    await assert.rejects(
      verifyBeforeSave(
        credentials(registry.port, wrongPassword),
        fields(registry.port),
        'enforce',
        options,
        logger(),
      ),
      (error: unknown) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.status, StatusCode.applyFailed);
        assert.equal(error.httpStatus, 400);
        assert.match(
          error.message,
          new RegExp(`authentication step on registry\\.test:${registry.port}: `),
        );
        assertNoSecret(error.message);
        return true;
      },
    );
    assert.equal(results.length, 1);
    assert.equal(results[0]?.ok, false);
  });

  it('fails at the TLS step when the image CA has not been imported', async () => {
    const empty = new FileCertificateStore({ dataDir: path.join(dataDir, 'none') });

    await assert.rejects(
      verifyBeforeSave(
        credentials(registry.port),
        fields(registry.port),
        'enforce',
        { ...options, certificates: empty },
        logger(),
      ),
      /failed at the tls step on registry\.test:/,
    );
  });

  it('fails at the connection step when nothing listens on the port', async () => {
    const port = await closedPort();

    const outcome = await verifyBeforeSave(
      credentials(port),
      fields(port),
      'warn',
      options,
      logger(),
    );

    assert.equal(outcome.verified, false);
    assert.match(outcome.warnings[0]!, new RegExp(`connection step on registry\\.test:${port}`));
  });

  it('with both domain and ip, reaches the domain at the ip as an edge device would', async () => {
    const withoutResolver = { ...options, resolve: undefined };

    const outcome = await verifyBeforeSave(
      credentials(registry.port),
      { ...fields(registry.port), ip: '127.0.0.1' },
      'enforce',
      withoutResolver,
      logger(),
    );

    assert.equal(outcome.verified, true);
  });
});

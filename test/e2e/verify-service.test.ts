// End to end: the service verifies registry credentials against a real registry before saving,
// trusting the registry CA imported through its own API, and each mode does what it promises.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findFreePort } from './support/processes.js';
import { startTestRegistry, type TestRegistry } from './support/registry.js';
import { startService, type ServiceResponse, type TestService } from './support/service.js';

// Written out rather than imported: this test holds the service to its wire contract.
const imageConfigPath = '/edgemanager/v1/image/config';
const importPath = '/certmanager/v1/certificates/import';
const wrongPassword = 'Wrong-pass-12';
const verifyTimeoutMs = 3000;

interface Envelope {
  status?: string;
  msg?: string;
  warnings?: string[];
  data?: Record<string, unknown> | null;
}

describe('registry verification before saving, against a real registry', () => {
  let registry: TestRegistry;
  let service: TestService;
  const answers: ServiceResponse[] = [];

  before(async () => {
    registry = await startTestRegistry();
    service = await startService({
      hostsFile: registry.hostsFile,
      env: {
        // The default of every call here is enforce; `?verify=` overrides it per call.
        MEF_VERIFY_REGISTRY: 'enforce',
        MEF_VERIFY_TIMEOUT_MS: String(verifyTimeoutMs),
        MEF_RATE_LIMIT: 'off',
      },
    });
  });

  after(async () => {
    await service?.stop();
    await registry?.stop();
  });

  async function call(method: string, requestPath: string, body?: unknown) {
    const response = await service.request(method, requestPath, body);
    answers.push(response);
    return { ...response, envelope: (response.json ?? {}) as Envelope };
  }

  const configure = (password: string, query = '', port = registry.port) =>
    call('POST', `${imageConfigPath}${query}`, {
      domain: registry.domain,
      port,
      account: registry.username,
      password: [...Buffer.from(password, 'utf8')],
    });

  const readBack = async () => (await call('GET', imageConfigPath)).envelope.data;
  const dockerConfig = () => readFile(path.join(service.dataDir, 'dockerconfig.json'));

  it('fails at the TLS step while the registry CA is not imported, saving nothing', async () => {
    const response = await configure(registry.password);

    assert.equal(response.status, 400, response.text);
    assert.equal(response.envelope.status, '60001008');
    assert.match(
      response.envelope.msg ?? '',
      new RegExp(`^registry verification failed at the tls step on ${registry.address}: `),
    );
    assert.equal(await readBack(), null);
    const config = JSON.parse((await dockerConfig()).toString()) as { auths: object };
    assert.deepEqual(config.auths, {});
  });

  it('verifies the right credentials once the registry CA is imported', async () => {
    const imported = await call('POST', importPath, {
      certName: 'image',
      cert: Buffer.from(registry.caPem).toString('base64'),
    });
    assert.equal(imported.status, 200, imported.text);
    assert.equal(imported.envelope.msg, 'import certificate success');

    const response = await configure(registry.password);

    assert.equal(response.status, 200, response.text);
    assert.equal(response.envelope.status, '00000000');
    assert.equal(response.envelope.warnings, undefined);
    const data = await readBack();
    assert.equal(data?.registryAddress, registry.address);
    assert.equal(data?.verified, true);
  });

  it('refuses a wrong password at the authentication step, keeping the last one', async () => {
    const before = await readBack();
    const fileBefore = await dockerConfig();

    const response = await configure(wrongPassword);

    assert.equal(response.status, 400, response.text);
    assert.equal(response.envelope.status, '60001008');
    assert.match(
      response.envelope.msg ?? '',
      new RegExp(`authentication step on ${registry.address}: `),
    );
    assert.deepEqual(await readBack(), before);
    assert.deepEqual(await dockerConfig(), fileBefore);
    const config = JSON.parse(fileBefore.toString()) as {
      auths: Record<string, { password: string }>;
    };
    assert.equal(config.auths[registry.address]?.password, registry.password);
  });

  it('with ?verify=warn, saves a wrong password, warning with the step and host', async () => {
    const response = await configure(wrongPassword, '?verify=warn');

    assert.equal(response.status, 200, response.text);
    assert.equal(response.envelope.status, '00000000');
    assert.equal(response.envelope.warnings?.length, 1);
    assert.match(
      response.envelope.warnings?.[0] ?? '',
      new RegExp(
        `^registry verification failed at the authentication step on ${registry.address}: .*` +
          'saved anyway',
      ),
    );
    assert.equal((await readBack())?.verified, false);
    const config = JSON.parse((await dockerConfig()).toString()) as {
      auths: Record<string, { password: string }>;
    };
    assert.equal(config.auths[registry.address]?.password, wrongPassword);
  });

  it('with ?verify=off, saves without asking the registry: verified is null', async () => {
    const response = await configure(wrongPassword, '?verify=off');

    assert.equal(response.status, 200, response.text);
    assert.equal(response.envelope.warnings, undefined);
    assert.equal((await readBack())?.verified, null);
  });

  it('fails at the connection step within the timeout when nothing listens', async () => {
    const closedPort = await findFreePort();
    const before = await readBack();

    const started = Date.now();
    const response = await configure(registry.password, '?verify=enforce', closedPort);
    const elapsed = Date.now() - started;

    assert.equal(response.status, 400, response.text);
    assert.equal(response.envelope.status, '60001008');
    assert.match(
      response.envelope.msg ?? '',
      new RegExp(`connection step on ${registry.domain}:${closedPort}: `),
    );
    assert.ok(elapsed < verifyTimeoutMs, `the call took ${elapsed} ms`);
    assert.deepEqual(await readBack(), before);
  });

  it('refuses an unknown ?verify with 00001005 naming verify', async () => {
    const response = await configure(registry.password, '?verify=strict');

    assert.equal(response.status, 400);
    assert.equal(response.envelope.status, '00001005');
    assert.match(response.envelope.msg ?? '', /^verify: /);
  });

  it('never puts a password, its base64 or a Basic token in an answer or the log', () => {
    const forms = [registry.password, wrongPassword].flatMap((password) => [
      password,
      Buffer.from(password).toString('base64'),
      Buffer.from(`${registry.username}:${password}`).toString('base64'),
    ]);
    const texts = [...answers.map((answer) => answer.text), service.output()];
    assert.ok(service.output().includes('registry.verification_failed'));
    for (const text of texts) {
      for (const form of forms) assert.ok(!text.includes(form), `a password leaked: ${text}`);
    }
  });
});

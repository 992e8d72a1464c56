// End to end: the API's image download configuration lets a real client pull from a real
// registry, and a wrong password leaves that client refused by the registry.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skopeoInspect, startTestRegistry, type TestRegistry } from './support/registry.js';
import { startService, type TestService } from './support/service.js';

// Written out rather than imported: this test holds the service to MEF's wire contract.
const imageConfigPath = '/edgemanager/v1/image/config';
const successBody = { status: '00000000', msg: 'success' };
const wrongPassword = 'Wrong-pass-12';

/** The status and message of a response envelope; other members (warnings) may come and go. */
function envelopeOf(body: unknown): { status: unknown; msg: unknown } {
  const { status, msg } = (body ?? {}) as Record<string, unknown>;
  return { status, msg };
}

describe('image download configuration against a real registry', () => {
  let registry: TestRegistry;
  let service: TestService;
  let dockerConfigFile: string;

  before(async () => {
    registry = await startTestRegistry();
    service = await startService({ hostsFile: registry.hostsFile });
    dockerConfigFile = path.join(service.dataDir, 'dockerconfig.json');
  });

  after(async () => {
    await service?.stop();
    await registry?.stop();
  });

  const configure = (password: string) =>
    service.request('POST', imageConfigPath, {
      domain: registry.domain,
      port: registry.port,
      account: registry.username,
      password: [...Buffer.from(password, 'utf8')],
    });

  it('writes a Docker config with which skopeo pulls the image', async () => {
    const response = await configure(registry.password);

    assert.equal(response.status, 200, response.text);
    assert.deepEqual(envelopeOf(response.json), successBody);

    const mode = (await stat(dockerConfigFile)).mode & 0o777;
    assert.equal(mode, 0o600, `dockerconfig.json has mode ${mode.toString(8)}`);

    const inspected = await skopeoInspect(registry, { authfile: dockerConfigFile });
    assert.equal(inspected.code, 0, inspected.stderr);
    const image = JSON.parse(inspected.stdout) as { Name: string; Digest: string };
    assert.equal(image.Name, `${registry.address}/mef/hello`);
    assert.equal(image.Digest, registry.digest);
  });

  it('replaces the credentials, so a wrong password is refused by the registry', async () => {
    const response = await configure(wrongPassword);

    assert.equal(response.status, 200, response.text);
    assert.deepEqual(envelopeOf(response.json), successBody);

    const config = JSON.parse(await readFile(dockerConfigFile, 'utf8')) as {
      auths: Record<string, { username: string; password: string }>;
    };
    assert.equal(config.auths[registry.address]?.password, wrongPassword);
    assert.equal((await stat(dockerConfigFile)).mode & 0o777, 0o600);

    const inspected = await skopeoInspect(registry, { authfile: dockerConfigFile });
    assert.notEqual(inspected.code, 0, 'skopeo pulled with a wrong password');
    assert.match(inspected.stderr, /unauthorized|authentication required/i);
  });

  it('never writes a password to its output', () => {
    assert.ok(service.output().length > 0, 'the service logged nothing to check');
    assert.ok(!service.output().includes(registry.password), 'the registry password was logged');
    assert.ok(!service.output().includes(wrongPassword), 'the wrong password was logged');
  });
});

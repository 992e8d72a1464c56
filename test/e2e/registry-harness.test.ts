// The end-to-end registry itself: TLS from the test CA, htpasswd auth and the pushed image.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { x509 } from '../../src/pki/x509.js';
import {
  runWithHostsFile,
  skopeoInspect,
  startTestRegistry,
  type TestRegistry,
} from './support/registry.js';

describe('test registry', () => {
  let registry: TestRegistry;

  before(async () => {
    registry = await startTestRegistry();
  });

  after(async () => {
    await registry?.stop();
  });

  it('serves the pushed image to a client holding the credentials', async () => {
    const result = await skopeoInspect(registry, {
      creds: `${registry.username}:${registry.password}`,
    });

    assert.equal(result.code, 0, result.stderr);
    const inspected = JSON.parse(result.stdout) as { Name: string; Digest: string };
    assert.equal(inspected.Name, `${registry.address}/mef/hello`);
    assert.equal(inspected.Digest, registry.digest);
  });

  it('refuses a client without credentials', async () => {
    const result = await skopeoInspect(registry, {});

    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unauthorized|authentication required/i);
  });

  it('refuses a wrong password', async () => {
    const result = await skopeoInspect(registry, { creds: `${registry.username}:wrong-pass1` });

    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unauthorized|authentication required/i);
  });

  it('is not trusted without the test CA', async () => {
    const emptyCertDir = await mkdtemp(path.join(tmpdir(), 'mef-e2e-no-ca-'));
    try {
      const result = await skopeoInspect(registry, {
        certDir: emptyCertDir,
        creds: `${registry.username}:${registry.password}`,
      });

      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /certificate/i);
    } finally {
      await rm(emptyCertDir, { recursive: true, force: true });
    }
  });

  it('resolves the test domain only inside the private mount namespace', async () => {
    const inside = await runWithHostsFile(registry.hostsFile, 'getent', ['hosts', registry.domain]);
    assert.equal(inside.code, 0, inside.stderr);
    assert.match(inside.stdout, /^127\.0\.0\.1\s/);

    const machineHosts = await readFile('/etc/hosts', 'utf8');
    assert.ok(!machineHosts.includes(registry.domain), 'the machine hosts file was not touched');
  });

  it('signs with a CA certificate fit for a trust store', async () => {
    const ca = new x509.X509Certificate(registry.caPem);
    const constraints = ca.getExtension(x509.BasicConstraintsExtension);
    const usages = ca.getExtension(x509.KeyUsagesExtension);

    assert.equal(constraints?.ca, true);
    assert.ok(usages !== null && usages.usages & x509.KeyUsageFlags.keyCertSign);
    assert.ok(usages !== null && usages.usages & x509.KeyUsageFlags.cRLSign);
    assert.ok(ca.notBefore.getTime() <= Date.now() && Date.now() < ca.notAfter.getTime());
    assert.equal(await readFile(registry.caFile, 'utf8'), registry.caPem);
  });
});

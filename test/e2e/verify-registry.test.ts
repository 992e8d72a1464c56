// The registry verifier against a real docker-registry (htpasswd Basic auth, TLS from a test
// CA), resolving the registry domain through the OS resolver and a private hosts file.

import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { VerificationResult } from '../../src/verify/registry-verifier.js';
import { findFreePort } from './support/processes.js';
import { runWithHostsFile, startTestRegistry, type TestRegistry } from './support/registry.js';

const verifyCli = fileURLToPath(new URL('./support/verify-cli.ts', import.meta.url));
const repositoryRoot = path.resolve(path.dirname(verifyCli), '../../..');

interface CliAnswer {
  result: VerificationResult;
  elapsedMs: number;
}

describe('registry verification against a real registry', () => {
  let registry: TestRegistry;

  before(async () => {
    registry = await startTestRegistry();
  });

  after(async () => {
    await registry?.stop();
  });

  /** Verifies in a process that sees the registry's hosts file as /etc/hosts. */
  async function verify(overrides: Record<string, unknown> = {}): Promise<CliAnswer> {
    const request = {
      host: registry.domain,
      port: registry.port,
      account: registry.username,
      password: registry.password,
      extraCaPem: registry.caPem,
      ...overrides,
    };
    const run = await runWithHostsFile(
      registry.hostsFile,
      process.execPath,
      ['--import', 'tsx', verifyCli],
      { input: JSON.stringify(request), cwd: repositoryRoot },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes(registry.password), 'the output never holds the password');
    return JSON.parse(run.stdout) as CliAnswer;
  }

  it('verifies the right credentials with Basic auth', async () => {
    const { result } = await verify();

    assert.deepEqual(result, { ok: true, open: false, scheme: 'basic' });
  });

  it('fails at the authentication step for a wrong password', async () => {
    const { result } = await verify({ password: 'Wrong-password-1' });

    assert.ok(!result.ok);
    assert.equal(result.step, 'authentication');
    assert.equal(result.host, registry.address);
    assert.match(result.message, new RegExp(`refused account "${registry.username}"`));
  });

  it('fails at the TLS step without the registry CA', async () => {
    const { result } = await verify({ extraCaPem: undefined });

    assert.ok(!result.ok);
    assert.equal(result.step, 'tls');
    assert.equal(result.host, registry.address);
    assert.match(result.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it('fails at the connection step for a closed port within the timeout', async () => {
    const port = await findFreePort();

    const { result, elapsedMs } = await verify({ port, timeoutMs: 3000 });

    assert.ok(!result.ok);
    assert.equal(result.step, 'connection');
    assert.equal(result.host, `${registry.domain}:${port}`);
    assert.ok(elapsedMs < 3000, `ended after ${elapsedMs} ms`);
  });

  it('fails at the name resolution step outside the hosts file', async () => {
    const { result } = await verify({ host: 'unknown-registry.mef.test' });

    assert.ok(!result.ok);
    assert.equal(result.step, 'name-resolution');
    assert.equal(result.host, `unknown-registry.mef.test:${registry.port}`);
  });
});

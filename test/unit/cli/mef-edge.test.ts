// Tests of the mef-edge command line as a whole: help, version and the documented exit codes.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { ExitCode, exitCodeMeanings } from '../../../src/edge/edge-error.js';
import { runMefEdge } from '../edge/support/run-mef-edge.js';

const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
const packageJson = JSON.parse(
  await readFile(new URL('../../../package.json', import.meta.url), 'utf8'),
) as { version: string };

describe('mef-edge', () => {
  it('lists every exit code in --help of the tool and of each command', async () => {
    for (const args of [['--help'], ['domainconfig', '--help'], ['registry-ca', 'install', '-h']]) {
      const result = await runMefEdge(args);

      assert.equal(result.code, ExitCode.ok, result.stderr);
      for (const [code, meaning] of exitCodeMeanings) {
        assert.ok(result.stdout.includes(`  ${code}  ${meaning}`), `${args.join(' ')}: ${code}`);
      }
    }
  });

  it('documents every exit code in the README section for device operators', () => {
    const section = readme.slice(readme.indexOf('## On the edge device: mef-edge'));

    assert.ok(section.length > 0);
    for (const [code, meaning] of exitCodeMeanings) {
      assert.ok(section.includes(`| \`${code}\` | ${meaning} |`), `exit code ${code}`);
    }
  });

  it('prints the package version', async () => {
    const result = await runMefEdge(['--version']);

    assert.equal(result.code, ExitCode.ok);
    assert.equal(result.stdout.trim(), packageJson.version);
  });

  it('ends a usage error with exit code 2', async () => {
    const unknownCommand = await runMefEdge(['hostsconfig']);
    const badLockWait = await runMefEdge(['--lock-wait', 'soon', 'domainconfig', '--list']);

    assert.equal(unknownCommand.code, ExitCode.usage);
    assert.match(unknownCommand.stderr, /unknown command 'hostsconfig'/);
    assert.equal(badLockWait.code, ExitCode.usage);
    assert.match(badLockWait.stderr, /must be a number of seconds/);
  });
});

// Tests of `mef-edge domainconfig` against real hosts files in temporary directories, through
// the module and through the command line as a real process.

import assert from 'node:assert/strict';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  addDomainMapping,
  checkMapping,
  listDomainMappings,
  removeDomainMapping,
} from '../../../src/edge/domain-config.js';
import { ExitCode } from '../../../src/edge/edge-error.js';
import { blockMarkers, maxDomainMappings } from '../../../src/edge/hosts-file.js';
import { runMefEdge } from './support/run-mef-edge.js';

/**
 * A hosts file with what real ones hold: comments, tabs, IPv6 lines, several names on a line,
 * a byte that is not UTF-8, the registry name outside any block, and no final newline.
 */
const original = Buffer.concat([
  Buffer.from('# /etc/hosts of a test device, caf'),
  Buffer.from([0xe9]),
  Buffer.from(
    '\n127.0.0.1\tlocalhost\n' +
      '::1     localhost ip6-localhost ip6-loopback\n' +
      'fe00::0 ip6-localnet\n' +
      '192.168.10.7  edge-7.local  edge-7   # this device\r\n' +
      '10.20.30.40 reg.example.com\n' +
      '\n' +
      '10.0.0.99 last-line-without-newline',
  ),
]);
const lastLine = '10.0.0.99 last-line-without-newline';

const noDeviceAddresses = new Set<string>();

let directory: string;
let hostsFile: string;
let options: { hostsFile: string; lockWaitSeconds: number };

before(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'mef-edge-hosts-'));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

beforeEach(async () => {
  const caseDirectory = await mkdtemp(path.join(directory, 'case-'));
  hostsFile = path.join(caseDirectory, 'hosts');
  await writeFile(hostsFile, original, { mode: 0o644 });
  options = { hostsFile, lockWaitSeconds: 10 };
});

const add = (ip: string, domain: string) =>
  addDomainMapping(checkMapping(ip, domain, noDeviceAddresses), options);

/** The file with the block taken out: what must equal the original outside the block. */
function outsideBlock(content: Buffer): Buffer {
  const text = content.toString('latin1');
  const begin = text.indexOf(blockMarkers.begin);
  const endMarker = `${blockMarkers.end}\n`;
  const end = text.indexOf(endMarker);
  assert.ok(begin >= 0 && end > begin, 'the block is in the file');
  return Buffer.from(text.slice(0, begin) + text.slice(end + endMarker.length), 'latin1');
}

describe('domainconfig on a real hosts file', () => {
  it('adds, overwrites, lists and removes a mapping', async () => {
    await add('10.0.0.5', 'registry.example.com');
    assert.deepEqual(await listDomainMappings(hostsFile), [
      { ip: '10.0.0.5', domain: 'registry.example.com' },
    ]);

    const replaced = await add('10.0.0.6', 'Registry.Example.com');
    assert.deepEqual(replaced.previous, { ip: '10.0.0.5', domain: 'registry.example.com' });
    assert.deepEqual(await listDomainMappings(hostsFile), [
      { ip: '10.0.0.6', domain: 'registry.example.com' },
    ]);
    const text = await readFile(hostsFile, 'latin1');
    assert.ok(text.includes(`${blockMarkers.begin}\n10.0.0.6 registry.example.com\n`));
    assert.ok(text.endsWith(`${blockMarkers.end}\n${lastLine}`), 'the last line stays last');

    const { removed } = await removeDomainMapping('registry.example.com', options);
    assert.deepEqual(removed, { ip: '10.0.0.6', domain: 'registry.example.com' });
    assert.deepEqual(await listDomainMappings(hostsFile), []);
  });

  it('keeps every byte outside the block, and the whole file after add then remove', async () => {
    await add('10.0.0.5', 'a.example.com');
    await add('10.0.0.6', 'b.example.com');
    assert.deepEqual(outsideBlock(await readFile(hostsFile)), original);

    await removeDomainMapping('a.example.com', options);
    assert.deepEqual(outsideBlock(await readFile(hostsFile)), original);

    await removeDomainMapping('b.example.com', options);
    assert.deepEqual(await readFile(hostsFile), original);
  });

  it('removes reg.example.com and leaves myreg.example.com alone', async () => {
    await add('10.0.0.5', 'myreg.example.com');
    await add('10.0.0.6', 'reg.example.com');

    await removeDomainMapping('reg.example.com', options);

    assert.deepEqual(await listDomainMappings(hostsFile), [
      { ip: '10.0.0.5', domain: 'myreg.example.com' },
    ]);
  });

  it('never edits a line outside the block that names the same domain', async () => {
    const result = await add('10.0.0.5', 'reg.example.com');

    assert.deepEqual(result.alsoNamedAt, [{ line: 6, ip: '10.20.30.40', beforeBlock: true }]);
    assert.deepEqual(outsideBlock(await readFile(hostsFile)), original);

    const { removed } = await removeDomainMapping('reg.example.com', options);
    assert.equal(removed?.ip, '10.0.0.5');
    assert.deepEqual(await readFile(hostsFile), original);

    const again = await removeDomainMapping('reg.example.com', options);
    assert.equal(again.removed, undefined, 'the line outside the block is not a mapping to remove');
    assert.deepEqual(await readFile(hostsFile), original);
  });

  it(`holds at most ${maxDomainMappings} mappings, and still updates one at the cap`, async () => {
    for (let index = 0; index < maxDomainMappings; index += 1) {
      await add(`10.0.1.${index + 1}`, `reg${index}.example.com`);
    }
    const atCap = await readFile(hostsFile);

    await assert.rejects(
      add('10.0.2.1', 'one-more.example.com'),
      (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, ExitCode.limit);
        assert.match(error.message, /already holds 16 mappings, the most allowed is 16/);
        return true;
      },
    );
    assert.deepEqual(await readFile(hostsFile), atCap, 'the refused add changed nothing');

    const cli = await runMefEdge([
      'domainconfig',
      '--hosts-file',
      hostsFile,
      '--ip=10.0.2.1',
      '--domain=one-more.example.com',
    ]);
    assert.equal(cli.code, ExitCode.limit, cli.stderr);
    assert.deepEqual(await readFile(hostsFile), atCap);

    await add('10.0.2.9', 'reg7.example.com');
    const mappings = await listDomainMappings(hostsFile);
    assert.equal(mappings.length, maxDomainMappings);
    assert.deepEqual(mappings[7], { ip: '10.0.2.9', domain: 'reg7.example.com' });
  });

  it('keeps the mode and owner of the file, and of its backup', async (context) => {
    await chmod(hostsFile, 0o640);
    const isRoot = process.getuid?.() === 0;
    if (isRoot) await chown(hostsFile, 4321, 8765);
    const before = await stat(hostsFile);

    await add('10.0.0.5', 'reg.example.com');

    for (const file of [hostsFile, `${hostsFile}.bak`]) {
      const after = await stat(file);
      assert.equal(after.mode & 0o7777, 0o640, file);
      assert.equal(after.uid, before.uid, file);
      assert.equal(after.gid, before.gid, file);
    }
    assert.notEqual((await stat(hostsFile)).ino, before.ino, 'the file was replaced by rename');
    if (!isRoot) context.diagnostic('not root: the owner check used the current owner');
  });

  it('keeps the previous version as hosts.bak', async () => {
    await add('10.0.0.5', 'reg.example.com');
    assert.deepEqual(await readFile(`${hostsFile}.bak`), original);
    const first = await readFile(hostsFile);

    await add('10.0.0.6', 'reg.example.com');
    assert.deepEqual(await readFile(`${hostsFile}.bak`), first);

    await add('10.0.0.6', 'reg.example.com');
    assert.deepEqual(
      await readFile(`${hostsFile}.bak`),
      first,
      'an unchanged file is not rewritten',
    );
    const leftovers = (await readdir(path.dirname(hostsFile))).filter((name) =>
      name.endsWith('.tmp'),
    );
    assert.deepEqual(leftovers, []);
  });

  it('writes through a symlinked hosts file and keeps the link', async () => {
    const link = path.join(path.dirname(hostsFile), 'hosts-link');
    await symlink(hostsFile, link);

    await addDomainMapping(
      { ip: '10.0.0.5', domain: 'reg.example.com' },
      { ...options, hostsFile: link },
    );

    assert.deepEqual(await listDomainMappings(hostsFile), [
      { ip: '10.0.0.5', domain: 'reg.example.com' },
    ]);
    assert.ok((await lstat(link)).isSymbolicLink(), 'the link is still a link');
    assert.equal(await readlink(link), hostsFile);
  });

  it('creates a hosts file that does not exist yet', async () => {
    const fresh = path.join(path.dirname(hostsFile), 'fresh-hosts');

    await addDomainMapping(
      { ip: '10.0.0.5', domain: 'reg.example.com' },
      { ...options, hostsFile: fresh },
    );

    assert.equal(
      await readFile(fresh, 'utf8'),
      `${blockMarkers.begin}\n10.0.0.5 reg.example.com\n${blockMarkers.end}\n`,
    );
    assert.equal((await stat(fresh)).mode & 0o777, 0o644);
  });
});

describe('mef-edge domainconfig, the command', () => {
  it('adds, lists and removes through the command line', async () => {
    const added = await runMefEdge([
      'domainconfig',
      '--hosts-file',
      hostsFile,
      '--ip=10.0.0.5',
      '--domain=registry.example.com',
    ]);
    assert.equal(added.code, ExitCode.ok, added.stderr);
    assert.match(added.stdout, /mapped registry.example.com to 10.0.0.5/);

    const listed = await runMefEdge(['domainconfig', '--list', '--hosts-file', hostsFile]);
    assert.equal(listed.code, ExitCode.ok, listed.stderr);
    assert.equal(listed.stdout, '10.0.0.5 registry.example.com\n');

    const removed = await runMefEdge([
      'domainconfig',
      '--remove',
      '--domain',
      'registry.example.com',
      '--hosts-file',
      hostsFile,
    ]);
    assert.equal(removed.code, ExitCode.ok, removed.stderr);
    assert.deepEqual(await readFile(hostsFile), original);
  });

  it('refuses invalid input with exit code 2 and leaves the file as it was', async () => {
    const deviceAddress = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
    const cases: [string[], RegExp][] = [
      [['--ip=127.0.0.1', '--domain=reg.example.com'], /ip: must not be a loopback address/],
      [['--ip=10.0.0.05', '--domain=reg.example.com'], /ip: must be a dotted-quad/],
      [['--ip=10.0.0.5', '--domain=reg.example.com:5000'], /domain: must not carry a port/],
      [['--ip=10.0.0.5', '--domain=https://reg.example.com'], /domain: must be a bare host name/],
      [['--ip=10.0.0.5', '--domain=localhost'], /domain: must not name this host/],
      [['--ip=10.0.0.5'], /needs --ip and --domain/],
      [['--remove', '--domain=reg_1.example.com'], /domain: may hold only letters/],
      [['--list', '--ip=10.0.0.5'], /--list: takes no --ip/],
      [['--ip'], /argument missing/],
      [['--port=80'], /unknown option/],
    ];
    if (deviceAddress !== undefined) {
      cases.push([[`--ip=${deviceAddress}`, '--domain=reg.example.com'], /address of this host/]);
    }

    // The runs only read the file, so they may share it.
    const results = await Promise.all(
      cases.map(([args]) => runMefEdge(['domainconfig', '--hosts-file', hostsFile, ...args])),
    );

    cases.forEach(([args, message], index) => {
      const result = results[index]!;
      assert.equal(result.code, ExitCode.usage, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    });
    assert.deepEqual(await readFile(hostsFile), original);
    assert.deepEqual(await readdir(path.dirname(hostsFile)), ['hosts'], 'no backup, no temp file');
  });

  it('applies every one of several runs started at the same moment', async () => {
    const domains = ['one', 'two', 'three', 'four'].map((name) => `${name}.example.com`);

    const results = await Promise.all(
      domains.map((domain, index) =>
        runMefEdge([
          'domainconfig',
          '--hosts-file',
          hostsFile,
          `--ip=10.0.3.${index + 1}`,
          `--domain=${domain}`,
        ]),
      ),
    );

    for (const result of results) assert.equal(result.code, ExitCode.ok, result.stderr);
    const mapped = (await listDomainMappings(hostsFile)).map(({ domain }) => domain).sort();
    assert.deepEqual(mapped, [...domains].sort());
    assert.deepEqual(outsideBlock(await readFile(hostsFile)), original);
  });

  it('gives up with exit code 5 when another run holds the lock', async () => {
    await mkdir(`${hostsFile}.lock`);

    const result = await runMefEdge([
      '--lock-wait',
      '0.3',
      'domainconfig',
      '--hosts-file',
      hostsFile,
      '--ip=10.0.0.5',
      '--domain=reg.example.com',
    ]);

    assert.equal(result.code, ExitCode.lockBusy, result.stderr);
    assert.match(result.stderr, /hosts\.lock: still held by another mef-edge run after 0\.3 s/);
    assert.deepEqual(await readFile(hostsFile), original);
  });

  it('refuses to edit a damaged block with exit code 1', async () => {
    const damaged = Buffer.concat([
      original,
      Buffer.from(`\n${blockMarkers.begin}\n10.0.0.5 x.test\n`),
    ]);
    await writeFile(hostsFile, damaged);

    const result = await runMefEdge([
      'domainconfig',
      '--hosts-file',
      hostsFile,
      '--ip=10.0.0.6',
      '--domain=reg.example.com',
    ]);

    assert.equal(result.code, ExitCode.failure, result.stderr);
    assert.match(result.stderr, /line 9: a begin marker without an end marker/);
    assert.deepEqual(await readFile(hostsFile), damaged);
  });
});

// mefctl as an operator runs it: real processes against an in-process service over mutual TLS.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exitCodes } from '../../../src/client/exit-codes.js';
import { StatusCode } from '../../../src/domain/status.js';
import {
  createCertificateAuthority,
  issueCertificate,
} from '../../../src/pki/certificate-authority.js';
import { FileCertificateStore } from '../../../src/store/file-certificate-store.js';
import { startTestService, type TestService } from '../../support/test-service.js';

const repository = fileURLToPath(new URL('../../../', import.meta.url));
const mefctlCommand = ['--import', 'tsx', 'src/cli/mefctl.ts'];
/** The environment without the variables that would point mefctl elsewhere. */
const environment = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !['MEFCTL_SERVER', 'MEF_DATA_DIR'].includes(name)),
);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process from the repository directory, feeding `stdin`, bounded in time. */
function runProcess(command: string, args: string[], stdin?: Buffer | string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repository,
      env: environment,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

/** Fails when the password shows in the output, as text or as the byte array sent. */
function assertPasswordNotShown(run: Run, password: Buffer): void {
  const output = run.stdout + run.stderr;
  assert.ok(!output.includes(password.toString('utf8')), 'the password is in the output');
  assert.ok(!output.includes([...password].join(',')), 'the password bytes are in the output');
}

async function readDockerConfigEntry(dataDir: string, key: string) {
  const config = JSON.parse(await readFile(path.join(dataDir, 'dockerconfig.json'), 'utf8'));
  return config.auths[key] as { username: string; password: string; auth: string } | undefined;
}

describe('mefctl', () => {
  let test: TestService;
  let scratch: string;
  /** Global options that point mefctl at the test service and its development PKI. */
  let target: string[];
  const mefctl = (args: string[], stdin?: Buffer | string) =>
    runProcess(process.execPath, [...mefctlCommand, ...target, ...args], stdin);

  before(async () => {
    test = await startTestService();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'mefctl-test-'));
    target = ['--server', test.service.apiUrl, '--data-dir', test.dataDir];
  });
  after(async () => {
    await test.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  // Registry verification is tested on its own; here it would only wait on name resolution.
  const configure = ['image', 'config', '--verify', 'off'].concat([
    '--domain',
    'registry.example.com',
    '--port',
    '443',
  ]);
  const registryKey = 'registry.example.com:443';

  describe('image config --password-stdin', () => {
    const password = 'Passw0rd#1';
    const lineEndings = [
      { name: 'a line feed', input: `${password}\n` },
      { name: 'a carriage return and a line feed', input: `${password}\r\n` },
      { name: 'no line ending', input: password },
    ];
    for (const { name, input } of lineEndings) {
      it(`strips ${name} and stores exactly the password`, async () => {
        const account = `robot-${lineEndings.findIndex((item) => item.input === input)}`;
        const run = await mefctl([...configure, '--account', account, '--password-stdin'], input);

        assert.equal(run.code, exitCodes.success, run.stderr);
        assert.equal(run.stdout, 'success\n');
        assertPasswordNotShown(run, Buffer.from(password));
        const entry = await readDockerConfigEntry(test.dataDir, registryKey);
        assert.equal(entry?.username, account);
        assert.equal(entry?.password, password);
      });
    }

    it('strips only one line feed: a second one reaches the service, which refuses it', async () => {
      const before = await readDockerConfigEntry(test.dataDir, registryKey);
      const run = await mefctl(
        [...configure, '--account', 'robot-x', '--password-stdin'],
        `${password}\n\n`,
      );

      assert.equal(run.code, exitCodes.refused);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /password: must not contain control characters/);
      assert.match(run.stderr, new RegExp(`status ${StatusCode.ruleBroken}, HTTP 400`));
      assertPasswordNotShown(run, Buffer.from(password));
      assert.deepEqual(await readDockerConfigEntry(test.dataDir, registryKey), before);
    });

    const exactPasswords = [
      { name: 'a UTF-8 password', bytes: Buffer.from('Pässwörd1€', 'utf8') },
      { name: 'a password with a quote and a backslash', bytes: Buffer.from('Pa"ss\\wo"rd\\') },
    ];
    for (const { name, bytes } of exactPasswords) {
      it(`stores exactly the bytes of ${name}`, async () => {
        const run = await mefctl(
          [...configure, '--account', 'robot', '--password-stdin'],
          Buffer.concat([bytes, Buffer.from('\n')]),
        );

        assert.equal(run.code, exitCodes.success, run.stderr);
        assertPasswordNotShown(run, bytes);
        const entry = await readDockerConfigEntry(test.dataDir, registryKey);
        assert.deepEqual(Buffer.from(entry?.password ?? '', 'utf8'), bytes);
        const auth = Buffer.from(entry?.auth ?? '', 'base64');
        assert.deepEqual(auth, Buffer.concat([Buffer.from('robot:'), bytes]));
      });
    }

    const singleLabel = ['image', 'config', '--domain', 'registry', '--port', '5000'].concat(
      '--account',
      'robot',
      '--password-stdin',
    );

    it('prints the service warnings, each on its own line', async () => {
      const run = await mefctl([...singleLabel, '--verify', 'off'], `${password}\n`);

      assert.equal(run.code, exitCodes.success, run.stderr);
      assert.equal(run.stdout, 'success\n');
      assert.match(run.stderr, /^warning: domain "registry" has no dot: [^\n]*\n$/);
    });

    it('passes --verify on to the service', async () => {
      const warned = await mefctl([...singleLabel, '--verify', 'warn'], `${password}\n`);
      assert.equal(warned.code, exitCodes.success, warned.stderr);
      assert.match(warned.stderr, /^warning: registry verification failed .*\(verify=warn\)$/m);

      const enforced = await mefctl([...singleLabel, '--verify', 'enforce'], `${password}\n`);
      assert.equal(enforced.code, exitCodes.refused, enforced.stderr);
      assert.match(enforced.stderr, new RegExp(`status ${StatusCode.applyFailed}, HTTP 400`));
      assertPasswordNotShown(enforced, Buffer.from(password));
    });

    it('prints the msg and status of a refusal and exits 1', async () => {
      const localhost = ['--domain', 'localhost', '--port', '443', '--account', 'robot'];
      const run = await mefctl(
        ['image', 'config', ...localhost, '--password-stdin'],
        `${password}\n`,
      );

      assert.equal(run.code, exitCodes.refused);
      assert.equal(
        run.stderr,
        `mefctl: domain: must not name this host (localhost) (status ${StatusCode.ruleBroken}, ` +
          'HTTP 400)\n',
      );
    });
  });

  describe('usage', () => {
    it('refuses a --password flag and points to the prompt and --password-stdin', async () => {
      const before = await readFile(path.join(test.dataDir, 'dockerconfig.json'));
      const run = await mefctl([...configure, '--account', 'robot', '--password', 'Flag12#$pass']);

      assert.equal(run.code, exitCodes.usage);
      assert.match(run.stderr, /--password is not accepted/);
      assert.match(run.stderr, /prompt/);
      assert.match(run.stderr, /--password-stdin/);
      assertPasswordNotShown(run, Buffer.from('Flag12#$pass'));
      assert.deepEqual(await readFile(path.join(test.dataDir, 'dockerconfig.json')), before);
    });

    const usageErrors = [
      { name: 'a missing --port', args: ['image', 'config', '--domain', 'r.example.com'] },
      {
        name: 'a --port that is not a number',
        args: ['image', 'config', '--domain', 'r.example.com', '--port', 'x', '--account', 'a'],
      },
      { name: 'an unknown --verify mode', args: [...configure, '--account', 'a', '--verify', 'x'] },
      { name: 'an unknown certificate name', args: ['cert', 'delete', '--name', 'other'] },
      { name: 'a command without its subcommand', args: ['image'] },
      { name: 'a --server that is not https', args: ['--server', 'http://h:1', 'image', 'show'] },
    ];
    for (const { name, args } of usageErrors) {
      it(`exits 2 on ${name}`, async () => {
        const run = await mefctl(args, '');
        assert.equal(run.code, exitCodes.usage, run.stderr);
        assert.notEqual(run.stderr, '');
      });
    }

    it('asks for --password-stdin when stdin is not a terminal', async () => {
      const run = await mefctl([...configure, '--account', 'robot'], '');
      assert.equal(run.code, exitCodes.usage);
      assert.match(run.stderr, /stdin is not a terminal.*--password-stdin/);
    });

    it('documents the exit codes in --help', async () => {
      const run = await mefctl(['--help']);
      assert.equal(run.code, exitCodes.success);
      for (const code of Object.values(exitCodes)) {
        assert.match(run.stdout, new RegExp(`^  ${code} +\\S`, 'm'));
      }
    });
  });

  describe('cannot reach the service', () => {
    let otherAuthority: Awaited<ReturnType<typeof createCertificateAuthority>>;
    before(async () => {
      otherAuthority = await createCertificateAuthority('Some other CA');
    });

    it('exits 3 when the server certificate is not signed by --cacert', async () => {
      const cacert = path.join(scratch, 'other-ca.crt');
      await writeFile(cacert, otherAuthority.certificatePem);
      const run = await mefctl(['--cacert', cacert, 'image', 'show']);

      assert.equal(run.code, exitCodes.unreachable);
      assert.match(run.stderr, /cannot reach .*--cacert/);
    });

    it('exits 3 when the client key is missing', async () => {
      const run = await mefctl(['--key', path.join(scratch, 'missing.key'), 'image', 'show']);

      assert.equal(run.code, exitCodes.unreachable);
      assert.match(run.stderr, /cannot read the client key .*missing\.key \(ENOENT\).*--key/);
    });

    const keysThatDoNotFit = [
      { name: 'another key', pem: () => otherAuthority.privateKeyPem, file: 'other.key' },
      { name: 'a CA certificate', pem: () => otherAuthority.certificatePem, file: 'ca-as.key' },
    ];
    for (const { name, pem, file } of keysThatDoNotFit) {
      it(`exits 3 at once, naming the files, when --key is ${name}`, async () => {
        const key = path.join(scratch, file);
        await writeFile(key, pem());
        const started = Date.now();
        const run = await mefctl(['--timeout', '25', '--key', key, 'image', 'show']);

        assert.equal(run.code, exitCodes.unreachable, run.stderr);
        assert.ok(Date.now() - started < 15_000, 'mefctl waited for --timeout');
        assert.ok(run.stderr.includes(key), run.stderr);
        assert.ok(run.stderr.includes(path.join(test.dataDir, 'pki', 'client.crt')), run.stderr);
        assert.match(run.stderr, /check --key/);
        assert.doesNotMatch(run.stderr, /ReferenceError|no answer from/);
      });
    }

    it('exits 3 when the service refuses the client certificate', async () => {
      const client = await issueCertificate(otherAuthority, {
        commonName: 'stranger',
        usage: 'client',
      });
      const cert = path.join(scratch, 'stranger.crt');
      const key = path.join(scratch, 'stranger.key');
      await writeFile(cert, client.certificatePem);
      await writeFile(key, client.privateKeyPem);
      const run = await mefctl(['--cert', cert, '--key', key, 'image', 'show']);

      assert.equal(run.code, exitCodes.unreachable);
      assert.match(run.stderr, /cannot reach /);
    });

    it('exits 3 when nothing listens', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as { port: number };
      await new Promise((resolve) => closed.close(resolve));
      const run = await mefctl(['--server', `https://127.0.0.1:${port}`, 'image', 'show']);

      assert.equal(run.code, exitCodes.unreachable);
      assert.match(run.stderr, /ECONNREFUSED/);
    });

    it('exits 3 when no answer comes within --timeout', async () => {
      const silent: Server = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as { port: number };
      try {
        const run = await mefctl([
          '--server',
          `https://127.0.0.1:${port}`,
          '--timeout',
          '0.5',
          'image',
          'show',
        ]);
        assert.equal(run.code, exitCodes.unreachable);
        assert.match(run.stderr, /no answer from https:\/\/127\.0\.0\.1:\d+ within 0\.5 s/);
      } finally {
        silent.close();
      }
    });
  });

  describe('image show', () => {
    it('says "not configured" before the first configuration, then shows it', async () => {
      const fresh = await startTestService();
      const freshTarget = ['--server', fresh.service.apiUrl, '--data-dir', fresh.dataDir];
      const show = (args: string[] = [], stdin?: string) =>
        runProcess(process.execPath, [...mefctlCommand, ...freshTarget, ...args], stdin);
      try {
        const empty = await show(['image', 'show']);
        assert.equal(empty.code, exitCodes.success, empty.stderr);
        assert.equal(empty.stdout, 'not configured\n');
        const emptyJson = await show(['image', 'show', '--json']);
        assert.equal(emptyJson.stdout, 'null\n');

        const password = Buffer.from('Show12#$pass');
        const configured = await show(
          [...configure, '--ip', '10.20.30.40', '--account', 'viewer', '--password-stdin'],
          `${password}\n`,
        );
        assert.equal(configured.code, exitCodes.success, configured.stderr);

        const table = await show(['image', 'show']);
        assert.equal(table.code, exitCodes.success, table.stderr);
        assert.match(table.stdout, /^domain +registry\.example\.com$/m);
        assert.match(table.stdout, /^ip +10\.20\.30\.40$/m);
        assert.match(table.stdout, /^port +443$/m);
        assert.match(table.stdout, /^account +viewer$/m);
        assert.match(table.stdout, /^registry address +registry\.example\.com:443$/m);
        assertPasswordNotShown(table, password);

        const json = await show(['image', 'show', '--json']);
        const data = JSON.parse(json.stdout);
        assert.equal(data.account, 'viewer');
        assert.equal(data.port, 443);
        assert.ok(!('password' in data));
        assertPasswordNotShown(json, password);
      } finally {
        await fresh.stop();
      }
    });
  });

  describe('cert import and delete', () => {
    let certificates: FileCertificateStore;
    beforeEach(() => {
      certificates = new FileCertificateStore({ dataDir: test.dataDir });
    });

    it('imports a CA certificate from a PEM file, then deletes it', async () => {
      const authority = await createCertificateAuthority('Registry CA');
      const file = path.join(scratch, 'registry-ca.pem');
      await writeFile(file, authority.certificatePem);

      const imported = await mefctl(['cert', 'import', '--name', 'image', '--file', file]);
      assert.equal(imported.code, exitCodes.success, imported.stderr);
      assert.match(imported.stdout, /^success\n/);
      assert.match(imported.stdout, /^subject +.*CN=Registry CA/m);
      const stored = await readFile(certificates.paths('image').current, 'utf8');
      assert.equal(stored.trim(), authority.certificatePem.trim());

      const deleted = await mefctl(['cert', 'delete', '--name', 'image']);
      assert.equal(deleted.code, exitCodes.success, deleted.stderr);
      assert.equal(deleted.stdout, 'success\n');
      await assert.rejects(readFile(certificates.paths('image').current), { code: 'ENOENT' });

      const again = await mefctl(['cert', 'delete', '--name', 'image']);
      assert.equal(again.code, exitCodes.success, again.stderr);
      assert.match(again.stderr, /^warning: no image certificate was imported/);
    });

    it('exits 1 with the service msg when the file is not a certificate', async () => {
      const file = path.join(scratch, 'not-a-certificate.pem');
      await writeFile(file, 'hello\n');
      const run = await mefctl(['cert', 'import', '--name', 'software', '--file', file]);

      assert.equal(run.code, exitCodes.refused);
      assert.match(run.stderr, new RegExp(`status ${StatusCode.invalidCertificate}, HTTP 400`));
    });

    it('exits 2 when the file cannot be read', async () => {
      const missing = path.join(scratch, 'missing.pem');
      const run = await mefctl(['cert', 'import', '--name', 'image', '--file', missing]);

      assert.equal(run.code, exitCodes.usage);
      assert.match(run.stderr, /--file: cannot read .*missing\.pem \(ENOENT\)/);
    });
  });

  describe('the hidden prompt, under a real pseudo-terminal', () => {
    /**
     * Runs mefctl under `script`, which gives it a pseudo-terminal, and types `keystrokes` once
     * the prompt shows: typing earlier would be echoed by the terminal, as for a person.
     */
    function typeAtPrompt(args: string[], keystrokes: Buffer): Promise<Run> {
      const command = [process.execPath, ...mefctlCommand, ...target, ...args]
        .map((word) => `'${word.replace(/'/g, `'\\''`)}'`)
        .join(' ');
      return new Promise((resolve, reject) => {
        const child = spawn('script', ['-qefc', command, '/dev/null'], {
          cwd: repository,
          env: environment,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let screen = '';
        let typed = false;
        child.stdout.on('data', (chunk) => {
          screen += chunk;
          if (!typed && screen.includes('Password for ')) {
            typed = true;
            child.stdin.write(keystrokes);
          }
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          child.stdin.destroy();
          resolve({ code, stdout: screen, stderr: '' });
        });
      });
    }

    it('reads the password without echo, honouring Backspace on UTF-8 characters', async () => {
      const password = Buffer.from('Tty12#$pä€ss');
      // Types a wrong last character, erases it, then a two-byte one erased as a whole.
      const keystrokes = Buffer.concat([
        password,
        Buffer.from('xä'),
        Buffer.from([0x7f, 0x7f]),
        Buffer.from('\r'),
      ]);
      const run = await typeAtPrompt([...configure, '--account', 'typist'], keystrokes);

      assert.equal(run.code, exitCodes.success, run.stdout);
      assert.match(run.stdout, /Password for typist at registry\.example\.com:443: /);
      assert.match(run.stdout, /success/);
      assertPasswordNotShown(run, password);
      const entry = await readDockerConfigEntry(test.dataDir, registryKey);
      assert.equal(entry?.username, 'typist');
      assert.deepEqual(Buffer.from(entry?.password ?? '', 'utf8'), password);
    });

    it('sends nothing and exits 130 on Ctrl-C', async () => {
      const before = await readFile(path.join(test.dataDir, 'dockerconfig.json'));
      const run = await typeAtPrompt(
        [...configure, '--account', 'quitter'],
        Buffer.from('Never12#$\x03'),
      );

      assert.equal(run.code, exitCodes.cancelled, run.stdout);
      assert.match(run.stdout, /cancelled at the password prompt/);
      assertPasswordNotShown(run, Buffer.from('Never12#$'));
      assert.deepEqual(await readFile(path.join(test.dataDir, 'dockerconfig.json')), before);
    });
  });
});

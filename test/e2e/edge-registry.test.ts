// mef-edge against a real registry: the CA it installs is what makes skopeo trust the registry,
// and the hosts file it writes is what makes the registry name resolve on a device. The device
// is a network namespace of its own, wired to a second namespace that forwards to the registry.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ExitCode } from '../../src/edge/edge-error.js';
import { stopProcess, type CommandResult } from './support/processes.js';
import {
  runWithHostsFile,
  skopeoInspect,
  startTestRegistry,
  type TestRegistry,
} from './support/registry.js';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const mefEdge = ['--import', 'tsx', path.join(repositoryRoot, 'src', 'cli', 'mef-edge.ts')];

/** Runs a command with no standard input (so a quick exit cannot break a pipe) to its end. */
function runCommand(command: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const isRoot = process.getuid?.() === 0;
const hasIp = await runCommand('ip', ['-V']).then(
  (result) => result.code === 0,
  () => false,
);

function runMefEdge(args: string[]): Promise<CommandResult> {
  return runCommand(process.execPath, [...mefEdge, ...args]);
}

async function mustRun(command: string, args: string[]): Promise<void> {
  const result = await runCommand(command, args);
  assert.equal(result.code, 0, `${command} ${args.join(' ')}: ${result.stderr}`);
}

/** skopeo sees no proxy, no auth file and no user configuration: only what the test passes. */
function skopeoEnvironment(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/proxy|^DOCKER_|^REGISTRY_|^XDG_|^CONTAINERS_/i.test(name)) env[name] = value;
  }
  return { ...env, HOME: home, REGISTRY_AUTH_FILE: path.join(home, 'no-credentials.json') };
}

/**
 * Two network namespaces joined by a veth pair on a /30 of their own: `device` plays the edge
 * device, `registryHost` the machine the registry runs on. No address or route is added to
 * the machine's own namespace.
 */
interface TestNetwork {
  device: string;
  registryHost: string;
  deviceIp: string;
  registryIp: string;
  remove(): Promise<void>;
}

async function createTestNetwork(): Promise<TestNetwork> {
  const id = randomBytes(3).toString('hex');
  const device = `mef-edge-device-${id}`;
  const registryHost = `mef-edge-registry-${id}`;
  const subnet = `10.213.${randomInt(256)}`;
  const deviceIp = `${subnet}.2`;
  const registryIp = `${subnet}.1`;
  const remove = async () => {
    for (const name of [device, registryHost]) {
      await runCommand('ip', ['netns', 'delete', name]).catch(() => undefined);
    }
  };

  try {
    await mustRun('ip', ['netns', 'add', device]);
    await mustRun('ip', ['netns', 'add', registryHost]);
    await mustRun('ip', ['link', 'add', `mefd${id}`, 'type', 'veth', 'peer', 'name', `mefr${id}`]);
    await mustRun('ip', ['link', 'set', `mefd${id}`, 'netns', device]);
    await mustRun('ip', ['link', 'set', `mefr${id}`, 'netns', registryHost]);
    for (const [namespace, link, ip] of [
      [device, `mefd${id}`, deviceIp],
      [registryHost, `mefr${id}`, registryIp],
    ] as const) {
      await mustRun('ip', ['-n', namespace, 'address', 'add', `${ip}/30`, 'dev', link]);
      await mustRun('ip', ['-n', namespace, 'link', 'set', link, 'up']);
      await mustRun('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return { device, registryHost, deviceIp, registryIp, remove };
}

/** Runs in the registry-host namespace: TCP on the namespace address to a Unix socket. */
const forwarderScript = `
const net = require('node:net');
const [host, port, socketPath] = process.argv.slice(1);
net.createServer((client) => {
  const upstream = net.connect(socketPath);
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
}).listen(Number(port), host, () => console.log('ready'));
`;

/**
 * Makes the registry (on 127.0.0.1 of this machine) answer at `registryIp:port` inside the
 * registry-host namespace: a Unix socket crosses the namespaces, a process in the namespace
 * listens on TCP and pipes into it.
 */
async function forwardRegistry(
  network: TestNetwork,
  registry: TestRegistry,
  socketPath: string,
): Promise<{ stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const bridge: Server = createServer((client) => {
    const upstream = connect(registry.port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => bridge.listen(socketPath, resolve));

  const forwarder: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      network.registryHost,
      process.execPath,
      '-e',
      forwarderScript,
      network.registryIp,
      String(registry.port),
      socketPath,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    forwarder.once('error', reject);
    forwarder.once('exit', (code) => reject(new Error(`the forwarder exited with ${code}`)));
    forwarder.stdout?.once('data', () => resolve());
  });

  return {
    stop: async () => {
      await stopProcess(forwarder);
      // close() waits for open connections; the registry keeps idle ones alive.
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => bridge.close(resolve));
    },
  };
}

describe('mef-edge with a real registry', () => {
  let registry: TestRegistry;
  let directory: string;
  let root: string;
  let certDir: string;
  let creds: string;

  before(async () => {
    registry = await startTestRegistry();
    directory = await mkdtemp(path.join(tmpdir(), 'mef-e2e-edge-'));
    root = path.join(directory, 'root');
    await mkdir(root);
    certDir = path.join(root, 'etc', 'docker', 'certs.d', registry.address);
    creds = `${registry.username}:${registry.password}`;
  });

  after(async () => {
    await registry?.stop();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('registry-ca install makes skopeo trust the registry; remove takes it away', async () => {
    const untrusted = await skopeoInspect(registry, { certDir, creds });
    assert.notEqual(untrusted.code, 0, 'the registry is trusted before the CA is installed');
    assert.match(untrusted.stderr, /certificate signed by unknown authority/);

    const install = await runMefEdge([
      'registry-ca',
      'install',
      '--root',
      root,
      '--address',
      registry.address,
      '--cert',
      registry.caFile,
    ]);
    assert.equal(install.code, ExitCode.ok, install.stderr);

    for (const runtimeDir of ['docker', 'containerd']) {
      const dir = path.join(root, 'etc', runtimeDir, 'certs.d', registry.address);
      const trusted = await skopeoInspect(registry, { certDir: dir, creds });
      assert.equal(trusted.code, 0, `${runtimeDir}: ${trusted.stderr}`);
      assert.equal((JSON.parse(trusted.stdout) as { Digest: string }).Digest, registry.digest);
    }

    const remove = await runMefEdge([
      'registry-ca',
      'remove',
      '--root',
      root,
      '--address',
      registry.address,
    ]);
    assert.equal(remove.code, ExitCode.ok, remove.stderr);
    const removed = await skopeoInspect(registry, { certDir, creds });
    assert.notEqual(removed.code, 0);
    assert.match(removed.stderr, /certificate signed by unknown authority/);
  });

  it(
    'domainconfig writes the hosts file that makes the registry name resolve on a device',
    { skip: (!isRoot || !hasIp) && 'needs root and iproute2 (ip) for network namespaces' },
    async () => {
      const network = await createTestNetwork();
      const forwarding = await forwardRegistry(
        network,
        registry,
        path.join(directory, 'registry.sock'),
      );
      try {
        const install = await runMefEdge([
          'registry-ca',
          'install',
          '--root',
          root,
          '--address',
          registry.address,
          '--cert',
          registry.caFile,
        ]);
        assert.equal(install.code, ExitCode.ok, install.stderr);

        const hostsFile = path.join(directory, 'device-hosts');
        const withoutMapping = '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n';
        await writeFile(hostsFile, withoutMapping, { mode: 0o644 });
        const home = path.join(directory, 'skopeo-home');
        await mkdir(home, { recursive: true });
        const onDevice = (command: string, args: string[]) =>
          runWithHostsFile(hostsFile, 'ip', ['netns', 'exec', network.device, command, ...args], {
            env: skopeoEnvironment(home),
            cwd: repositoryRoot,
          });
        const inspect = () =>
          onDevice('skopeo', [
            'inspect',
            '--tls-verify=true',
            '--cert-dir',
            certDir,
            '--creds',
            creds,
            `docker://${registry.image}`,
          ]);

        const unresolved = await inspect();
        assert.notEqual(unresolved.code, 0, 'the name resolved before it was mapped');
        assert.match(unresolved.stderr, /no such host|lookup/);

        // mef-edge runs on the device, so its own address is the one the ip rule refuses.
        const ownAddress = await onDevice(process.execPath, [
          ...mefEdge,
          'domainconfig',
          '--hosts-file',
          hostsFile,
          `--ip=${network.deviceIp}`,
          `--domain=${registry.domain}`,
        ]);
        assert.equal(ownAddress.code, ExitCode.usage, ownAddress.stderr);
        assert.match(ownAddress.stderr, /ip: must not be an address of this host/);
        assert.equal(await readFile(hostsFile, 'utf8'), withoutMapping);

        const mapped = await onDevice(process.execPath, [
          ...mefEdge,
          'domainconfig',
          '--hosts-file',
          hostsFile,
          `--ip=${network.registryIp}`,
          `--domain=${registry.domain}`,
        ]);
        assert.equal(mapped.code, ExitCode.ok, mapped.stderr);

        const lookup = await onDevice('getent', ['hosts', registry.domain]);
        assert.equal(lookup.stdout.split(/\s+/)[0], network.registryIp, lookup.stderr);
        const resolved = await inspect();
        assert.equal(resolved.code, 0, resolved.stderr);
        assert.equal((JSON.parse(resolved.stdout) as { Digest: string }).Digest, registry.digest);

        const unmapped = await onDevice(process.execPath, [
          ...mefEdge,
          'domainconfig',
          '--hosts-file',
          hostsFile,
          '--remove',
          `--domain=${registry.domain}`,
        ]);
        assert.equal(unmapped.code, ExitCode.ok, unmapped.stderr);
        assert.equal(await readFile(hostsFile, 'utf8'), withoutMapping);
        assert.notEqual((await inspect()).code, 0, 'the name still resolves after --remove');
      } finally {
        await forwarding.stop();
        await network.remove();
      }
    },
  );
});

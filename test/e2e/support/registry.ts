// A real container registry for the end-to-end tests: Debian's docker-registry (distribution v2)
// under TLS from a throwaway CA, with htpasswd auth and one small image already pushed.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeOciImageLayout } from './oci-image.js';
import {
  createCertificateAuthority,
  issueCertificate,
} from '../../../src/pki/certificate-authority.js';
import {
  findFreePort,
  runCommand,
  runWithHostsFile,
  stopProcess,
  waitUntilReady,
  type CommandResult,
} from './processes.js';

export { runWithHostsFile, spawnWithHostsFile } from './processes.js';

export interface TestRegistry {
  /** A test-only name that resolves only through {@link TestRegistry.hostsFile}. */
  domain: string;
  port: number;
  /** `${domain}:${port}` */
  address: string;
  /** PEM of the test CA that signed the registry's server certificate. */
  caFile: string;
  caPem: string;
  username: string;
  /** ASCII, 16 bytes, no ':'. */
  password: string;
  /** `${address}/mef/hello:1.0`, pushed and pullable with the credentials. */
  image: string;
  /** The manifest digest of {@link TestRegistry.image}, as `skopeo inspect` reports it. */
  digest: string;
  /** Maps domain to 127.0.0.1, plus the localhost lines. */
  hostsFile: string;
  /** The temp dir holding everything; removed by stop(). */
  directory: string;
  stop(): Promise<void>;
}

const defaultDomain = 'registry.mef.test';
const repository = 'mef/hello';
const tag = '1.0';
const passwordAlphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** Variables that would send skopeo through a proxy or to someone's own credentials. */
const leakyVariables = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'all_proxy',
  'no_proxy',
  'DOCKER_CONFIG',
  'REGISTRY_AUTH_FILE',
  'XDG_CONFIG_HOME',
  'XDG_RUNTIME_DIR',
  'CONTAINERS_REGISTRIES_CONF',
  'CONTAINERS_AUTH_FILE',
];

function randomPassword(length = 16): string {
  return Array.from({ length }, () => passwordAlphabet[randomInt(passwordAlphabet.length)]).join(
    '',
  );
}

/** The environment every skopeo run gets: a private HOME, no auth file, no proxy. */
function isolatedSkopeoEnvironment(directory: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of leakyVariables) delete env[name];
  const home = path.join(directory, 'skopeo-home');
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
    // Points at a file that never exists, so only --authfile or --creds can grant access.
    REGISTRY_AUTH_FILE: path.join(home, 'no-credentials.json'),
  };
}

/** The registry's environment: REGISTRY_* variables would override its config file. */
function registryEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('REGISTRY_')) env[name] = value;
  }
  return env;
}

function registryConfig(options: {
  port: number;
  storage: string;
  certificateFile: string;
  keyFile: string;
  htpasswdFile: string;
}): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(options.storage)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${options.port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    '  tls:',
    `    certificate: ${JSON.stringify(options.certificateFile)}`,
    `    key: ${JSON.stringify(options.keyFile)}`,
    'auth:',
    '  htpasswd:',
    '    realm: mef-test-registry',
    `    path: ${JSON.stringify(options.htpasswdFile)}`,
    '',
  ].join('\n');
}

/** True once the registry answers `/v2/` over TLS, with anything (401 without credentials). */
function registryAnswers(port: number, domain: string, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request(
      { host: '127.0.0.1', port, path: '/v2/', servername: domain, ca: caPem, timeout: 2_000 },
      (response) => {
        response.resume();
        resolve(response.statusCode !== undefined);
      },
    );
    probe.on('error', () => resolve(false));
    probe.on('timeout', () => probe.destroy());
    probe.end();
  });
}

function tail(file: string, characters = 4_000): string {
  try {
    return readFileSync(file, 'utf8').slice(-characters);
  } catch {
    return '(no log)';
  }
}

function assertSucceeded(what: string, result: CommandResult): void {
  if (result.code !== 0) {
    throw new Error(`${what} failed with exit code ${result.code}: ${result.stderr.trim()}`);
  }
}

async function writeCredentials(htpasswdFile: string, username: string, password: string) {
  // -i reads the password from standard input, so it never shows in a process listing.
  const result = await runCommand('htpasswd', ['-Bin', username], { input: password });
  assertSucceeded('htpasswd', result);
  await writeFile(htpasswdFile, result.stdout, { mode: 0o600 });
}

/**
 * Starts a TLS registry with htpasswd auth on a free loopback port and pushes
 * `${address}/mef/hello:1.0` to it.
 *
 * @example
 * const registry = await startTestRegistry();
 * try { ... } finally { await registry.stop(); }
 */
export async function startTestRegistry(options: { domain?: string } = {}): Promise<TestRegistry> {
  const domain = options.domain ?? defaultDomain;
  const directory = await mkdtemp(path.join(tmpdir(), 'mef-e2e-registry-'));
  let child: ChildProcess | undefined;
  try {
    const certDirectory = path.join(directory, 'certs');
    await mkdir(certDirectory);
    await mkdir(path.join(directory, 'skopeo-home'));

    const authority = await createCertificateAuthority('MEF end-to-end test registry CA', 1);
    const server = await issueCertificate(authority, {
      commonName: domain,
      usage: 'server',
      subjectAltNames: { dns: [domain], ip: ['127.0.0.1'] },
    });
    const caFile = path.join(directory, 'ca.pem');
    const certificateFile = path.join(directory, 'server.crt');
    const keyFile = path.join(directory, 'server.key');
    await writeFile(caFile, authority.certificatePem);
    // skopeo's --cert-dir takes every *.crt in the directory as a trusted CA.
    await writeFile(path.join(certDirectory, 'ca.crt'), authority.certificatePem);
    await writeFile(certificateFile, server.certificatePem);
    await writeFile(keyFile, server.privateKeyPem, { mode: 0o600 });

    const username = 'mef-robot';
    const password = randomPassword();
    const htpasswdFile = path.join(directory, 'htpasswd');
    await writeCredentials(htpasswdFile, username, password);

    const hostsFile = path.join(directory, 'hosts');
    await writeFile(
      hostsFile,
      `127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 ${domain}\n`,
    );

    const port = await findFreePort();
    const configFile = path.join(directory, 'config.yml');
    const storage = path.join(directory, 'storage');
    await writeFile(
      configFile,
      registryConfig({ port, storage, certificateFile, keyFile, htpasswdFile }),
    );

    const logFile = path.join(directory, 'registry.log');
    const log = openSync(logFile, 'a');
    child = spawn('docker-registry', ['serve', configFile], {
      env: registryEnvironment(),
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const registryProcess = child;
    const spawnFailure = new Promise<never>((_, reject) =>
      registryProcess.once('error', (error) => reject(error)),
    );
    await Promise.race([
      spawnFailure,
      waitUntilReady(
        'docker-registry',
        registryProcess,
        () => registryAnswers(port, domain, authority.certificatePem),
        () => tail(logFile),
      ),
    ]);

    const address = `${domain}:${port}`;
    const image = `${address}/${repository}:${tag}`;
    const layout = await writeOciImageLayout(path.join(directory, 'image'), tag);
    const push = await runWithHostsFile(
      hostsFile,
      'skopeo',
      [
        'copy',
        '--quiet',
        '--policy',
        await writeAcceptAnythingPolicy(directory),
        '--dest-tls-verify=true',
        '--dest-cert-dir',
        certDirectory,
        '--dest-creds',
        `${username}:${password}`,
        `oci:${layout.directory}:${tag}`,
        `docker://${image}`,
      ],
      { env: isolatedSkopeoEnvironment(directory) },
    );
    assertSucceeded(`pushing ${image}`, push);

    return {
      domain,
      port,
      address,
      caFile,
      caPem: authority.certificatePem,
      username,
      password,
      image,
      digest: layout.manifestDigest,
      hostsFile,
      directory,
      stop: async () => {
        await stopProcess(registryProcess);
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (child !== undefined) await stopProcess(child);
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** skopeo refuses to copy without a signature policy; the machine's may be absent. */
async function writeAcceptAnythingPolicy(directory: string): Promise<string> {
  const policyFile = path.join(directory, 'policy.json');
  await writeFile(policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return policyFile;
}

/**
 * `skopeo inspect --tls-verify=true` of the registry's image (or `options.image`), run where the
 * test domain resolves. Trusts only the CA in `certDir` (default: the test CA) and uses only
 * `authfile` or `creds` for credentials: no ~/.docker or containers auth leaks in.
 *
 * @example
 * const { code, stdout } = await skopeoInspect(registry, { authfile: '/data/dockerconfig.json' });
 */
export async function skopeoInspect(
  registry: TestRegistry,
  options: { authfile?: string; certDir?: string; creds?: string; image?: string },
): Promise<CommandResult> {
  const image = options.image ?? registry.image;
  const reference = image.includes('://') ? image : `docker://${image}`;
  const args = [
    'inspect',
    '--tls-verify=true',
    '--cert-dir',
    options.certDir ?? path.join(registry.directory, 'certs'),
  ];
  if (options.authfile !== undefined) args.push('--authfile', options.authfile);
  if (options.creds !== undefined) args.push('--creds', options.creds);
  args.push(reference);
  return runWithHostsFile(registry.hostsFile, 'skopeo', args, {
    env: isolatedSkopeoEnvironment(registry.directory),
  });
}

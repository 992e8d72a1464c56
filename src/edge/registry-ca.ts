// `mef-edge registry-ca`: installs a registry's CA certificate where Docker and containerd look
// for it (their certs.d directories), and removes it again.

import { lstat, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkCaCertificate, type CaCertificateDetails } from '../domain/ca-certificate.js';
import { defaultRegistryPort } from '../domain/registry-credentials.js';
import { domainRule, ipRule, isDottedQuad, isInetAtonAddress, portRule } from '../domain/rules.js';
import { FileTransaction } from '../files/file-transaction.js';
import { EdgeError, ExitCode, invalidInput } from './edge-error.js';
import { withFileLock } from './file-lock.js';

/** Where each runtime looks for per-registry certificates, as seen from inside the root. */
export const certsDirectories = {
  docker: '/etc/docker/certs.d',
  containerd: '/etc/containerd/certs.d',
} as const;

export const containerdConfigFile = '/etc/containerd/config.toml';

const caFileName = 'ca.crt';
const hostsTomlName = 'hosts.toml';
const newFileMode = 0o644;
const newDirectoryMode = 0o755;

/** One lock for every registry-ca run under a root: they share the certs.d directories. */
const lockFile = '/run/lock/mef-edge-registry-ca.lock';

export interface RegistryAddress {
  host: string;
  port: number;
  /** `host:port`, the name of the directory the runtimes look in. */
  address: string;
}

/** One certs.d directory for one runtime, as seen from inside the root. */
export interface CertsDirectory {
  runtime: keyof typeof certsDirectories;
  directory: string;
}

export interface RegistryCaOptions {
  /** The file system root the paths are under: `/` on a device, a temp dir in tests. */
  root: string;
  address: string;
  lockWaitSeconds: number;
}

/**
 * Parses `--address`: a bare `host:port` whose host passes the domain rule or is a dotted quad.
 *
 * @example parseRegistryAddress('registry.example.com:5000').port // 5000
 */
export function parseRegistryAddress(value: string): RegistryAddress {
  const refuse = (rule: string) => invalidInput('address', rule);
  if (value.includes('://')) throw refuse('must be a bare host:port, without a scheme');
  if (value.includes('/')) throw refuse('must be a bare host:port, without a path');
  if (value.startsWith('[') || value.split(':').length > 2) {
    throw refuse('must not be an IPv6 literal; give a host name or an IPv4 address');
  }

  const separator = value.lastIndexOf(':');
  if (separator < 0) throw refuse('must carry a port, as host:port (443 for the HTTPS default)');
  const host = value.slice(0, separator);
  const portText = value.slice(separator + 1);
  // The port names a directory, so `05000` would be a second, unused one for port 5000.
  if (/^0\d/.test(portText)) throw refuse('port must be written without leading zeros');
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  const portProblem = portRule(port);
  if (portProblem !== undefined) throw refuse(`port ${portProblem}`);
  const hostProblem = registryHostRule(host);
  if (hostProblem !== undefined) throw refuse(`host ${hostProblem}`);
  return { host, port, address: `${host}:${port}` };
}

/**
 * Applies the API's ip rule to an IPv4 host and its domain rule to a name. A name the C library
 * reads as an address (`010.1.1.1`, `0x7f.1`) is refused in terms of this one option.
 */
function registryHostRule(host: string): string | undefined {
  if (isDottedQuad(host)) return ipRule(host, new Set());
  if (isInetAtonAddress(host)) {
    return 'is read as an IPv4 address; write it as a dotted quad without leading zeros';
  }
  return domainRule(host);
}

/**
 * The directories a certificate goes to. Runtimes look a directory up by the host of the image
 * reference exactly, and references to port 443 usually leave the port out, so that port gets
 * the port-less directories too.
 */
export function registryCertsDirectories(registry: RegistryAddress): CertsDirectory[] {
  const names =
    registry.port === defaultRegistryPort ? [registry.address, registry.host] : [registry.address];
  return names.flatMap((name) =>
    (Object.keys(certsDirectories) as CertsDirectory['runtime'][]).map((runtime) => ({
      runtime,
      directory: path.posix.join(certsDirectories[runtime], name),
    })),
  );
}

/**
 * containerd's hosts.toml for the registry. The `ca` path is absolute and as seen from inside
 * the root, because containerd resolves a relative one against its working directory.
 */
export function containerdHostsToml(registry: RegistryAddress, caPath: string): string {
  const url = `https://${registry.address}`;
  return [
    '# Written by mef-edge registry-ca install; mef-edge registry-ca remove deletes it.',
    `server = "${url}"`,
    '',
    `[host."${url}"]`,
    '  capabilities = ["pull", "resolve"]',
    `  ca = "${caPath}"`,
    '',
  ].join('\n');
}

export interface InstallResult {
  certificate: CaCertificateDetails;
  /** Every file written, with the root prefix. */
  files: string[];
  /** Advice when containerd would ignore the certs.d directory, else undefined. */
  hint?: string;
}

/**
 * Checks the CA certificate in `certificateFile` and installs it for the registry at
 * `options.address`, all files or none.
 *
 * @example await installRegistryCa('/tmp/ca.pem', { root: '/', address: 'reg:5000', ... });
 */
export async function installRegistryCa(
  certificateFile: string,
  options: RegistryCaOptions,
): Promise<InstallResult> {
  const registry = parseRegistryAddress(options.address);
  await checkRoot(options.root);
  const certificate = await readCertificate(certificateFile);

  const transaction = new FileTransaction();
  const files: string[] = [];
  for (const { runtime, directory } of registryCertsDirectories(registry)) {
    const caPath = path.posix.join(directory, caFileName);
    transaction
      .createDirectory(underRoot(options.root, directory), newDirectoryMode)
      .write(underRoot(options.root, caPath), certificate.pem, { newFileMode });
    files.push(underRoot(options.root, caPath));
    if (runtime === 'containerd') {
      const hostsToml = underRoot(options.root, path.posix.join(directory, hostsTomlName));
      transaction.write(hostsToml, containerdHostsToml(registry, caPath), { newFileMode });
      files.push(hostsToml);
    }
  }

  await withRootLock(options, () => commit(transaction, registry, 'installed'));
  return { certificate, files, hint: await containerdConfigHint(options.root) };
}

/**
 * Undoes {@link installRegistryCa}: deletes the certificates, the hosts.toml files and their
 * backups, then each registry directory that is left empty. Returns the files that existed.
 */
export async function removeRegistryCa(options: RegistryCaOptions): Promise<string[]> {
  const registry = parseRegistryAddress(options.address);
  await checkRoot(options.root);

  return withRootLock(options, async () => {
    const transaction = new FileTransaction();
    const removed: string[] = [];
    for (const { runtime, directory } of registryCertsDirectories(registry)) {
      const names = runtime === 'containerd' ? [caFileName, hostsTomlName] : [caFileName];
      for (const name of names) {
        const file = underRoot(options.root, path.posix.join(directory, name));
        if (await exists(file)) removed.push(file);
        transaction.delete(file);
      }
      transaction.removeDirectoryIfEmpty(underRoot(options.root, directory));
    }
    await commit(transaction, registry, 'removed');
    return removed;
  });
}

/**
 * Advice for the operator when containerd would not read its certs.d directory: it does so only
 * when the CRI registry configuration sets `config_path`.
 */
export async function containerdConfigHint(root: string): Promise<string | undefined> {
  const configFile = underRoot(root, containerdConfigFile);
  const { containerd } = certsDirectories;
  const howTo = [
    `  Set config_path = "${containerd}" in the CRI registry section,`,
    '  [plugins."io.containerd.grpc.v1.cri".registry] (containerd 1.x) or',
    '  [plugins."io.containerd.cri.v1.images".registry] (containerd 2.x),',
    '  then restart containerd.',
  ];

  let text: string;
  try {
    text = await readFile(configFile, 'utf8');
  } catch {
    const problem = `hint: ${configFile} was not found; containerd reads ${containerd} only when`;
    return [problem, '  its config.toml sets config_path.', ...howTo].join('\n');
  }

  const setting = /^\s*config_path\s*=\s*["']([^"']*)["']/m.exec(text);
  if (setting === null || setting[1] === '') {
    const problem = `hint: ${configFile} does not set config_path, so containerd ignores`;
    return [problem, `  ${containerd}.`, ...howTo].join('\n');
  }
  if (!setting[1]!.split(':').includes(containerd)) {
    return [
      `hint: config_path in ${configFile} is "${setting[1]}",`,
      `  which does not list ${containerd}; add it (directories are separated by ":")`,
      '  and restart containerd.',
    ].join('\n');
  }
  return undefined;
}

function underRoot(root: string, absolutePath: string): string {
  return path.join(root, absolutePath);
}

async function checkRoot(root: string): Promise<void> {
  const info = await stat(root).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw invalidInput('root', `${root} is not an existing directory`);
  }
}

async function readCertificate(certificateFile: string): Promise<CaCertificateDetails> {
  let pem: string;
  try {
    pem = await readFile(certificateFile, 'utf8');
  } catch (error) {
    throw invalidInput('cert', `cannot read ${certificateFile}: ${(error as Error).message}`);
  }
  const result = await checkCaCertificate(pem);
  if (!result.ok) {
    throw new EdgeError(ExitCode.certificateRejected, `${certificateFile}: ${result.message}`);
  }
  return result.certificate;
}

async function withRootLock<T>(options: RegistryCaOptions, action: () => Promise<T>): Promise<T> {
  const lockPath = underRoot(options.root, lockFile);
  await mkdir(path.dirname(lockPath), { recursive: true, mode: newDirectoryMode });
  return withFileLock(lockPath, options.lockWaitSeconds, action);
}

async function commit(
  transaction: FileTransaction,
  registry: RegistryAddress,
  action: 'installed' | 'removed',
): Promise<void> {
  try {
    await transaction.commit();
  } catch (error) {
    throw new EdgeError(
      ExitCode.failure,
      `registry CA for ${registry.address}: nothing ${action}, every file is as it was: ` +
        (error as Error).message,
    );
  }
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

// `mef-edge domainconfig`: maps a registry's domain to its address in the device's hosts file.

import { readFile, realpath } from 'node:fs/promises';
import { domainRule, ipRule } from '../domain/rules.js';
import { FileTransaction } from '../files/file-transaction.js';
import { EdgeError, ExitCode, invalidInput } from './edge-error.js';
import { withFileLock } from './file-lock.js';
import {
  namesOutsideBlock,
  parseHostsFile,
  removeMapping,
  renderHostsFile,
  setMapping,
  type DomainMapping,
  type HostsFileLayout,
  type NameOutsideBlock,
} from './hosts-file.js';

export const defaultHostsFile = '/etc/hosts';

/** The mode of a hosts file this tool creates; an existing one keeps its own. */
const newHostsFileMode = 0o644;

/**
 * One character per byte, so bytes outside the block that are not UTF-8 survive the round trip;
 * everything this tool writes is ASCII.
 */
const hostsFileEncoding = 'latin1';

export interface HostsFileOptions {
  hostsFile: string;
  lockWaitSeconds: number;
}

/**
 * Checks `ip` and `domain` with the API's own rules. The forbidden addresses are the device's:
 * pointing a registry name at the device itself is always a mistake.
 *
 * @example checkMapping('10.0.0.5', 'reg.example.com', new Set(['10.0.0.2']))
 */
export function checkMapping(
  ip: string,
  domain: string,
  deviceAddresses: ReadonlySet<string>,
): DomainMapping {
  const domainProblem = domainRule(domain);
  if (domainProblem !== undefined) throw invalidInput('domain', domainProblem);
  const ipProblem = ipRule(ip, deviceAddresses);
  if (ipProblem !== undefined) throw invalidInput('ip', ipProblem);
  return { ip, domain: domain.toLowerCase() };
}

/** Checks a domain given to --remove with the same rule as when it was added. */
export function checkDomain(domain: string): string {
  const problem = domainRule(domain);
  if (problem !== undefined) throw invalidInput('domain', problem);
  return domain.toLowerCase();
}

/** Whether the hosts file was rewritten: false when it already said the same. */
export interface ChangeResult {
  changed: boolean;
}

export interface AddResult extends ChangeResult {
  previous?: DomainMapping;
  /** Lines outside the block that name the domain too, numbered as in the new file. */
  alsoNamedAt: NameOutsideBlock[];
}

/**
 * Maps `mapping.domain` to `mapping.ip` in the managed block, replacing an older address.
 *
 * @example await addDomainMapping({ ip: '10.0.0.5', domain: 'reg.example.com' }, options);
 */
export async function addDomainMapping(
  mapping: DomainMapping,
  options: HostsFileOptions,
): Promise<AddResult> {
  return changeHostsFile(options, (layout) => {
    const { mappings, previous } = setMapping(layout.mappings, mapping);
    const updated = { ...layout, mappings };
    return {
      layout: updated,
      result: { previous, alsoNamedAt: namesOutsideBlock(updated, mapping.domain) },
    };
  });
}

/** Removes the mapping of exactly `domain`; `removed` is undefined when there was none. */
export async function removeDomainMapping(
  domain: string,
  options: HostsFileOptions,
): Promise<ChangeResult & { removed?: DomainMapping }> {
  return changeHostsFile(options, (layout) => {
    const { mappings, removed } = removeMapping(layout.mappings, domain);
    return { layout: { ...layout, mappings }, result: { removed } };
  });
}

/** The mappings in the managed block, in file order; none when the file does not exist. */
export async function listDomainMappings(hostsFile: string): Promise<DomainMapping[]> {
  const text = await readHostsFile(hostsFile);
  return parseHostsFile(text ?? '', hostsFile).mappings;
}

async function changeHostsFile<T>(
  options: HostsFileOptions,
  change: (layout: HostsFileLayout) => { layout: HostsFileLayout; result: T },
): Promise<T & ChangeResult> {
  const hostsFile = await resolveHostsFile(options.hostsFile);

  return withFileLock(`${hostsFile}.lock`, options.lockWaitSeconds, async () => {
    const text = await readHostsFile(hostsFile);
    const { layout, result } = change(parseHostsFile(text ?? '', hostsFile));
    const updated = renderHostsFile(layout);
    if (updated === (text ?? '')) return { ...result, changed: false };

    try {
      await new FileTransaction()
        .write(hostsFile, Buffer.from(updated, hostsFileEncoding), {
          newFileMode: newHostsFileMode,
        })
        .commit();
    } catch (error) {
      throw new EdgeError(ExitCode.failure, describeWriteFailure(hostsFile, error));
    }
    return { ...result, changed: true };
  });
}

/** The lock and the new file belong beside the real file when /etc/hosts is a symlink. */
async function resolveHostsFile(hostsFile: string): Promise<string> {
  try {
    return await realpath(hostsFile);
  } catch {
    return hostsFile;
  }
}

async function readHostsFile(hostsFile: string): Promise<string | undefined> {
  try {
    return await readFile(hostsFile, hostsFileEncoding);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EdgeError(
      ExitCode.failure,
      `hosts file ${hostsFile}: cannot be read: ${(error as Error).message}`,
    );
  }
}

function describeWriteFailure(hostsFile: string, error: unknown): string {
  const reason = `hosts file ${hostsFile}: not changed: ${(error as Error).message}`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EBUSY' || code === 'EXDEV') {
    // Containers bind-mount /etc/hosts, and a mount point cannot be renamed over.
    return `${reason} (${hostsFile} is a mount point, so it cannot be replaced atomically)`;
  }
  return reason;
}

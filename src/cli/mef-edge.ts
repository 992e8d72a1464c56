#!/usr/bin/env node
// The device-side tool: maps registry names in the hosts file and installs registry CA
// certificates for the container runtimes. It changes those files and nothing else.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  addDomainMapping,
  checkDomain,
  checkMapping,
  defaultHostsFile,
  listDomainMappings,
  removeDomainMapping,
  type AddResult,
} from '../edge/domain-config.js';
import { EdgeError, ExitCode, exitCodeMeanings, invalidInput } from '../edge/edge-error.js';
import { defaultLockWaitSeconds } from '../edge/file-lock.js';
import { maxDomainMappings } from '../edge/hosts-file.js';
import { installRegistryCa, removeRegistryCa } from '../edge/registry-ca.js';
import { hostIpv4Addresses } from '../platform/host-addresses.js';

const exitCodesHelp = [
  '',
  'Exit codes:',
  ...exitCodeMeanings.map(([code, meaning]) => `  ${code}  ${meaning}`),
].join('\n');

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(seconds)) {
    throw new InvalidArgumentError('must be a number of seconds, 0 or more');
  }
  return seconds;
}

function lockWait(command: Command): number {
  return command.optsWithGlobals<{ lockWait: number }>().lockWait;
}

interface DomainConfigOptions {
  ip?: string;
  domain?: string;
  remove?: boolean;
  list?: boolean;
  hostsFile: string;
}

async function domainConfig(options: DomainConfigOptions, command: Command): Promise<void> {
  const { hostsFile } = options;
  const lockWaitSeconds = lockWait(command);

  if (options.list === true) {
    if (options.ip !== undefined || options.domain !== undefined || options.remove === true) {
      throw invalidInput('--list', 'takes no --ip, --domain or --remove');
    }
    for (const { ip, domain } of await listDomainMappings(hostsFile))
      console.log(`${ip} ${domain}`);
    return;
  }

  if (options.remove === true) {
    if (options.ip !== undefined) throw invalidInput('--remove', 'takes --domain only, no --ip');
    if (options.domain === undefined) throw invalidInput('--remove', 'needs --domain');
    const domain = checkDomain(options.domain);
    const { removed } = await removeDomainMapping(domain, { hostsFile, lockWaitSeconds });
    console.log(
      removed === undefined
        ? `${domain} is not mapped in the managed block of ${hostsFile}; nothing changed`
        : `removed ${removed.domain} (${removed.ip}) from ${hostsFile}`,
    );
    return;
  }

  if (options.ip === undefined || options.domain === undefined) {
    throw invalidInput('domainconfig', 'needs --ip and --domain (or --remove, or --list)');
  }
  const mapping = checkMapping(options.ip, options.domain, hostIpv4Addresses());
  const result = await addDomainMapping(mapping, { hostsFile, lockWaitSeconds });
  reportAdded(mapping, result, hostsFile);
}

function reportAdded(
  mapping: { ip: string; domain: string },
  result: AddResult,
  hostsFile: string,
): void {
  const { ip, domain } = mapping;
  if (!result.changed) {
    console.log(`${domain} already maps to ${ip} in ${hostsFile}; nothing changed`);
  } else if (result.previous === undefined) {
    console.log(`mapped ${domain} to ${ip} in ${hostsFile}`);
  } else {
    console.log(`${domain} now maps to ${ip} (was ${result.previous.ip}) in ${hostsFile}`);
  }

  for (const other of result.alsoNamedAt) {
    const consequence = other.beforeBlock
      ? `it comes first, so lookups of ${domain} answer ${other.ip}`
      : 'the managed block comes first and wins';
    console.error(
      `note: line ${other.line} of ${hostsFile}, outside the managed block, also names ` +
        `${domain} (${other.ip}); ${consequence}. mef-edge leaves that line as it is.`,
    );
  }
}

interface RegistryCaCommandOptions {
  address: string;
  cert?: string;
  root: string;
}

async function installCa(options: RegistryCaCommandOptions, command: Command): Promise<void> {
  const result = await installRegistryCa(options.cert ?? '', {
    root: options.root,
    address: options.address,
    lockWaitSeconds: lockWait(command),
  });
  const { certificate } = result;
  console.log(`installed the CA certificate for ${options.address}:`);
  console.log(`  subject ${certificate.subject}`);
  console.log(
    `  ${certificate.key}, ${certificate.signatureHash}, ` +
      `valid until ${certificate.notAfter.toISOString()}`,
  );
  console.log(`  SHA-256 fingerprint ${certificate.sha256Fingerprint}`);
  for (const file of result.files) console.log(`  ${file}`);
  if (result.hint !== undefined) console.error(result.hint);
}

async function removeCa(options: RegistryCaCommandOptions, command: Command): Promise<void> {
  const removed = await removeRegistryCa({
    root: options.root,
    address: options.address,
    lockWaitSeconds: lockWait(command),
  });
  if (removed.length === 0) {
    console.log(`no CA certificate is installed for ${options.address}; nothing changed`);
    return;
  }
  console.log(`removed the CA certificate for ${options.address}:`);
  for (const file of removed) console.log(`  ${file}`);
}

function buildProgram(): Command {
  const program = new Command('mef-edge')
    .description(
      'Prepares an edge device to pull from a private registry: maps the registry name in ' +
        'the hosts file and installs the registry CA for Docker and containerd.',
    )
    .version(packageVersion())
    .exitOverride()
    .addOption(
      new Option('--lock-wait <seconds>', 'how long to wait for another mef-edge run')
        .argParser(parseSeconds)
        .default(defaultLockWaitSeconds),
    )
    .addHelpText('after', exitCodesHelp);

  program
    .command('domainconfig')
    .description(
      `Adds, replaces, removes or lists registry name mappings (at most ${maxDomainMappings}) ` +
        'in a block of the hosts file that mef-edge owns; other lines are never touched.',
    )
    .option('--ip <ip>', 'the registry IPv4 address')
    .option('--domain <domain>', 'the registry domain name')
    .option('--remove', 'remove the mapping of --domain')
    .option('--list', 'print the mappings, one "<ip> <domain>" per line')
    .option('--hosts-file <file>', 'the hosts file to edit', defaultHostsFile)
    .addHelpText('after', exitCodesHelp)
    .action(domainConfig);

  const registryCa = program
    .command('registry-ca')
    .description('Installs or removes the CA certificate that a private registry serves under.')
    .addHelpText('after', exitCodesHelp);

  registryCa
    .command('install')
    .description(
      'Checks the CA certificate and installs it in /etc/docker/certs.d/<host:port> and ' +
        '/etc/containerd/certs.d/<host:port> (with hosts.toml); port 443 also gets <host>.',
    )
    .requiredOption('--address <host:port>', 'the registry address, as in image references')
    .requiredOption('--cert <file>', 'the PEM file holding the CA certificate')
    .option('--root <dir>', 'the root every path is under (for chroots and tests)', '/')
    .addHelpText('after', exitCodesHelp)
    .action(installCa);

  registryCa
    .command('remove')
    .description('Deletes what install wrote for the address, and the directories left empty.')
    .requiredOption('--address <host:port>', 'the registry address given to install')
    .option('--root <dir>', 'the root every path is under (for chroots and tests)', '/')
    .addHelpText('after', exitCodesHelp)
    .action(removeCa);

  return program;
}

function packageVersion(): string {
  const packageFile = new URL('../../package.json', import.meta.url);
  try {
    return (JSON.parse(readFileSync(packageFile, 'utf8')) as { version: string }).version;
  } catch {
    // Compiled to dist/src/cli, the package file is one level further up.
    const compiled = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(compiled, 'utf8')) as { version: string }).version;
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the problem (or the help) already.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof EdgeError) {
      console.error(`mef-edge: ${error.message}`);
      return error.exitCode;
    }
    console.error(`mef-edge: unexpected failure: ${(error as Error).message ?? String(error)}`);
    return ExitCode.failure;
  }
}

process.exitCode = await main(process.argv);

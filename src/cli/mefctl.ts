#!/usr/bin/env node
// mefctl: the operator's command-line client for the service's API, over mutual TLS.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  ApiClient,
  isSuccess,
  ServiceUnreachableError,
  type ApiAnswer,
} from '../client/api-client.js';
import { exitCodeHelp, exitCodes } from '../client/exit-codes.js';
import { imageConfigBody } from '../client/image-config-body.js';
import {
  PasswordInputError,
  promptPassword,
  readPasswordFromPipe,
  type TerminalInput,
} from '../client/password-input.js';
import { parseListenAddress, settingDefaults } from '../config/settings.js';
import { certificateNames } from '../domain/certificate-import.js';
import { verificationModes } from '../domain/verification-mode.js';
import { certificatePaths } from '../http/routes/certificates.js';
import { imageConfigPath } from '../http/routes/image-config.js';
import { developmentPkiPaths } from '../pki/development-pki.js';

const defaultServer = `https://localhost:${
  parseListenAddress('MEF_LISTEN', settingDefaults.MEF_LISTEN).port
}`;
const defaultTimeoutSeconds = 30;

/** A command line that cannot be acted on; exits with {@link exitCodes.usage}. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The service answered with a failure envelope; exits with {@link exitCodes.refused}. */
class RefusedError extends Error {
  constructor(answer: ApiAnswer) {
    const { envelope, httpStatus } = answer;
    super(`${envelope.msg} (status ${envelope.status}, HTTP ${httpStatus})`);
    this.name = 'RefusedError';
  }
}

interface GlobalOptions {
  server: string;
  dataDir: string;
  cert?: string;
  key?: string;
  cacert?: string;
  timeout: number;
}

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value)) throw new InvalidArgumentError('must be a whole number.');
  return Number(value);
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0) {
    throw new InvalidArgumentError('must be a positive number of seconds.');
  }
  return seconds;
}

function clientFor(command: Command): ApiClient {
  const options = command.optsWithGlobals<GlobalOptions>();
  let server: URL;
  try {
    server = new URL(options.server);
  } catch {
    throw new UsageError(`--server: "${options.server}" is not an address like ${defaultServer}`);
  }
  if (server.protocol !== 'https:') {
    throw new UsageError(`--server: must be an https:// address, like ${defaultServer}`);
  }

  const pki = developmentPkiPaths(path.resolve(options.dataDir));
  return new ApiClient({
    server: new URL(server.origin),
    tls: {
      cert: options.cert ?? pki.clientCert,
      key: options.key ?? pki.clientKey,
      cacert: options.cacert ?? pki.caCert,
    },
    timeoutMs: Math.round(options.timeout * 1000),
  });
}

/** Prints `success` and the warnings, or throws the service's refusal. */
function reportSuccess(answer: ApiAnswer, printResult: () => void = () => console.log('success')) {
  if (!isSuccess(answer.envelope) || answer.httpStatus >= 400) throw new RefusedError(answer);
  printResult();
  for (const warning of answer.envelope.warnings ?? []) console.error(`warning: ${warning}`);
}

interface ImageConfigOptions {
  domain?: string;
  ip?: string;
  port: number;
  account: string;
  verify?: string;
  passwordStdin?: boolean;
  password?: unknown;
}

async function readPassword(options: ImageConfigOptions): Promise<Buffer> {
  if (options.passwordStdin) return readPasswordFromPipe(process.stdin);
  const input = process.stdin as Partial<TerminalInput>;
  if (!input.isTTY || typeof input.setRawMode !== 'function') {
    throw new UsageError(
      'password: stdin is not a terminal to prompt on; pipe the password with --password-stdin',
    );
  }
  const registry = `${options.domain ?? options.ip}:${options.port}`;
  return promptPassword(
    process.stdin as TerminalInput,
    process.stderr,
    `Password for ${options.account} at ${registry}: `,
  );
}

async function configureImage(options: ImageConfigOptions, command: Command): Promise<void> {
  if (options.password !== undefined) {
    throw new UsageError(
      '--password is not accepted: a password on the command line shows in the process list ' +
        'and the shell history; type it at the prompt, or pipe it with --password-stdin',
    );
  }
  const client = clientFor(command);
  await client.prepare();
  const { domain, ip, port, account } = options;
  const password = await readPassword(options);
  const body = imageConfigBody({ domain, ip, port, account }, password);
  password.fill(0);

  const query = options.verify === undefined ? '' : `?verify=${options.verify}`;
  try {
    reportSuccess(await client.call('POST', `${imageConfigPath}${query}`, body));
  } finally {
    body.fill(0);
  }
}

/** `registryAddress` -> `registry address`. */
function label(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.map(cell).join(', ');
  return String(value);
}

/** Lays out an object as `name  value` rows; nested objects are flattened into the same rows. */
function tableRows(value: Record<string, unknown>, rows: [string, string][] = []) {
  for (const [name, item] of Object.entries(value)) {
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      tableRows(item as Record<string, unknown>, rows);
    } else {
      rows.push([label(name), cell(item)]);
    }
  }
  return rows;
}

function printTable(data: Record<string, unknown>): void {
  const rows = tableRows(data);
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
}

async function showImage(options: { json?: boolean }, command: Command): Promise<void> {
  const answer = await clientFor(command).call('GET', imageConfigPath);
  reportSuccess(answer, () => {
    const data = answer.envelope.data ?? null;
    if (options.json) console.log(JSON.stringify(data, null, 2));
    else if (typeof data !== 'object' || data === null) console.log('not configured');
    else printTable(data as Record<string, unknown>);
  });
}

async function importCertificate(
  options: { name: string; file: string },
  command: Command,
): Promise<void> {
  let pem: Buffer;
  try {
    pem = await readFile(options.file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`--file: cannot read ${options.file} (${code})`);
  }
  const body = Buffer.from(
    JSON.stringify({ certName: options.name, cert: pem.toString('base64') }),
  );
  const answer = await clientFor(command).call('POST', certificatePaths.import, body);
  reportSuccess(answer, () => {
    console.log('success');
    // The fingerprint and subject let the operator check that the right CA went in.
    const data = answer.envelope.data;
    if (typeof data === 'object' && data !== null) printTable(data as Record<string, unknown>);
  });
}

async function deleteCertificate(options: { name: string }, command: Command): Promise<void> {
  const body = Buffer.from(JSON.stringify({ type: options.name }));
  reportSuccess(await clientFor(command).call('POST', certificatePaths.delete, body));
}

function buildProgram(): Command {
  const program = new Command('mefctl')
    .description("The operator's client for the MEF image download configuration API.")
    .addOption(
      new Option('--server <url>', 'the service address')
        .env('MEFCTL_SERVER')
        .default(defaultServer),
    )
    .addOption(
      new Option('--data-dir <dir>', 'the data directory holding the development PKI (pki/)')
        .env('MEF_DATA_DIR')
        .default(settingDefaults.MEF_DATA_DIR),
    )
    .option('--cert <file>', 'client certificate, PEM (default: <data-dir>/pki/client.crt)')
    .option('--key <file>', 'client private key, PEM (default: <data-dir>/pki/client.key)')
    .option(
      '--cacert <file>',
      'CA that signed the server certificate (default: <data-dir>/pki/ca.crt)',
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up when no answer comes in this time')
        .argParser(parseSeconds)
        .default(defaultTimeoutSeconds),
    )
    .addHelpText('after', exitCodeHelp)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const image = program.command('image').description('the image download configuration');
  image
    .command('config')
    .description(
      'set the registry that edge devices pull images from; the password is read from a ' +
        'hidden prompt, or from stdin with --password-stdin',
    )
    .option('--domain <domain>', 'registry domain name')
    .option('--ip <ip>', 'registry IPv4 address (with --domain: the address the domain maps to)')
    .requiredOption('--port <port>', 'registry port', parsePort)
    .requiredOption('--account <account>', 'registry account')
    .addOption(
      new Option('--verify <mode>', 'check the credentials against the registry first').choices(
        verificationModes,
      ),
    )
    .option('--password-stdin', 'read the password from stdin (one trailing newline is dropped)')
    .addOption(new Option('--password [password]').hideHelp())
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  mefctl image config --domain registry.example.com --port 443 --account robot\n' +
        '  mefctl image config --ip 10.0.0.5 --port 5000 --account robot --password-stdin \\\n' +
        '      < registry-password.txt',
    )
    .action(configureImage);
  image
    .command('show')
    .description('print the current configuration (never the password)')
    .option('--json', 'print the data as JSON')
    .action(showImage);

  const cert = program.command('cert').description('CA certificates the service trusts');
  cert
    .command('import')
    .description('import a CA certificate (PEM)')
    .addOption(
      new Option('--name <name>', 'which CA').choices(certificateNames).makeOptionMandatory(),
    )
    .requiredOption('--file <file>', 'the PEM file')
    .action(importCertificate);
  cert
    .command('delete')
    .description('delete an imported CA certificate')
    .addOption(
      new Option('--name <name>', 'which CA').choices(certificateNames).makeOptionMandatory(),
    )
    .action(deleteCertificate);
  return program;
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? exitCodes.success : exitCodes.usage;
  }
  if (error instanceof PasswordInputError) {
    return error.cancelled ? exitCodes.cancelled : exitCodes.usage;
  }
  if (error instanceof UsageError) return exitCodes.usage;
  if (error instanceof ServiceUnreachableError) return exitCodes.unreachable;
  // A refusal, an answer that is not an envelope, or anything unforeseen.
  return exitCodes.refused;
}

/** Environment variables mefctl reads; an empty one counts as unset, as the service does. */
const environmentOptions = ['MEFCTL_SERVER', 'MEF_DATA_DIR'];

async function main(argv: string[]): Promise<number> {
  for (const name of environmentOptions) {
    if (process.env[name]?.trim() === '') delete process.env[name];
  }
  try {
    await buildProgram().parseAsync(argv);
    return exitCodes.success;
  } catch (error) {
    const code = exitCodeOf(error);
    // Commander has printed its own message already.
    if (!(error instanceof CommanderError)) console.error(`mefctl: ${(error as Error).message}`);
    return code;
  }
}

process.exitCode = await main(process.argv);

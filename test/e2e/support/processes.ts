// Child processes for the end-to-end tests: plain runs, runs that see a private hosts file, free
// loopback ports and waiting for a process to become ready.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Written to the command's standard input, which is then closed. */
  input?: string;
}

const defaultTimeoutMs = 60_000;

/**
 * Binds the mount namespace's /etc/hosts to `hostsFile` and then becomes `command`. unshare
 * without --fork execs, and so does the shell, so the child's pid is the command's own.
 */
const bindHostsThenExec = 'mount --bind "$0" /etc/hosts && exec "$@"';

function hostsFileInvocation(hostsFile: string, command: string, args: string[]): string[] {
  return [
    '--mount',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    bindHostsThenExec,
    hostsFile,
    command,
    ...args,
  ];
}

/**
 * Runs `command` to completion and collects its output. Rejects when it cannot be started or
 * outlives `timeoutMs` (it is killed then); a non-zero exit is a result, not an error.
 *
 * @example const { code, stdout } = await runCommand('skopeo', ['--version']);
 */
export function runCommand(
  command: string,
  args: string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A command that exits before reading its input must not crash the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not be started: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`${command} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
        return;
      }
      resolve({ code: code ?? 128 + signalNumber(signal), stdout, stderr });
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) ?? 1;
}

/**
 * Runs a command in a private mount namespace (`unshare --mount`, as root) with `hostsFile`
 * bind-mounted over /etc/hosts, so the test domain resolves without touching the machine.
 *
 * @example await runWithHostsFile(hosts, 'getent', ['hosts', 'registry.mef.test']);
 */
export function runWithHostsFile(
  hostsFile: string,
  command: string,
  args: string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return runCommand('unshare', hostsFileInvocation(hostsFile, command, args), options);
}

/**
 * Spawns a long-running process the same way (for a service that must resolve the test domain).
 * Its stdio is piped; the caller reads or drains it.
 */
export function spawnWithHostsFile(
  hostsFile: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ChildProcess {
  return spawn('unshare', hostsFileInvocation(hostsFile, command, args), {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * A loopback port that was free a moment ago: bind port 0, read the port, close. Another
 * process could take it in between; on a test machine that race is rare enough.
 */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))));
    });
  });
}

/**
 * Calls `probe` until it returns true, `child` exits, or `timeoutMs` passes. `describe` supplies
 * the process output for the error, so a failed start explains itself.
 */
export async function waitUntilReady(
  what: string,
  child: ChildProcess,
  probe: () => Promise<boolean>,
  describe: () => string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}): ${describe()}`);
    }
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms: ${describe()}`);
}

/** Sends SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

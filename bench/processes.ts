// The benchmark's child processes: start one, wait until it answers, read its memory, stop it.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const mebibyte = 1024 * 1024;

/** A port free at the time of asking; the child binds it a moment later. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

function answers(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = httpGet(url, { agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', () => resolve(0));
    request.on('timeout', () => request.destroy());
  });
}

/** Polls `url` every few milliseconds until it answers 200; fails when the child exits first. */
export async function waitUntilOk(url: string, child: ChildProcess, limitMs = 30_000) {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the process exited with ${child.exitCode}`);
    if ((await answers(url)) === 200) return;
    await sleep(5);
  }
  throw new Error(`${url} did not answer 200 within ${limitMs} ms`);
}

export interface StartedProcess {
  child: ChildProcess;
  /** From just before the spawn to the first 200 from `readyUrl`. */
  readyMs: number;
  /** The CPU time the process had used by then: the part other load on the machine cannot add to. */
  readyCpuMs: number;
}

/**
 * Spawns `node args...` and resolves once `readyUrl` answers 200.
 *
 * @example const { child, readyMs } = await startProcess(['serve.js'], env, 'http://…/readyz');
 */
export async function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  readyUrl: string,
): Promise<StartedProcess> {
  const started = performance.now();
  // Standard output (the request log) is discarded; standard error is kept for a failed start.
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let errorOutput = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    errorOutput = (errorOutput + chunk.toString('utf8')).slice(-4000);
  });
  try {
    await waitUntilOk(readyUrl, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${errorOutput}`, { cause: error });
  }
  const readyMs = performance.now() - started;
  return { child, readyMs, readyCpuMs: cpuSecondsOf(child.pid!) * 1000 };
}

/** Stops a child with SIGTERM, and with SIGKILL when it has not exited after five seconds. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Resident memory now and its peak since start (or since {@link resetPeakMemory}), in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return {
    rssMiB: (field('VmRSS') * 1024) / mebibyte,
    peakMiB: (field('VmHWM') * 1024) / mebibyte,
  };
}

/** Restarts the kernel's peak-RSS count of `pid` (Linux 4.0+); false when not permitted. */
export function resetPeakMemory(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system) `pid` has used so far, in seconds; Linux counts it in 1/100 s. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Samples the RSS of `pid` until stopped, for kernels where the peak cannot be reset.
 *
 * @example const sampler = sampleMemory(pid); …; const peak = sampler.stop();
 */
export function sampleMemory(pid: number, everyMs = 100): { stop(): number } {
  let highest = memoryOf(pid).rssMiB;
  const timer = setInterval(() => {
    highest = Math.max(highest, memoryOf(pid).rssMiB);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(highest, memoryOf(pid).rssMiB);
    },
  };
}

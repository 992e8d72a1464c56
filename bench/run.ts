// `npm run bench`: drives the built service and a bare HTTPS server on the same TLS settings
// with the same requests, in turn, and prints throughput, latency, memory and start-up figures
// beside their targets.
//
// Settings (environment): BENCH_DURATION seconds per case (10), BENCH_WARMUP seconds (2),
// BENCH_CONNECTIONS (64), BENCH_CPU_PROF a directory for the service's V8 CPU profile,
// BENCH_ONLY a comma-separated list of cases to run (e.g. `valid POST`), without the growth run.

import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { developmentPkiPaths } from '../src/pki/development-pki.js';
import { dataFiles } from '../src/store/sqlite-store.js';
import {
  configuredRegistry,
  drive,
  probe,
  requestKinds,
  type ClientTls,
  type LoadFigures,
  type LoadOptions,
  type RequestKind,
} from './load.js';
import {
  cpuSecondsOf,
  freePort,
  memoryOf,
  resetPeakMemory,
  sampleMemory,
  startProcess,
  stopProcess,
  type StartedProcess,
} from './processes.js';

const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Inside the project, so that the compiled service finds node_modules and "type": "module".
const buildDir = path.join(projectDir, '.tmp', 'bench-build');

function setting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: must be a positive number`);
  return value;
}

const run = {
  duration: setting('BENCH_DURATION', 10),
  warmup: setting('BENCH_WARMUP', 2),
  connections: setting('BENCH_CONNECTIONS', 64),
  restarts: 3,
  // Two readings alone swing with the V8 heap's sizing; the ones between show the trend.
  leakCheckpoints: [10_000, 40_000, 70_000, 100_000],
  only: process.env.BENCH_ONLY?.split(',').map((name) => name.trim()),
};

/** What the figures must reach; the bench reports them, it does not fail on them. */
const targets = {
  ratio: { 'invalid POST': 0.8, GET: 0.7, 'valid POST': 0.25 } as Record<string, number>,
  p99Ms: 50,
  rssGrowthMiB: 10,
  readyMs: 1000,
};

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** Compiles the service as it is shipped (`npm run build`), into a directory of the bench's own. */
function build(): string {
  const started = performance.now();
  const tsc = path.join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--outDir', buildDir],
    { cwd: projectDir, encoding: 'utf8' },
  );
  // Type errors still emit JavaScript; only a missing entry point stops the bench.
  if (result.status !== 0) {
    const errors = result.stdout.split('\n').filter((line) => / error TS\d+/.test(line));
    log(`tsc reported ${errors.length} type errors; first: ${errors[0] ?? result.stderr}`);
  }
  const entry = path.join(buildDir, 'src', 'cli', 'serve.js');
  if (!existsSync(entry)) throw new Error(`tsc did not produce ${entry}`);
  log(`built in ${Math.round(performance.now() - started)} ms`);
  return entry;
}

interface ServiceUnderTest {
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  readyUrl: string;
  args: string[];
}

async function serviceUnderTest(entry: string, dataDir: string): Promise<ServiceUnderTest> {
  const [apiPort, opsPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    MEF_DATA_DIR: dataDir,
    MEF_LISTEN: `127.0.0.1:${apiPort}`,
    MEF_OPS_LISTEN: `127.0.0.1:${opsPort}`,
    MEF_STORE: 'sqlite',
    MEF_LOG_LEVEL: 'info',
    // The load comes from one address at a rate no client has; the limits would refuse it.
    MEF_RATE_LIMIT: 'off',
    MEF_MAX_CONNECTIONS_PER_IP: '1024',
    // The figures are the service's own: no registry answers for registry.example.com here.
    MEF_VERIFY_REGISTRY: 'off',
  };
  const profile = process.env.BENCH_CPU_PROF;
  const args = profile === undefined ? [entry] : ['--cpu-prof', `--cpu-prof-dir=${profile}`, entry];
  return {
    env,
    apiUrl: `https://127.0.0.1:${apiPort}`,
    readyUrl: `http://127.0.0.1:${opsPort}/readyz`,
    args,
  };
}

/** Starts the bare server on the service's certificates; resolves with its URL. */
async function startBareServer(tls: { cert: string; key: string; ca: string }) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(projectDir, 'bench', 'bare-server.ts')],
    {
      cwd: projectDir,
      env: {
        PATH: process.env.PATH,
        BENCH_TLS_CERT: tls.cert,
        BENCH_TLS_KEY: tls.key,
        BENCH_TLS_CA: tls.ca,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const [port] = (await once(lines, 'line')) as [string];
  lines.close();
  return { child, url: `https://127.0.0.1:${port.trim()}` };
}

type Measured = LoadFigures & { cpuMicrosecondsPerRequest: number };

interface CaseFigures {
  kind: RequestKind;
  service?: Measured & { peakRssMiB: number };
  bare?: Measured;
  missing?: string;
}

/** Drives `url` and measures the CPU time the process behind it spent per request. */
async function driveMeasured(
  url: string,
  pid: number,
  tls: ClientTls,
  kind: RequestKind,
  options: LoadOptions,
): Promise<Measured> {
  const cpuBefore = cpuSecondsOf(pid);
  const figures = await drive(url, tls, [kind], options);
  const cpuSeconds = cpuSecondsOf(pid) - cpuBefore;
  return { ...figures, cpuMicrosecondsPerRequest: (cpuSeconds * 1e6) / figures.answered };
}

async function measureCase(
  kind: RequestKind,
  service: { url: string; child: ChildProcess },
  bare: { url: string; child: ChildProcess },
  tls: ClientTls,
  onAnswer: (kind: RequestKind, status: number) => void,
): Promise<CaseFigures> {
  const status = await probe(service.url, tls, kind);
  if (status !== kind.expectedStatus) {
    return { kind, missing: `the service answered ${status}, not ${kind.expectedStatus}` };
  }
  const load = { connections: run.connections, duration: run.duration, warmupSeconds: run.warmup };

  log(`${kind.name}: bare server`);
  const bareFigures = await driveMeasured(bare.url, bare.child.pid!, tls, kind, load);

  log(`${kind.name}: service`);
  const pid = service.child.pid!;
  const peakResettable = resetPeakMemory(pid);
  const sampler = sampleMemory(pid);
  const figures = await driveMeasured(service.url, pid, tls, kind, { ...load, onAnswer });
  const sampled = sampler.stop();
  const peakRssMiB = peakResettable ? Math.max(memoryOf(pid).peakMiB, sampled) : sampled;
  return { kind, bare: bareFigures, service: { ...figures, peakRssMiB } };
}

/** RSS after the first 10,000 and after 100,000 requests of every kind, on a fresh process. */
async function measureGrowth(
  target: ServiceUnderTest,
  pid: number,
  tls: ClientTls,
  kinds: RequestKind[],
  onAnswer: (kind: RequestKind, status: number) => void,
) {
  const readings: { rssMiB: number; heapMiB: number }[] = [];
  let sent = 0;
  for (const checkpoint of run.leakCheckpoints) {
    log(`memory growth: up to ${checkpoint} requests`);
    const figures = await drive(target.apiUrl, tls, kinds, {
      connections: run.connections,
      amount: checkpoint - sent,
      onAnswer,
    });
    sent += figures.requests;
    // A moment without load, so that the reading is not of garbage the next collection frees.
    await sleep(2000);
    readings.push({ rssMiB: memoryOf(pid).rssMiB, heapMiB: await heapUsedMiB(target) });
  }
  return { readings, first: readings[0]!, last: readings[readings.length - 1]!, requests: sent };
}

/** The V8 heap in use, from the service's own metrics: tells heap growth from native growth. */
async function heapUsedMiB(target: ServiceUnderTest): Promise<number> {
  const metrics = await (await fetch(target.readyUrl.replace(/\/readyz$/, '/metrics'))).text();
  const bytes = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1];
  return Number(bytes) / (1024 * 1024);
}

/** Counts the history rows the service left behind and checks the file it applied. */
async function durability(dataDir: string) {
  const database = new Database(path.join(dataDir, dataFiles.database), { readonly: true });
  try {
    const { rows } = database.prepare('SELECT count(*) AS rows FROM history').get() as {
      rows: number;
    };
    const dockerConfig = JSON.parse(
      await readFile(path.join(dataDir, dataFiles.dockerConfig), 'utf8'),
    ) as { auths: Record<string, unknown> };
    return { rows, applied: dockerConfig.auths[configuredRegistry] !== undefined };
  } finally {
    database.close();
  }
}

const round = (value: number, digits = 0) => value.toFixed(digits);
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

function reportCase(figures: CaseFigures): string {
  const { kind, service, bare } = figures;
  if (service === undefined || bare === undefined) {
    return `| ${kind.name} | not measured: ${figures.missing} | | | | | | | |`;
  }
  const ratio = service.requestsPerSecond / bare.requestsPerSecond;
  const target = targets.ratio[kind.name] ?? 0;
  return [
    kind.name,
    round(service.requestsPerSecond),
    round(bare.requestsPerSecond),
    `${round(ratio, 2)} (≥ ${target}: ${verdict(ratio >= target)})`,
    `${service.p50Ms} / ${bare.p50Ms}`,
    `${service.p99Ms} / ${bare.p99Ms} (${verdict(service.p99Ms < targets.p99Ms)})`,
    `${round(service.cpuMicrosecondsPerRequest)} / ${round(bare.cpuMicrosecondsPerRequest)}`,
    round(service.peakRssMiB, 1),
    service.errors + bare.errors,
  ]
    .join(' | ')
    .replace(/^/, '| ')
    .concat(' |');
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function reportStart(first: StartedProcess, restarts: StartedProcess[]): string {
  const readyMs = median(restarts.map((each) => each.readyMs));
  const cpuMs = median(restarts.map((each) => each.readyCpuMs));
  return (
    `start to /readyz: first start (creates the development PKI) ${round(first.readyMs)} ms; ` +
    `restarts ${restarts.map((each) => round(each.readyMs)).join(', ')} ms, ` +
    `median ${round(readyMs)} ms (< ${targets.readyMs}: ${verdict(readyMs < targets.readyMs)}), ` +
    `of which the process's own CPU time ${round(cpuMs)} ms`
  );
}

function reportGrowth(growth: Awaited<ReturnType<typeof measureGrowth>> | undefined): string {
  if (growth === undefined) return 'RSS growth: not measured (BENCH_ONLY)';
  const { readings, first, last } = growth;
  const growthMiB = last.rssMiB - first.rssMiB;
  const checkpoints = run.leakCheckpoints.map((count) => `${count / 1000}k`).join(' / ');
  const list = (pick: (reading: (typeof readings)[number]) => number) =>
    readings.map((reading) => round(pick(reading), 1)).join(' / ');
  return (
    `RSS after ${checkpoints} requests: ${list((reading) => reading.rssMiB)} MiB; ` +
    `growth from the first to the last ${round(growthMiB, 1)} MiB (< ${targets.rssGrowthMiB}: ` +
    `${verdict(growthMiB < targets.rssGrowthMiB)}); V8 heap in use ` +
    `${list((reading) => reading.heapMiB)} MiB`
  );
}

function reportDurability(acknowledged: number, stored: { rows: number; applied: boolean }) {
  if (acknowledged === 0) return 'durability: not measured (no valid POST was sent)';
  const applied = stored.applied && stored.rows >= acknowledged;
  return (
    `durability: ${acknowledged} valid POSTs acknowledged, ${stored.rows} history rows, ` +
    `${dataFiles.dockerConfig} ${stored.applied ? 'holds' : 'does not hold'} ` +
    `${configuredRegistry} (${verdict(applied)})`
  );
}

/** The first start creates the development PKI; the restarts are the figure that counts. */
async function measureStart(target: ServiceUnderTest) {
  const first = await startProcess(target.args, target.env, target.readyUrl);
  await stopProcess(first.child);
  const restarts: StartedProcess[] = [];
  for (let index = 0; index < run.restarts; index += 1) {
    const service = await startProcess(target.args, target.env, target.readyUrl);
    restarts.push(service);
    // The last one stays up for the load.
    if (index < run.restarts - 1) await stopProcess(service.child);
  }
  return { first, restarts };
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const entry = build();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-bench-'));
  const children: ChildProcess[] = [];
  try {
    const target = await serviceUnderTest(entry, dataDir);
    if (process.env.BENCH_CPU_PROF !== undefined) {
      await mkdir(process.env.BENCH_CPU_PROF, { recursive: true });
    }

    const { first, restarts } = await measureStart(target);
    const service = restarts[restarts.length - 1]!;
    children.push(service.child);

    const pki = developmentPkiPaths(dataDir);
    const tls: ClientTls = {
      ca: await readFile(pki.caCert),
      cert: await readFile(pki.clientCert),
      key: await readFile(pki.clientKey),
      servername: 'localhost',
    };
    const bare = await startBareServer({
      cert: pki.serverCert,
      key: pki.serverKey,
      ca: pki.caCert,
    });
    children.push(bare.child);

    let acknowledged = 0;
    const onAnswer = (kind: RequestKind, status: number) => {
      if (kind === requestKinds.validPost && status === 200) acknowledged += 1;
    };
    const getAnswers = await probe(target.apiUrl, tls, requestKinds.get);
    const kinds: RequestKind[] = [
      requestKinds.invalidPost,
      requestKinds.get,
      requestKinds.validPost,
    ];
    const mixed = kinds.filter((kind) => kind !== requestKinds.get || getAnswers === 200);
    const growth =
      run.only === undefined
        ? await measureGrowth(target, service.child.pid!, tls, mixed, onAnswer)
        : undefined;

    const cases: CaseFigures[] = [];
    for (const kind of kinds.filter((each) => run.only?.includes(each.name) ?? true)) {
      const running = { url: target.apiUrl, child: service.child };
      const figures = await measureCase(kind, running, bare, tls, onAnswer);
      if (kind === requestKinds.validPost && figures.service !== undefined) acknowledged += 1;
      cases.push(figures);
    }

    await stopProcess(service.child);
    await stopProcess(bare.child);
    const stored = await durability(dataDir);
    const loadAfter = os.loadavg();

    const lines = [
      `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node.js ${process.version}`,
      `load average before: ${loadBefore.map((v) => v.toFixed(2)).join(', ')}; ` +
        `after: ${loadAfter.map((v) => v.toFixed(2)).join(', ')}`,
      `${run.connections} connections, ${run.warmup} s warm-up + ${run.duration} s per case`,
      '',
      '| case | service req/s | bare req/s | ratio (target) | p50 ms service / bare | ' +
        `p99 ms service / bare (< ${targets.p99Ms}) | CPU µs per request service / bare | ` +
        'service peak RSS MiB | errors |',
      '|---|---|---|---|---|---|---|---|---|',
      ...cases.map(reportCase),
      '',
      reportStart(first, restarts),
      reportGrowth(growth),
      reportDurability(acknowledged, stored),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const child of children) await stopProcess(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).stack ?? error}`);
  process.exit(1);
});

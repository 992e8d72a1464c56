// Crash consistency: a real service process is killed with SIGKILL at random moments while it
// applies a stream of updates. After each restart the configuration is the last acknowledged
// update or the one in flight, the database and dockerconfig.json agree, and no acknowledged
// update is lost.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { imageConfigPath } from '../../src/http/routes/image-config.js';
import { dataFiles } from '../../src/store/sqlite-store.js';
import { startService, type TestService } from './support/service.js';

const kills = 50;
const environment = { MEF_VERIFY_REGISTRY: 'off', MEF_RATE_LIMIT: 'off', MEF_LOG_LEVEL: 'warn' };
const password = [...Buffer.from('Huawei12#$')];

/** A small seeded generator, so a failing run can be told apart and reasoned about. */
function randomFrom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Round {
  /** The configuration a restart must find at least: the last acknowledged update, or what
   * the previous restart found when no update was acknowledged since. */
  settled?: string;
  /** The update sent and not answered when the service was killed. */
  inFlight?: string;
}

/** What the restarted service holds: its answer, the database and the Docker config. */
async function stateOf(service: TestService) {
  const read = await service.request('GET', imageConfigPath);
  const served = (read.json as { data: { account: string } | null }).data?.account;

  const database = new Database(path.join(service.dataDir, dataFiles.database), {
    readonly: true,
  });
  try {
    const row = database.prepare('SELECT account FROM image_config').get() as
      { account: string } | undefined;
    const history = database.prepare('SELECT account FROM history').all() as {
      account: string;
    }[];
    const dockerConfig = JSON.parse(
      await readFile(path.join(service.dataDir, dataFiles.dockerConfig), 'utf8'),
    ) as { auths: Record<string, { username: string }> };
    return {
      served,
      stored: row?.account,
      history: new Set(history.map((entry) => entry.account)),
      inDockerConfig: dockerConfig.auths['registry.example.com:443']?.username,
    };
  } finally {
    database.close();
  }
}

/**
 * Runs `kills` rounds in `dataDir`: start the service, check what it holds, stream updates,
 * kill it at a random moment. Returns how many updates were acknowledged.
 */
async function killRepeatedly(
  lane: number,
  dataDir: string,
  kills: number,
  random: () => number,
  running: Set<TestService>,
): Promise<number> {
  const acknowledged: string[] = [];
  let previous: Round = {};
  for (let round = 0; ; round += 1) {
    const service = await startService({ dataDir, env: environment });
    running.add(service);

    const state = await stateOf(service);
    const context = `lane ${lane}, after kill ${round}: ${JSON.stringify({ previous, state })}`;
    assert.ok(
      [previous.settled, previous.inFlight].includes(state.stored),
      `unexpected configuration; ${context}`,
    );
    assert.equal(state.served, state.stored, context);
    assert.equal(state.inDockerConfig, state.stored, `the file disagrees; ${context}`);
    for (const account of acknowledged) {
      assert.ok(state.history.has(account), `acknowledged ${account} was lost; ${context}`);
    }
    if (round === kills) {
      await service.stop();
      running.delete(service);
      return acknowledged.length;
    }

    const current: Round = { settled: state.stored };
    const killed = once(service.process, 'exit');
    const timer = setTimeout(() => service.process.kill('SIGKILL'), 5 + random() * 250);
    for (let sequence = 0; ; sequence += 1) {
      const account = `l${lane}-r${round}-u${sequence}`;
      current.inFlight = account;
      const response = await service
        .request('POST', imageConfigPath, {
          domain: 'registry.example.com',
          port: 443,
          account,
          password: [...password],
        })
        .catch(() => undefined);
      if (response === undefined) break;
      assert.equal(response.status, 200, response.text);
      acknowledged.push(account);
      current.settled = account;
      current.inFlight = undefined;
    }
    clearTimeout(timer);
    await killed;
    running.delete(service);
    previous = current;
  }
}

describe('crash consistency under SIGKILL', () => {
  // Start-up is most of the time a round takes and uses one core: two lanes use two.
  const lanes = 2;
  const dataDirs: string[] = [];
  const running = new Set<TestService>();

  after(async () => {
    await Promise.all([...running].map((service) => service.stop()));
    await Promise.all(dataDirs.map((dataDir) => rm(dataDir, { recursive: true, force: true })));
  });

  it(`keeps acknowledged updates and both copies in agreement over ${kills} kills`, async () => {
    const seed = Date.now();
    const random = randomFrom(seed);
    for (let lane = 0; lane < lanes; lane += 1) {
      dataDirs.push(await mkdtemp(path.join(tmpdir(), 'mef-e2e-crash-')));
    }
    const acknowledged = await Promise.all(
      dataDirs.map((dataDir, lane) =>
        killRepeatedly(lane, dataDir, Math.ceil(kills / lanes), random, running).catch(
          (error: Error) => {
            error.message = `seed ${seed}: ${error.message}`;
            throw error;
          },
        ),
      ),
    );
    const updates = acknowledged.reduce((sum, count) => sum + count, 0);
    assert.ok(updates >= kills, `only ${updates} updates were acknowledged`);
  });
});

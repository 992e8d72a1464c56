import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../../src/logging.js';
import {
  createCertificateAuthority,
  issueCertificate,
} from '../../../src/pki/certificate-authority.js';
import { metricNames, ServiceMetrics } from '../../../src/http/metrics.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { startTestService, type TestService } from '../../support/test-service.js';

const route = '/edgemanager/v1/image/config';
const validBody = {
  domain: 'registry.example.com',
  port: 443,
  account: 'ImageRepository',
  password: [...Buffer.from('Example12#$')],
};

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of one metric in a Prometheus text exposition. */
function samples(exposition: string, name: string): Sample[] {
  const found: Sample[] = [];
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    found.push({ labels, value: Number(match[3]) });
  }
  return found;
}

/** The value of the sample whose labels include `labels`; 0 when there is none. */
function value(exposition: string, name: string, labels: Record<string, string> = {}): number {
  const sample = samples(exposition, name).find((candidate) =>
    Object.entries(labels).every(([key, expected]) => candidate.labels[key] === expected),
  );
  return sample?.value ?? 0;
}

async function scrape(test: TestService): Promise<string> {
  const response = await fetch(`${test.service.opsUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** Opens a TLS connection to the API and resolves when the server has ended it. */
function handshake(test: TestService, client: { cert?: string; key?: string }): Promise<void> {
  const { port } = new URL(test.service.apiUrl);
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port: Number(port),
      servername: 'localhost',
      rejectUnauthorized: false,
      ...client,
    });
    // With TLS 1.3 the client finishes first and learns of the refusal from an alert.
    socket.on('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.resume();
  });
}

describe('GET /metrics on the ops listener', () => {
  let test: TestService;
  before(async () => {
    test = await startTestService();
  });
  after(async () => {
    await test.stop();
  });

  it('counts API requests by route template, method and status, with their durations', async () => {
    assert.equal((await test.call('POST', route, validBody)).statusCode, 200);
    assert.equal((await test.call('POST', route, { ...validBody, port: 70000 })).statusCode, 400);
    assert.equal((await test.call('POST', route, { ...validBody, port: 0 })).statusCode, 400);
    assert.equal((await test.call('GET', '/no/such/path/12345')).statusCode, 404);

    const text = await scrape(test);
    const post = { route, method: 'POST' };
    assert.equal(value(text, metricNames.httpRequests, { ...post, status: '200' }), 1);
    assert.equal(value(text, metricNames.httpRequests, { ...post, status: '400' }), 2);
    assert.equal(
      value(text, metricNames.httpRequests, { route: 'unmatched', method: 'GET', status: '404' }),
      1,
    );
    // An unmatched path is never a label value: label sets stay bounded.
    assert.equal(text.includes('/no/such/path/12345'), false);

    const duration = metricNames.httpRequestDuration;
    assert.equal(value(text, `${duration}_count`, { ...post, status: '400' }), 2);
    const sum = value(text, `${duration}_sum`, { ...post, status: '200' });
    assert.ok(sum > 0 && sum < 5, `duration sum ${sum}`);
    assert.equal(value(text, `${duration}_bucket`, { ...post, status: '200', le: '+Inf' }), 1);

    assert.equal(value(text, metricNames.configurationUpdates, { result: 'applied' }), 1);
    assert.equal(value(text, metricNames.configurationUpdates, { result: 'refused' }), 2);
    assert.equal(value(text, metricNames.configurationUpdates, { result: 'failed' }), 0);
  });

  it('counts TLS handshakes refused for a missing or a foreign client certificate', async () => {
    const before = value(await scrape(test), metricNames.tlsHandshakeFailures);
    assert.equal(before, 0);

    await handshake(test, {});
    const stranger = await createCertificateAuthority('Some other CA');
    const foreign = await issueCertificate(stranger, { commonName: 'mef-admin', usage: 'client' });
    await handshake(test, { cert: foreign.certificatePem, key: foreign.privateKeyPem });

    const text = await scrape(test);
    const failures = samples(text, metricNames.tlsHandshakeFailures);
    assert.equal(
      failures.reduce((total, sample) => total + sample.value, 0),
      2,
      text,
    );
    for (const sample of failures) assert.match(sample.labels.reason ?? '', /^[A-Z_0-9]+$/);
    // A refused handshake is not an HTTP request.
    assert.equal(value(text, metricNames.httpRequests, { status: '403' }), 0);
  });

  it('exposes the process metrics and the series that start at zero', async () => {
    const text = await scrape(test);
    assert.ok(value(text, 'process_resident_memory_bytes') > 0);
    assert.ok(samples(text, 'nodejs_eventloop_lag_seconds').length === 1);
    assert.equal(samples(text, metricNames.registryVerifications).length, 7);
    assert.equal(value(text, metricNames.rateLimitRefusals, { limit: 'requests' }), 0);
  });

  it('keeps each service instance its own counters', async () => {
    const other = await startTestService();
    try {
      const text = await scrape(other);
      assert.equal(samples(text, metricNames.httpRequests).length, 0);
      assert.ok(value(await scrape(test), metricNames.httpRequests, { status: '200' }) >= 1);
    } finally {
      await other.stop();
    }
  });
});

describe('store errors in the metrics', () => {
  it('counts a save the store could not complete, and the failed update', async () => {
    const logger = createLogger('silent');
    const test = await startTestService({
      store: (dataDir) =>
        new SqliteStore({
          dataDir,
          logger,
          faults: {
            beforeCommit: () => {
              throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
            },
          },
        }),
    });
    try {
      assert.equal((await test.call('POST', route, validBody)).statusCode, 503);
      const text = await scrape(test);
      assert.equal(value(text, metricNames.storeErrors, { store: 'sqlite' }), 1);
      assert.equal(value(text, metricNames.configurationUpdates, { result: 'failed' }), 1);
      const dockerConfig = await readFile(`${test.dataDir}/dockerconfig.json`, 'utf8');
      assert.deepEqual(JSON.parse(dockerConfig), { auths: {} });
    } finally {
      await test.stop();
    }
  });
});

describe('ServiceMetrics', () => {
  it('has every metric listed in the README', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const name of Object.values(metricNames)) {
      assert.ok(readme.includes(`\`${name}\``), `${name} is not in the README`);
    }
  });

  it('counts verifications by result and failed step, and refusals by limit', async () => {
    const metrics = new ServiceMetrics();
    metrics.recordVerification({ ok: true, open: false, scheme: 'basic' });
    metrics.recordVerification({ ok: false, step: 'authentication', host: 'r', message: 'm' });
    metrics.recordVerification({ ok: false, step: 'authentication', host: 'r', message: 'm' });
    metrics.recordVerification({ ok: false, step: 'tls', host: 'r', message: 'm' });
    metrics.recordRateLimitRefusal('requests');
    metrics.recordRateLimitRefusal('connections');
    metrics.recordRateLimitRefusal('connections');

    const { text } = await metrics.exposition();
    const verifications = metricNames.registryVerifications;
    assert.equal(value(text, verifications, { result: 'success', step: 'none' }), 1);
    assert.equal(value(text, verifications, { result: 'failure', step: 'authentication' }), 2);
    assert.equal(value(text, verifications, { result: 'failure', step: 'tls' }), 1);
    assert.equal(value(text, verifications, { result: 'failure', step: 'timeout' }), 0);
    assert.equal(value(text, metricNames.rateLimitRefusals, { limit: 'requests' }), 1);
    assert.equal(value(text, metricNames.rateLimitRefusals, { limit: 'connections' }), 2);
  });
});

describe('rate-limit refusals', () => {
  it('counts requests refused with 429', async () => {
    const test = await startTestService({
      env: { MEF_RATE_LIMIT: '1', MEF_RATE_BURST: '1' },
    });
    try {
      const statuses: number[] = [];
      for (let index = 0; index < 3; index += 1) {
        statuses.push((await test.call('GET', '/edgemanager/v1/image/config')).statusCode);
      }
      assert.ok(statuses.includes(429), `no 429 among ${statuses.join(', ')}`);
      const refused = value(await scrape(test), 'mef_rate_limit_refusals_total', {
        limit: 'requests',
      });
      assert.equal(refused, statuses.filter((status) => status === 429).length);
    } finally {
      await test.stop();
    }
  });
});

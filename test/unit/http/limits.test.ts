import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { StatusCode } from '../../../src/domain/status.js';
import { TokenBuckets } from '../../../src/http/limits.js';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import {
  addressOf,
  closedAfter,
  exchangeOnce,
  getRequest,
  openConnection,
  requestOn,
} from '../../support/raw-tls-client.js';
import { startTestService, type TestService } from '../../support/test-service.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const keepAliveRequest = `GET ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

describe('TokenBuckets', () => {
  it('lets a burst through, then one request per 1/rate seconds', () => {
    let now = 0;
    const buckets = new TokenBuckets(10, 5, () => now);
    for (let i = 0; i < 5; i += 1) assert.equal(buckets.take('a').allowed, true);
    const refused = buckets.take('a');
    assert.equal(refused.allowed, false);
    assert.ok(Math.abs(refused.waitMs - 100) < 1e-6, String(refused.waitMs));

    now = 100;
    assert.equal(buckets.take('a').allowed, true);
    assert.equal(buckets.take('a').allowed, false);
    assert.equal(buckets.take('b').allowed, true, 'clients have a bucket each');

    now = 10_000;
    for (let i = 0; i < 5; i += 1) assert.equal(buckets.take('a').allowed, true);
    assert.equal(buckets.take('a').allowed, false, 'a long pause refills no more than the burst');
  });
});

describe('the request rate limit', () => {
  let test: TestService;
  before(async () => {
    test = await startTestService({ env: { MEF_RATE_LIMIT: '2', MEF_RATE_BURST: '5' } });
  });
  after(async () => {
    await test.stop();
  });

  it('answers 429 with Retry-After and the envelope after the burst, then recovers', async () => {
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => test.call('GET', imageConfigPath)),
    );
    assert.deepEqual(
      burst.map((response) => response.statusCode),
      [200, 200, 200, 200, 200],
    );

    const limited = await test.call('GET', imageConfigPath);
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers['retry-after'], '1');
    assert.equal(limited.json?.status, StatusCode.rateLimited);
    assert.match(String(limited.json?.msg), /at most 2 per second .* bursts of at most 5/);
    // Unknown paths take from the same bucket, so they are no way around the limit.
    assert.equal((await test.call('GET', '/no/such/path')).statusCode, 429);

    await sleep(600);
    assert.equal((await test.call('GET', imageConfigPath)).statusCode, 200);
    assert.equal((await test.call('GET', imageConfigPath)).statusCode, 429);
  });
});

describe('the connection cap', () => {
  let test: TestService;
  let client: ConnectionOptions;
  before(async () => {
    test = await startTestService({ env: { MEF_MAX_CONNECTIONS_PER_IP: '3' } });
    client = test.client;
  });
  after(async () => {
    await test.stop();
  });

  it('closes connections beyond the cap at once and serves those within it', async () => {
    const held: TLSSocket[] = [];
    for (let i = 0; i < 3; i += 1) held.push(await openConnection(test.service.apiUrl, client));

    const excess = await exchangeOnce(test.service.apiUrl, client, getRequest(imageConfigPath));
    assert.equal(excess.secured, false);
    assert.equal(excess.received, '');
    assert.ok(test.logs.some((line) => line.includes('"event":"connection.refused"')));

    for (const socket of held) {
      assert.match(await requestOn(socket, keepAliveRequest), /^HTTP\/1\.1 200/);
    }
    const closed = closedAfter(held[0]!);
    held[0]!.destroy();
    await closed;
    await sleep(50);
    const next = await exchangeOnce(test.service.apiUrl, client, getRequest(imageConfigPath));
    assert.match(next.received, /^HTTP\/1\.1 200/, 'a freed slot is usable again');
    for (const socket of held) socket.destroy();
  });
});

describe('slow clients', () => {
  let test: TestService;
  let client: ConnectionOptions;
  const headersTimeoutMs = 1000;
  // Node checks the timeouts on a timer (a quarter of the headers timeout here).
  const latenessMs = headersTimeoutMs / 4 + 400;

  before(async () => {
    test = await startTestService({
      env: { MEF_HEADERS_TIMEOUT_MS: String(headersTimeoutMs), MEF_REQUEST_TIMEOUT_MS: '2000' },
    });
    client = test.client;
  });
  after(async () => {
    await test.stop();
  });

  /** Writes `text` one byte every `intervalMs` until the socket closes. */
  function trickle(socket: TLSSocket, text: string, intervalMs: number): void {
    let index = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || index >= text.length) return clearInterval(timer);
      socket.write(text[index]!);
      index += 1;
    }, intervalMs);
    socket.once('close', () => clearInterval(timer));
  }

  it('disconnects a client that trickles its headers, while others are served', async () => {
    const slow = await openConnection(test.service.apiUrl, client);
    const started = Date.now();
    const closed = closedAfter(slow, started);
    const head =
      `GET ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n` + 'X-Slow: a\r\n'.repeat(50);
    trickle(slow, head, 50);

    let served = 0;
    while (!slow.destroyed && Date.now() - started < 5000) {
      const response = await test.call('GET', imageConfigPath);
      assert.equal(response.statusCode, 200);
      served += 1;
      await sleep(100);
    }
    const closedAfterMs = await closed;
    assert.ok(closedAfterMs >= headersTimeoutMs - 100, `closed after ${closedAfterMs} ms`);
    assert.ok(closedAfterMs <= headersTimeoutMs + latenessMs, `closed after ${closedAfterMs} ms`);
    assert.ok(served >= 3, `served ${served} calls meanwhile`);
  });

  it('disconnects a client that stalls in the TLS handshake', async () => {
    const { host, port } = addressOf(test.service.apiUrl);
    const socket = connect({ host, port });
    await once(socket, 'connect');
    const started = Date.now();
    socket.on('error', () => undefined);
    await once(socket, 'close');
    const closedAfterMs = Date.now() - started;
    assert.ok(closedAfterMs >= headersTimeoutMs - 100, `closed after ${closedAfterMs} ms`);
    assert.ok(closedAfterMs <= headersTimeoutMs + latenessMs, `closed after ${closedAfterMs} ms`);
  });

  it('disconnects a client that completes the handshake and sends nothing', async () => {
    const idle = await openConnection(test.service.apiUrl, client);
    const closedAfterMs = await closedAfter(idle);
    assert.ok(closedAfterMs <= headersTimeoutMs + latenessMs, `closed after ${closedAfterMs} ms`);
  });

  it('disconnects a client that trickles its body past the request timeout', async () => {
    const slow = await openConnection(test.service.apiUrl, client);
    const closed = closedAfter(slow);
    slow.write(
      `POST ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n` +
        'Content-Type: application/json\r\nContent-Length: 200\r\n\r\n',
    );
    trickle(slow, ' '.repeat(200), 100);
    const closedAfterMs = await closed;
    assert.ok(closedAfterMs >= 2000 - 100, `closed after ${closedAfterMs} ms`);
    assert.ok(closedAfterMs <= 2000 + latenessMs, `closed after ${closedAfterMs} ms`);
  });

  it('does not cut a kept-alive connection between requests at the headers timeout', async () => {
    const socket = await openConnection(test.service.apiUrl, client);
    assert.match(await requestOn(socket, keepAliveRequest), /^HTTP\/1\.1 200/);
    await sleep(headersTimeoutMs + latenessMs);
    assert.match(await requestOn(socket, keepAliveRequest), /^HTTP\/1\.1 200/);
    socket.destroy();
  });
});

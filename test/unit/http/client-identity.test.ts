import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import { addressOf } from '../../support/raw-tls-client.js';
import { startTestService, type TestService } from '../../support/test-service.js';

/** Sends `request` over mutual TLS and hangs up at once, before any answer can arrive. */
function sendAndHangUp(url: string, options: ConnectionOptions, request: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connectTls({ ...addressOf(url), servername: 'localhost', ...options }, () =>
      socket.write(request, () => {
        socket.destroy();
        resolve();
      }),
    );
    socket.on('error', () => undefined);
  });
}

/** Sends plain HTTP to the TLS port and resets the connection at once. */
function plainHttpAndReset(url: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connectTcp(addressOf(url).port, '127.0.0.1', () =>
      socket.write('GET / HTTP/1.1\r\n\r\n', () => {
        socket.resetAndDestroy();
        resolve();
      }),
    );
    socket.on('error', () => undefined);
  });
}

/** The parsed log lines whose `event` is `event`, once `count` of them were written. */
async function logLines(test: TestService, event: string, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = test.logs
      .flatMap((text) => text.split('\n'))
      .filter((line) => line.includes(`"event":"${event}"`))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the client address in the logs', () => {
  let test: TestService;
  let client: ConnectionOptions;
  before(async () => {
    test = await startTestService();
    client = test.client;
  });
  after(async () => test.stop());

  it('is known for requests whose connection is gone by the time they are logged', async () => {
    const head = `POST ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n`;
    await sendAndHangUp(
      test.service.apiUrl,
      client,
      `${head}Content-Type: application/json\r\nContent-Length: 8\r\n\r\nnot json`,
    );
    await sendAndHangUp(
      test.service.apiUrl,
      client,
      `${head}Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n{"port":`,
    );

    const requests = await logLines(test, 'request', 2);
    assert.deepEqual(
      requests.map((line) => [line.statusCode, line.clientIp]),
      [
        [400, '127.0.0.1'],
        [413, '127.0.0.1'],
      ],
    );
    const operations = await logLines(test, 'operation', 2);
    assert.equal(operations.length, 2);
    for (const line of operations) {
      assert.equal(line.clientIp, '127.0.0.1');
      assert.match(String(line.msg), /@127\.0\.0\.1 configure image registry failed/);
    }
  });

  it('is known for a refused TLS handshake of a client that reset the connection', async () => {
    await plainHttpAndReset(test.service.apiUrl);

    const refusals = await logLines(test, 'tls.refused', 1);
    assert.equal(refusals.length, 1, test.logs.join(''));
    assert.equal(refusals[0]?.clientIp, '127.0.0.1');
  });
});

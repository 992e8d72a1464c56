// SIGTERM stops a real service process gracefully: it stops accepting, finishes the call in
// flight, lets go of idle kept-alive connections, and exits 0.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConnectionOptions } from 'node:tls';
import { imageConfigPath } from '../../src/http/routes/image-config.js';
import {
  closedAfter,
  exchangeOnce,
  getRequest,
  openConnection,
  requestOn,
} from '../support/raw-tls-client.js';
import { startService, type TestService } from './support/service.js';

const environment = { MEF_VERIFY_REGISTRY: 'off', MEF_RATE_LIMIT: 'off' };
const keepAliveRequest = `GET ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

describe('stopping the service with SIGTERM', () => {
  let dataDir: string;
  let service: TestService;
  let client: ConnectionOptions;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'mef-e2e-stop-'));
    service = await startService({ dataDir, env: environment });
    const [ca, cert, key] = await Promise.all(
      [service.pki.caCert, service.pki.clientCert, service.pki.clientKey].map((file) =>
        readFile(file),
      ),
    );
    client = { ca, cert, key };
  });

  after(async () => {
    await service.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('finishes the call in flight, closes idle connections and exits 0', async () => {
    const idle = await openConnection(service.apiUrl, client);
    assert.match(await requestOn(idle, keepAliveRequest), /^HTTP\/1\.1 200/);
    const idleClosed = closedAfter(idle, Date.now(), 20_000);

    const body = Buffer.from(
      JSON.stringify({
        domain: 'registry.example.com',
        port: 443,
        account: 'in-flight',
        password: [...Buffer.from('Huawei12#$')],
      }),
    );
    const busy = await openConnection(service.apiUrl, client);
    const half = Math.floor(body.length / 2);
    const answer = requestOn(
      busy,
      `POST ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.subarray(0, half).toString('latin1'),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));

    const exited = once(service.process, 'exit');
    const stopSent = Date.now();
    service.process.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));

    const newcomer = await exchangeOnce(service.apiUrl, client, getRequest(imageConfigPath));
    assert.equal(newcomer.errorCode, 'ECONNREFUSED', 'a new connection was accepted');
    assert.equal(service.process.exitCode, null, 'the process exited with a call in flight');

    busy.write(body.subarray(half));
    const response = await answer;
    assert.match(response, /^HTTP\/1\.1 200/);
    assert.match(response, /\r\nconnection: close\r\n/i);
    assert.match(response, /"status":"00000000"/);

    const [code, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, null);
    assert.equal(code, 0, service.output());
    const stoppedAfterMs = Date.now() - stopSent;
    assert.ok(stoppedAfterMs < 5000, `the stop took ${stoppedAfterMs} ms`);
    assert.ok((await idleClosed) < 20_000, 'the idle kept-alive connection was not let go');

    service = await startService({ dataDir, env: environment });
    const read = await service.request('GET', imageConfigPath);
    assert.equal((read.json as { data: { account: string } }).data.account, 'in-flight');
  });
});

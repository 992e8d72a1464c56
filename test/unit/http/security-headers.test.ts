import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import { securityHeaders } from '../../../src/http/security-headers.js';
import { createLogger } from '../../../src/logging.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import {
  startTestService,
  type TestResponse,
  type TestService,
} from '../../support/test-service.js';

function assertSecurityHeaders(response: TestResponse, what: string): void {
  const { headers } = response;
  assert.match(
    String(headers['strict-transport-security']),
    /^max-age=31536000; includeSubDomains/,
  );
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['cache-control'], 'no-store', what);
  assert.equal(headers['x-frame-options'], 'DENY', what);
  assert.equal(headers['content-security-policy'], securityHeaders.contentSecurityPolicy, what);
}

/** A store that fails in a way no code expects, so the answer is a 500. */
class BrokenStore extends SqliteStore {
  override async read(): Promise<never> {
    throw new Error('disk on fire');
  }
}

describe('security headers', () => {
  let test: TestService;
  let limited: TestService;
  before(async () => {
    test = await startTestService({
      store: (dataDir) => new BrokenStore({ dataDir, logger: createLogger('silent') }),
    });
    limited = await startTestService({ env: { MEF_RATE_LIMIT: '1', MEF_RATE_BURST: '1' } });
  });
  after(async () => {
    await test.stop();
    await limited.stop();
  });

  it('are on every answer: success, refusals, errors, unknown paths and methods', async () => {
    const valid = {
      domain: 'registry.example.com',
      port: 443,
      account: 'ImageRepository',
      password: [...Buffer.from('Huawei12#$')],
    };
    const answers: [string, number, Promise<TestResponse>][] = [
      ['success', 200, test.call('POST', imageConfigPath, valid)],
      ['bad JSON', 400, test.call('POST', imageConfigPath, Buffer.from('{'))],
      ['broken rule', 400, test.call('POST', imageConfigPath, { ...valid, port: 0 })],
      ['unknown path', 404, test.call('GET', '/nothing/here')],
      ['wrong method', 405, test.call('DELETE', imageConfigPath)],
      ['too large', 413, test.call('POST', imageConfigPath, Buffer.alloc(2 * 1024 * 1024, 32))],
      ['not JSON', 415, test.call('POST', imageConfigPath, 'a=b', { contentType: 'text/plain' })],
      ['internal error', 500, test.call('GET', imageConfigPath)],
    ];
    for (const [what, status, pending] of answers) {
      const response = await pending;
      assert.equal(response.statusCode, status, `${what}: ${response.text}`);
      assertSecurityHeaders(response, what);
    }
  });

  it('are on a 429', async () => {
    await limited.call('GET', imageConfigPath);
    const response = await limited.call('GET', imageConfigPath);
    assert.equal(response.statusCode, 429);
    assertSecurityHeaders(response, '429');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionOptions } from 'node:tls';
import { StatusCode } from '../../../src/domain/status.js';
import { certificatePaths } from '../../../src/http/routes/certificates.js';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import { securityHeaderSet } from '../../../src/http/security-headers.js';
import { exchangeOnce } from '../../support/raw-tls-client.js';
import { startTestService, type TestService } from '../../support/test-service.js';

interface RawAnswer {
  statusCode: number;
  headers: Map<string, string>;
  body: unknown;
}

/** Splits a raw HTTP/1.1 answer with a Content-Length body into its parts. */
function parseAnswer(received: string): RawAnswer {
  const headEnd = received.indexOf('\r\n\r\n');
  assert.notEqual(headEnd, -1, `no whole answer: ${JSON.stringify(received)}`);
  const [statusLine = '', ...lines] = received.slice(0, headEnd).split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return {
    statusCode: Number(statusLine.split(' ')[1]),
    headers,
    body: JSON.parse(received.slice(headEnd + 4)) as unknown,
  };
}

function assertSecurityHeaders(answer: RawAnswer, what: string): void {
  for (const [name, value] of Object.entries(securityHeaderSet)) {
    assert.equal(answer.headers.get(name.toLowerCase()), value, `${what}: ${name}`);
  }
  assert.equal(answer.headers.get('cache-control'), 'no-store', what);
}

describe('requests the API cannot read as sent', () => {
  let test: TestService;
  let client: ConnectionOptions;
  before(async () => {
    test = await startTestService();
    client = test.client;
  });
  after(async () => test.stop());

  const send = async (request: string) =>
    parseAnswer((await exchangeOnce(test.service.apiUrl, client, request)).received);
  const post = `POST ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n`;

  it('answers a URL with a bad percent-encoding in the envelope', async () => {
    const answer = await send('GET /%zz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(answer.statusCode, 400);
    assert.deepEqual(answer.body, {
      status: StatusCode.badBody,
      msg: 'URL: must be validly percent-encoded',
    });
    assertSecurityHeaders(answer, 'bad URL');
  });

  it('answers HTTP that Node cannot parse in the envelope, and closes', async () => {
    const cases: [string, string, number, RegExp][] = [
      [
        'two Content-Lengths',
        `${post}Content-Type: application/json\r\nContent-Length: 2\r\n` +
          'Content-Length: 3\r\n\r\n{}',
        400,
        /^Content-Length: must be sent once/,
      ],
      [
        'Content-Length and Transfer-Encoding',
        `${post}Content-Type: application/json\r\nContent-Length: 2\r\n` +
          'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
        400,
        /^Transfer-Encoding: must be chunked alone, and not sent with Content-Length/,
      ],
      [
        'a header block over 16 KiB',
        `GET ${imageConfigPath} HTTP/1.1\r\nHost: localhost\r\n` +
          `X-Padding: ${'a'.repeat(17_000)}\r\n\r\n`,
        431,
        /^headers: must be at most 16 KiB in all$/,
      ],
    ];
    for (const [what, request, statusCode, msg] of cases) {
      const answer = await send(request);
      assert.equal(answer.statusCode, statusCode, what);
      const body = answer.body as { status: string; msg: string };
      assert.equal(body.status, StatusCode.badBody, what);
      assert.match(body.msg, msg, what);
      assert.equal(answer.headers.get('connection'), 'close', what);
      assertSecurityHeaders(answer, what);
    }
  });

  it('refuses a POST without a body or Content-Type as an empty body', async () => {
    for (const urlPath of [imageConfigPath, certificatePaths.import, certificatePaths.delete]) {
      for (const emptyPost of [
        `POST ${urlPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
        `POST ${urlPath} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n` +
          'Connection: close\r\n\r\n',
      ]) {
        const answer = await send(emptyPost);
        assert.equal(answer.statusCode, 400, urlPath);
        assert.deepEqual(
          answer.body,
          { status: StatusCode.badBody, msg: 'body: must not be empty' },
          urlPath,
        );
      }
    }
  });

  it('refuses a compressed body and a charset other than UTF-8 with a 415', async () => {
    const body = '{"port":443}';
    const gzip = await send(
      `${post}Content-Type: application/json\r\nContent-Encoding: gzip\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(gzip.statusCode, 415);
    assert.equal((gzip.body as { status: string }).status, StatusCode.badBody);
    assert.match((gzip.body as { msg: string }).msg, /^Content-Encoding: must be identity.*gzip/);

    const utf16 = await send(
      `${post}Content-Type: application/json; charset=utf-16\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(utf16.statusCode, 415);
    assert.deepEqual(utf16.body, {
      status: StatusCode.badBody,
      msg: 'Content-Type: charset must be utf-8, not "utf-16"',
    });

    const utf8 = await test.call('POST', imageConfigPath, Buffer.from(body), {
      contentType: 'application/json; charset=UTF-8',
    });
    assert.notEqual(utf8.statusCode, 415, utf8.text);
    assert.equal(utf8.json?.status, StatusCode.ruleBroken, utf8.text);
  });
});

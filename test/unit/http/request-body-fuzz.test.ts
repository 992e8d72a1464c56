import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import { startTestService, type TestService } from '../../support/test-service.js';

/** A request body, and the password bytes it carries when it carries one. */
interface FuzzedBody {
  text: Buffer;
  password?: Buffer;
}

/** Enough different bytes that finding them in a log by chance is out of the question. */
const distinctive = (bytes: Uint8Array) => bytes.length >= 8 && new Set(bytes).size >= 5;

const printablePassword = fc
  .string({
    unit: fc.integer({ min: 33, max: 126 }).map((code) => String.fromCharCode(code)),
    minLength: 8,
    maxLength: 20,
  })
  .map((text) => Buffer.from(text));
const password = fc
  .oneof(printablePassword, fc.uint8Array({ minLength: 8, maxLength: 24 }).map(Buffer.from))
  .filter(distinctive);

/** The password as a client may send it, right or wrong. */
const passwordJson = (bytes: Buffer) =>
  fc.constantFrom(
    JSON.stringify([...bytes]),
    JSON.stringify(bytes.toString('base64')),
    JSON.stringify(bytes.toString('base64').replace(/(.{4})/, '$1\n')),
    JSON.stringify([...bytes, 256]),
    JSON.stringify([...bytes].map((byte) => byte + 0.5)),
    JSON.stringify(`${bytes.toString('base64')}!`),
  );

const hugeNumber = fc.constantFrom(
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '443.0',
  '4.43e2',
  '-0',
  '65536',
  '0.000000000000000000000000001',
  `1${'0'.repeat(5000)}`,
);

const fieldValue = (key: string): fc.Arbitrary<string> => {
  const folded = key.toLowerCase().replace(/\u017f/g, 's');
  const any = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null');
  if (folded === 'port') {
    return fc.oneof(fc.constantFrom('443', '5000'), hugeNumber, fc.double().map(String), any);
  }
  if (folded === 'domain') {
    return fc.oneof(fc.constantFrom('"registry.example.com"', '"registry"'), any);
  }
  if (folded === 'ip') return fc.oneof(fc.constant('"10.20.30.40"'), any);
  if (folded === 'account') return fc.oneof(fc.constantFrom('"puller"', '"Image_Repo-1"'), any);
  return any;
};

const key = fc.oneof(
  fc.constantFrom(
    'domain',
    'Domain',
    'DOMAIN',
    'ip',
    'IP',
    'port',
    'Port',
    'PORT',
    'account',
    'Account',
    'password',
    'Password',
    'PASSWORD',
    'pa\u017fsword',
    '__proto__',
  ),
  fc.string({ maxLength: 10 }),
);

/** An object written by hand, so keys may repeat and differ only in case. */
const handWrittenObject: fc.Arbitrary<FuzzedBody> = fc
  .tuple(
    fc.array(
      key.chain((name) => fc.tuple(fc.constant(name), fieldValue(name))),
      {
        maxLength: 8,
      },
    ),
    password.chain((bytes) => fc.tuple(fc.constant(bytes), passwordJson(bytes))),
    fc.constantFrom('password', 'Password', 'PASSWORD', 'pa\u017fsword'),
    fc.boolean(),
  )
  .map(([entries, [bytes, encoded], passwordKey, passwordFirst]) => {
    const members = entries.map(([name, value]) => `${JSON.stringify(name)}:${value}`);
    const passwordMember = `${JSON.stringify(passwordKey)}:${encoded}`;
    if (passwordFirst) members.unshift(passwordMember);
    else members.push(passwordMember);
    return { text: Buffer.from(`{${members.join(',')}}`), password: bytes };
  });

/** A request that follows every rule, with a password of random bytes or characters. */
const validRequest: fc.Arbitrary<FuzzedBody> = fc
  .tuple(printablePassword.filter(distinctive), fc.constantFrom('puller', 'Image_Repo-1'))
  .map(([bytes, account]) => ({
    text: Buffer.from(
      JSON.stringify({ domain: 'registry.example.com', port: 443, account, password: [...bytes] }),
    ),
    password: bytes,
  }));

const deepNesting: fc.Arbitrary<FuzzedBody> = fc
  .tuple(fc.integer({ min: 1, max: 300_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => {
    const close = open === '[' ? ']' : '}';
    const inner = open === '[' ? '' : '1';
    return {
      text: Buffer.from(`{"password":${open.repeat(depth)}${inner}${close.repeat(depth)}}`),
    };
  });

const body: fc.Arbitrary<FuzzedBody> = fc.oneof(
  { arbitrary: handWrittenObject, weight: 5 },
  { arbitrary: validRequest, weight: 2 },
  { arbitrary: deepNesting, weight: 1 },
  {
    arbitrary: fc.jsonValue().map((value) => ({ text: Buffer.from(JSON.stringify(value)) })),
    weight: 2,
  },
  {
    arbitrary: fc.uint8Array({ maxLength: 2048 }).map((bytes) => ({ text: Buffer.from(bytes) })),
    weight: 1,
  },
);

/** The ways a password could show up in text: raw, JSON-escaped, base64, or as a byte list. */
function passwordForms(bytes: Buffer): Buffer[] {
  const text = bytes.toString('utf8');
  return [
    bytes,
    Buffer.from(JSON.stringify(text).slice(1, -1)),
    Buffer.from(bytes.toString('base64')),
    Buffer.from([...bytes].join(',')),
  ];
}

describe('the request body, fuzzed', () => {
  let test: TestService;
  const passwords: Buffer[] = [];
  before(async () => {
    test = await startTestService();
  });
  after(async () => {
    await test.stop();
  });

  it('always answers with an envelope and a 2xx or 4xx status, and never crashes', async () => {
    await fc.assert(
      fc.asyncProperty(body, async ({ text, password: bytes }) => {
        if (bytes !== undefined) passwords.push(Buffer.from(bytes));
        const response = await test.call('POST', imageConfigPath, text);

        assert.ok(
          response.statusCode === 200 || (response.statusCode >= 400 && response.statusCode < 500),
          `HTTP ${response.statusCode}: ${response.text}`,
        );
        assert.equal(typeof response.json, 'object', response.text);
        assert.match(String(response.json?.status), /^\d{8}$/);
        assert.equal(typeof response.json?.msg, 'string');
        assert.equal(response.json?.status === '00000000', response.statusCode === 200);
        if (bytes !== undefined) {
          const answer = Buffer.from(response.text);
          for (const form of passwordForms(bytes)) assert.equal(answer.indexOf(form), -1);
        }
      }),
      { numRuns: 400 },
    );
    const health = await fetch(`${test.service.opsUrl}/healthz`);
    assert.equal(health.status, 200, 'the service is still up');
  });

  it('writes no password into the service log or the operation log', async () => {
    assert.ok(passwords.length > 100, `only ${passwords.length} passwords were sent`);
    const operations = await readFile(path.join(test.dataDir, 'logs', 'operations.log'));
    const logs = Buffer.concat([Buffer.from(test.logs.join('')), operations]);
    assert.ok(logs.includes('"event":"operation"'), 'the logs were captured');
    for (const bytes of passwords) {
      for (const form of passwordForms(bytes)) {
        assert.equal(logs.indexOf(form), -1, `a password (${form.length} bytes) is in the logs`);
      }
    }
    assert.ok(
      test.logs.every((line) => JSON.parse(line).level < 50),
      'an error was logged',
    );
  });
});

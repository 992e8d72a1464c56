import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageConfigBody } from '../../../src/client/image-config-body.js';

describe('imageConfigBody', () => {
  it('writes every byte value as a JSON number', () => {
    const password = Buffer.from(Array.from({ length: 256 }, (_, value) => value));
    const body = imageConfigBody({ ip: '10.0.0.5', port: 5000, account: 'robot' }, password);

    assert.deepEqual(JSON.parse(body.toString('utf8')), {
      ip: '10.0.0.5',
      port: 5000,
      account: 'robot',
      password: [...password],
    });
  });

  it('escapes the other fields and leaves out the absent ones', () => {
    const body = imageConfigBody(
      { domain: 'a"b\\c', port: 443, account: 'ü' },
      Buffer.from('Pass'),
    );
    const parsed = JSON.parse(body.toString('utf8'));

    assert.deepEqual(Object.keys(parsed), ['domain', 'port', 'account', 'password']);
    assert.equal(parsed.domain, 'a"b\\c');
    assert.equal(parsed.account, 'ü');
  });

  it('writes an empty password as an empty array', () => {
    const body = imageConfigBody(
      { domain: 'r.example.com', port: 1, account: 'a' },
      Buffer.alloc(0),
    );
    assert.deepEqual(JSON.parse(body.toString('utf8')).password, []);
  });
});

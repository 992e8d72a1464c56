// Decoding JSON objects the way MEF's Go decoder fills a struct.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeBase64,
  optionalString,
  pickFields,
  requireObject,
} from '../../../src/domain/go-json.js';
import { ApiError, StatusCode } from '../../../src/domain/status.js';

describe('pickFields', () => {
  const names = ['certName', 'cert'] as const;

  it('matches camel-case field names in any case', () => {
    assert.deepEqual(pickFields({ CERTNAME: 'image', Cert: 'x' }, names), {
      certName: 'image',
      cert: 'x',
    });
  });

  it('lets an exact-case key win, wherever it stands', () => {
    assert.equal(pickFields({ certName: 'a', CertName: 'b' }, names).certName, 'a');
    assert.equal(pickFields({ CertName: 'b', certName: 'a' }, names).certName, 'a');
  });

  it('takes the last of several differently-cased keys, as Go does', () => {
    assert.equal(pickFields({ CERTNAME: 'a', CertName: 'b' }, names).certName, 'b');
  });

  it('folds the long s, and ignores unknown keys', () => {
    assert.deepEqual(pickFields({ paſsword: 1, other: 2 }, ['password'] as const), {
      password: 1,
    });
  });
});

describe('requireObject and optionalString', () => {
  it('refuses JSON that is not an object with 00001006', () => {
    for (const body of [null, [], 'text', 3]) {
      assert.throws(
        () => requireObject(body),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === StatusCode.wrongShape &&
          error.message === 'body: must be a JSON object',
      );
    }
  });

  it('treats null as absent and refuses other types naming the field', () => {
    assert.equal(optionalString('cert', null), undefined);
    assert.equal(optionalString('cert', 'x'), 'x');
    assert.throws(() => optionalString('cert', 1), /^ApiError: cert: must be a string$/);
  });
});

describe('decodeBase64', () => {
  it('decodes padded standard base64, skipping line breaks like Go', () => {
    assert.equal(decodeBase64('SGVs\r\nbG8=')?.toString(), 'Hello');
  });

  it('refuses anything else', () => {
    for (const text of ['SGVsbG8', 'SGVs bG8=', 'SGVsbG8_', '-----BEGIN']) {
      assert.equal(decodeBase64(text), undefined, text);
    }
  });
});

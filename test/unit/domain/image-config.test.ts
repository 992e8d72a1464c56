import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeImageConfig,
  registryAddress,
  validateImageConfig,
} from '../../../src/domain/image-config.js';
import { StatusCode } from '../../../src/domain/status.js';
import { apiFailure as failure } from '../../support/api-error.js';

const password = [72, 117, 97, 119, 101, 105, 49, 50, 35, 36]; // Huawei12#$
const valid = { domain: 'registry.example.com', port: 443, account: 'ImageRepository', password };

describe('decodeImageConfig', () => {
  it('decodes the documented request', () => {
    const request = decodeImageConfig({ ...valid, ip: '10.10.10.10', password: [...password] });
    assert.equal(request.domain, 'registry.example.com');
    assert.equal(request.ip, '10.10.10.10');
    assert.equal(request.port, 443);
    assert.deepEqual([...request.password!], password);
  });

  it('matches keys case-insensitively, letting an exact-case key win', () => {
    const request = decodeImageConfig({ Port: 5000, ACCOUNT: 'robot', Domain: 'a.example' });
    assert.equal(request.port, 5000);
    assert.equal(request.account, 'robot');
    assert.equal(request.domain, 'a.example');
    assert.equal(decodeImageConfig({ Port: 1, port: 2 }).port, 2);
    assert.equal(decodeImageConfig({ port: 2, Port: 1 }).port, 2);
    assert.equal(decodeImageConfig({ PORT: 1, Port: 3 }).port, 3);
  });

  it('folds the long s the way Go does', () => {
    assert.equal(decodeImageConfig({ paſsword: 'QWJjZGVmMSM=' }).password?.toString(), 'Abcdef1#');
  });

  it('ignores unknown keys and treats null as absent', () => {
    const request = decodeImageConfig({ domain: null, ip: '10.1.1.1', extra: { deep: [1] } });
    assert.equal(request.domain, undefined);
    assert.equal(request.ip, '10.1.1.1');
  });

  it('accepts a password as a base64 string, as Go clients send []byte', () => {
    const request = decodeImageConfig({ password: Buffer.from(password).toString('base64') });
    assert.deepEqual([...request.password!], password);
  });

  it('zeroes the decoded byte array so the digits do not linger', () => {
    const array = [...password];
    decodeImageConfig({ password: array });
    assert.ok(array.every((value) => value === 0));
  });

  it('reports JSON of the wrong shape as 00001006 naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /body: must be a JSON object/],
      ['text', /body: must be a JSON object/],
      [{ domain: 5 }, /domain: must be a string/],
      [{ ip: ['10.1.1.1'] }, /ip: must be a string/],
      [{ port: '443' }, /port: must be an integer/],
      [{ port: 443.5 }, /port: must be an integer/],
      [{ account: true }, /account: must be a string/],
      [{ password: [72, 256] }, /password: every element must be an integer from 0 to 255/],
      [{ password: [72, -1] }, /password: every element/],
      [{ password: [72, 1.5] }, /password: every element/],
      [{ password: ['a'] }, /password: every element/],
      [{ password: 'not base64!' }, /password: a string must be valid base64/],
      [{ password: 'QUJD' + '=' }, /password: a string must be valid base64/],
      [{ password: { bytes: [1] } }, /password: must be an array of bytes or a base64 string/],
    ];
    for (const [body, message] of cases) {
      const error = failure(() => decodeImageConfig(body));
      assert.equal(error.status, StatusCode.wrongShape, String(message));
      assert.equal(error.httpStatus, 400);
      assert.match(error.message, message);
    }
  });
});

describe('validateImageConfig', () => {
  const check = (body: Record<string, unknown>, forbidden = new Set<string>()) =>
    validateImageConfig(decodeImageConfig(body), forbidden);

  it('accepts the documented request and builds the registry address', () => {
    const result = check({ ...valid, password: [...password] });
    assert.equal(registryAddress(result.fields), 'registry.example.com:443');
    assert.deepEqual(result.warnings, []);
  });

  it('uses domain:port when both are given and keeps the ip, else ip:port', () => {
    const both = check({ ...valid, ip: '10.10.10.10', password: [...password] });
    assert.equal(registryAddress(both.fields), 'registry.example.com:443');
    assert.equal(both.fields.ip, '10.10.10.10');
    const ipOnly = check({ ip: '10.10.10.10', port: 5000, account: 'a', password: [...password] });
    assert.equal(registryAddress(ipOnly.fields), '10.10.10.10:5000');
  });

  it('still checks an ip given beside a domain', () => {
    const error = failure(() => check({ ...valid, ip: '127.0.0.1', password: [...password] }));
    assert.match(error.message, /^ip: .*loopback/);
  });

  it('requires domain or ip, port, account and password with 00001005', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ port: 443, account: 'a', password }, /domain: domain or ip is required/],
      [{ domain: 'reg.example', account: 'a', password }, /port: is required/],
      [{ domain: 'reg.example', port: 443, password }, /account: is required/],
      [{ domain: 'reg.example', port: 443, account: 'a' }, /password: is required/],
      [{ ...valid, port: 0 }, /port: must be an integer from 1 to 65535/],
      [{ ...valid, account: '-a' }, /account:/],
      [{ ...valid, password: [58, 65, 66, 67, 68, 69, 70, 71] }, /password: must not contain ":"/],
    ];
    for (const [body, message] of cases) {
      const error = failure(() =>
        check({ ...body, password: body.password && [...(body.password as number[])] }),
      );
      assert.equal(error.status, StatusCode.ruleBroken, String(message));
      assert.match(error.message, message);
    }
  });

  it('refuses an address of this host or an edge host', () => {
    const error = failure(() =>
      check(
        { ip: '10.0.0.7', port: 443, account: 'a', password: [...password] },
        new Set(['10.0.0.7']),
      ),
    );
    assert.match(error.message, /^ip: must not be an address of this host/);
  });

  it('warns that a single-label domain needs the port in image names', () => {
    const result = check({ domain: 'registry', port: 5000, account: 'a', password: [...password] });
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /registry:5000\/app/);
  });

  it('warns about a weak password, or refuses it when strong passwords are required', () => {
    const weak = { ...valid, account: 'imagerepo', password: [...Buffer.from('imagerepo')] };
    const result = check({ ...weak, password: [...weak.password] });
    assert.equal(result.warnings.length, 1);
    assert.match(
      result.warnings[0]!,
      /^password: should mix at least 2 of .*differ from the account/,
    );

    const error = failure(() =>
      validateImageConfig(decodeImageConfig({ ...weak, password: [...weak.password] }), new Set(), {
        requireStrongPassword: true,
      }),
    );
    assert.equal(error.status, StatusCode.ruleBroken);
    assert.match(error.message, /^password: should mix at least 2 of/);

    const strong = validateImageConfig(
      decodeImageConfig({ ...valid, password: [...password] }),
      new Set(),
      {
        requireStrongPassword: true,
      },
    );
    assert.deepEqual(strong.warnings, []);
  });
});

// Tests of the WWW-Authenticate parser against the headers registries really send.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWwwAuthenticate } from '../../../src/verify/www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it('reads a Docker Hub style Bearer challenge with a comma inside a quoted scope', () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",' +
      'scope="repository:samalba/my-app:pull,push"';
    assert.deepEqual(parseWwwAuthenticate(header), [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:samalba/my-app:pull,push',
        },
      },
    ]);
  });

  it('reads a Basic challenge, folding the scheme and parameter names to lower case', () => {
    assert.deepEqual(parseWwwAuthenticate('BASIC Realm="Registry Realm"'), [
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
  });

  it('unescapes quoted pairs and keeps spaces around "=" out of names and values', () => {
    const [challenge] = parseWwwAuthenticate('Bearer realm = "a \\"quoted\\" \\\\ realm" ,x=y');
    assert.deepEqual(challenge?.params, { realm: 'a "quoted" \\ realm', x: 'y' });
  });

  it('splits several challenges in one header, token values included', () => {
    const header = 'Basic realm="r1", Bearer realm="https://a/token", service=reg, Foo';
    assert.deepEqual(parseWwwAuthenticate(header), [
      { scheme: 'basic', params: { realm: 'r1' } },
      { scheme: 'bearer', params: { realm: 'https://a/token', service: 'reg' } },
      { scheme: 'foo', params: {} },
    ]);
  });

  it('reads challenges given as separate header lines', () => {
    const challenges = parseWwwAuthenticate(['Basic realm="a"', 'Bearer realm="https://b/t"']);
    assert.deepEqual(
      challenges.map((challenge) => challenge.scheme),
      ['basic', 'bearer'],
    );
  });

  it('tells a token68 apart from parameters', () => {
    assert.deepEqual(parseWwwAuthenticate('Negotiate abc+/9==, Basic realm="x"'), [
      { scheme: 'negotiate', params: {}, token68: 'abc+/9==' },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
  });

  it('keeps the first of a repeated parameter', () => {
    const [challenge] = parseWwwAuthenticate('Bearer realm="https://first/t",realm="http://x/t"');
    assert.equal(challenge?.params.realm, 'https://first/t');
  });

  it('takes an unclosed quoted string to the end and survives garbage', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://a/t'), [
      { scheme: 'bearer', params: { realm: 'https://a/t' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('  , ;; Basic realm=x'), [
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate(''), []);
    assert.deepEqual(parseWwwAuthenticate(undefined), []);
  });
});

// Tests of the registry verifier against real HTTPS servers that play a registry and its token
// service, with certificates from a CA generated for the run.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, before, describe, it } from 'node:test';
import { RegistryCredentials } from '../../../src/domain/registry-credentials.js';
import {
  createCertificateAuthority,
  issueCertificate,
  type IssuedCertificate,
} from '../../../src/pki/certificate-authority.js';
import {
  pinnedHostResolver,
  type VerificationResult,
  verificationSteps,
  verifyRegistry,
  type VerifyRegistryOptions,
} from '../../../src/verify/registry-verifier.js';
import {
  closedPort,
  sendJson,
  startHttpServer,
  startHttpsServer,
  startSilentServer,
  type TestServer,
  account,
  basicRegistry,
  basicToken,
  password,
  wrongPassword,
} from './support/registry-doubles.js';

const issuedToken = 'issued-token-7f3a';
const scope = 'repository:mef/hello:pull,push';

/** Test names resolve to loopback through the verifier's resolver; the rest through the OS. */
const resolve = pinnedHostResolver({ 'registry.test': '127.0.0.1', 'auth.test': '127.0.0.1' });

function credentials(port: number, secret = password, host = 'registry.test') {
  return new RegistryCredentials(host, port, account, Buffer.from(secret));
}

/** Nothing secret in the result, whatever the outcome. */
function assertNoSecret(result: VerificationResult): void {
  const text = JSON.stringify(result);
  for (const secret of [password, wrongPassword, basicToken(password), issuedToken]) {
    assert.ok(!text.includes(secret), `the result must not carry a secret: ${text}`);
  }
  assert.ok(!/basic [a-z0-9+/=]{8,}|bearer /i.test(text), `no Authorization value: ${text}`);
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A registry that sends clients to `realm` for a token and accepts `acceptedToken`. */
function bearerRegistry(realm: string, acceptedToken = issuedToken): Handler {
  return (request, response) => {
    if (request.headers.authorization === `Bearer ${acceptedToken}`) {
      sendJson(response, 200, {}, { 'docker-distribution-api-version': 'registry/2.0' });
      return;
    }
    sendJson(
      response,
      401,
      { errors: [{ code: 'UNAUTHORIZED' }] },
      {
        'www-authenticate': `Bearer realm="${realm}",service="test-registry",scope="${scope}"`,
      },
    );
  };
}

/** A token service that checks Basic auth and answers in the given form. */
function tokenService(form: 'token' | 'access_token' | 'html'): Handler {
  return (request, response) => {
    if (request.headers.authorization !== `Basic ${basicToken(password)}`) {
      sendJson(response, 401, { details: 'incorrect username or password' });
      return;
    }
    if (form === 'html') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end('<html><body>Sign in</body></html>');
      return;
    }
    sendJson(response, 200, { [form]: issuedToken, expires_in: 300 });
  };
}

describe('verifyRegistry', () => {
  let caPem: string;
  let registryCertificate: IssuedCertificate;
  let authCertificate: IssuedCertificate;
  let strangerCertificate: IssuedCertificate;
  const running: { close(): Promise<void> }[] = [];

  before(async () => {
    const authority = await createCertificateAuthority('Verifier test CA', 1);
    const stranger = await createCertificateAuthority('Unknown CA', 1);
    caPem = authority.certificatePem;
    const server = (names: string[], ip: string[] = []) => ({
      commonName: names[0] ?? 'server',
      usage: 'server' as const,
      subjectAltNames: { dns: names, ip },
    });
    registryCertificate = await issueCertificate(
      authority,
      server(['registry.test'], ['127.0.0.1']),
    );
    authCertificate = await issueCertificate(authority, server(['auth.test']));
    strangerCertificate = await issueCertificate(stranger, server(['registry.test']));
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((server) => server.close()));
  });

  async function start(server: Promise<TestServer>): Promise<TestServer> {
    const started = await server;
    running.push(started);
    return started;
  }

  function verify(port: number, secret = password, options: VerifyRegistryOptions = {}) {
    return verifyRegistry(credentials(port, secret), { extraCaPem: caPem, resolve, ...options });
  }

  describe('Bearer token flow', () => {
    async function startBearerPair(form: 'token' | 'access_token' | 'html') {
      const auth = await start(startHttpsServer(authCertificate, tokenService(form)));
      const realm = `https://auth.test:${auth.port}/token`;
      const registry = await start(startHttpsServer(registryCertificate, bearerRegistry(realm)));
      return { auth, registry };
    }

    it('answers the challenge with a Basic-authenticated token request and retries', async () => {
      const { auth, registry } = await startBearerPair('token');

      const result = await verify(registry.port);

      assert.deepEqual(result, { ok: true, open: false, scheme: 'bearer' });
      assert.deepEqual(registry.requests, [
        { url: '/v2/', authorization: undefined },
        { url: '/v2/', authorization: `Bearer ${issuedToken}` },
      ]);
      assert.equal(auth.requests.length, 1);
      const tokenRequest = new URL(auth.requests[0]?.url ?? '', 'https://auth.test');
      assert.equal(tokenRequest.pathname, '/token');
      assert.equal(tokenRequest.searchParams.get('service'), 'test-registry');
      assert.equal(tokenRequest.searchParams.get('scope'), scope);
      assert.equal(tokenRequest.searchParams.get('account'), account);
      assert.equal(auth.requests[0]?.authorization, `Basic ${basicToken(password)}`);
    });

    it('accepts a token service that answers access_token', async () => {
      const { registry } = await startBearerPair('access_token');

      const result = await verify(registry.port);

      assert.deepEqual(result, { ok: true, open: false, scheme: 'bearer' });
      assert.equal(registry.requests[1]?.authorization, `Bearer ${issuedToken}`);
    });

    it('fails at the HTTP status step on the token host for an HTML answer', async () => {
      const { auth, registry } = await startBearerPair('html');

      const result = await verify(registry.port);

      assert.equal(result.ok, false);
      assert.ok(!result.ok);
      assert.equal(result.step, 'http-status');
      assert.equal(result.host, `auth.test:${auth.port}`);
      assert.match(result.message, /text\/html, not a JSON token/);
      assert.equal(registry.requests.length, 1);
      assertNoSecret(result);
    });

    it('fails at the authentication step on the token host for a wrong password', async () => {
      const { auth, registry } = await startBearerPair('token');

      const result = await verify(registry.port, wrongPassword);

      assert.ok(!result.ok);
      assert.equal(result.step, 'authentication');
      assert.equal(result.host, `auth.test:${auth.port}`);
      assert.match(result.message, /refused account "robot"/);
      assert.equal(auth.requests[0]?.authorization, `Basic ${basicToken(wrongPassword)}`);
      assert.equal(registry.requests.length, 1);
      assertNoSecret(result);
    });

    it('fails at the authentication step on the registry when it refuses the token', async () => {
      const auth = await start(startHttpsServer(authCertificate, tokenService('token')));
      const realm = `https://auth.test:${auth.port}/token`;
      const registry = await start(
        startHttpsServer(registryCertificate, bearerRegistry(realm, 'some-other-token')),
      );

      const result = await verify(registry.port);

      assert.ok(!result.ok);
      assert.equal(result.step, 'authentication');
      assert.equal(result.host, `registry.test:${registry.port}`);
      assertNoSecret(result);
    });

    it('refuses an http:// realm at the TLS step and sends it nothing', async () => {
      const plainAuth = await start(startHttpServer(tokenService('token')));
      const realm = `http://auth.test:${plainAuth.port}/token`;
      const registry = await start(startHttpsServer(registryCertificate, bearerRegistry(realm)));

      const result = await verify(registry.port);

      assert.ok(!result.ok);
      assert.equal(result.step, 'tls');
      assert.equal(result.host, `auth.test:${plainAuth.port}`);
      assert.match(result.message, /plain HTTP/);
      assert.deepEqual(plainAuth.requests, []);
      assert.deepEqual(registry.requests, [{ url: '/v2/', authorization: undefined }]);
      assertNoSecret(result);
    });

    it('names the token host when its name does not resolve', async () => {
      const realm = 'https://no-such-host.invalid/token';
      const registry = await start(startHttpsServer(registryCertificate, bearerRegistry(realm)));

      const result = await verify(registry.port);

      assert.ok(!result.ok);
      assert.equal(result.step, 'name-resolution');
      assert.equal(result.host, 'no-such-host.invalid');
      assertNoSecret(result);
    });

    it('bounds the token request by the total timeout', async () => {
      const auth = await start(startHttpsServer(authCertificate, () => undefined));
      const realm = `https://auth.test:${auth.port}/token`;
      const registry = await start(startHttpsServer(registryCertificate, bearerRegistry(realm)));
      const started = Date.now();

      const result = await verify(registry.port, password, { timeoutMs: 2000 });

      assert.ok(!result.ok);
      assert.equal(result.step, 'timeout');
      assert.equal(result.host, `auth.test:${auth.port}`);
      assert.ok(Date.now() - started < 4000, 'the verification ends soon after the bound');
    });
  });

  describe('Basic flow and registry answers', () => {
    it('answers a Basic challenge with the credentials', async () => {
      const registry = await start(startHttpsServer(registryCertificate, basicRegistry));

      const result = await verify(registry.port);

      assert.deepEqual(result, { ok: true, open: false, scheme: 'basic' });
      assert.deepEqual(registry.requests, [
        { url: '/v2/', authorization: undefined },
        { url: '/v2/', authorization: `Basic ${basicToken(password)}` },
      ]);
    });

    it('fails at the authentication step on the registry for a wrong password', async () => {
      const registry = await start(startHttpsServer(registryCertificate, basicRegistry));

      const result = await verify(registry.port, wrongPassword);

      assert.ok(!result.ok);
      assert.equal(result.step, 'authentication');
      assert.equal(result.host, `registry.test:${registry.port}`);
      assertNoSecret(result);
    });

    it('reaches a registry by IP address with the OS resolver', async () => {
      const registry = await start(startHttpsServer(registryCertificate, basicRegistry));

      const result = await verifyRegistry(credentials(registry.port, password, '127.0.0.1'), {
        extraCaPem: caPem,
      });

      assert.deepEqual(result, { ok: true, open: false, scheme: 'basic' });
    });

    it('verifies an open registry without sending credentials, noting it is open', async () => {
      const registry = await start(
        startHttpsServer(registryCertificate, (_request, response) =>
          sendJson(response, 200, {}, { 'docker-distribution-api-version': 'registry/2.0' }),
        ),
      );

      const result = await verify(registry.port);

      assert.ok(result.ok);
      assert.equal(result.open, true);
      assert.equal(result.scheme, 'none');
      assert.match(result.note ?? '', /open, so the credentials were not checked$/);
      assert.deepEqual(registry.requests, [{ url: '/v2/', authorization: undefined }]);
    });

    it('fails at the HTTP status step for a server that is not a registry', async () => {
      const registry = await start(
        startHttpsServer(registryCertificate, (_request, response) =>
          sendJson(response, 404, { message: 'not found' }),
        ),
      );

      const result = await verify(registry.port);

      assert.ok(!result.ok);
      assert.equal(result.step, 'http-status');
      assert.equal(result.host, `registry.test:${registry.port}`);
      assert.match(result.message, /HTTP 404; this is not a Docker Registry HTTP API V2/);
    });

    it('fails at the HTTP status step for a 401 without a usable challenge', async () => {
      const registry = await start(
        startHttpsServer(registryCertificate, (_request, response) =>
          sendJson(response, 401, {}, { 'www-authenticate': 'Negotiate' }),
        ),
      );

      const result = await verify(registry.port);

      assert.ok(!result.ok);
      assert.equal(result.step, 'http-status');
      assert.match(result.message, /no Basic or Bearer challenge/);
      assert.equal(registry.requests.length, 1);
    });
  });

  describe('network and TLS failures', () => {
    it('fails at the connection step for a closed port, well within the timeout', async () => {
      const port = await closedPort();
      const started = Date.now();

      const result = await verify(port, password, { timeoutMs: 3000 });

      assert.ok(!result.ok);
      assert.equal(result.step, 'connection');
      assert.equal(result.host, `registry.test:${port}`);
      assert.match(result.message, /ECONNREFUSED/);
      assert.ok(Date.now() - started < 3000);
    });

    it('fails at the TLS step for an untrusted CA, sending nothing', async () => {
      const registry = await start(startHttpsServer(strangerCertificate, basicRegistry));

      const result = await verify(registry.port);

      assert.ok(!result.ok);
      assert.equal(result.step, 'tls');
      assert.equal(result.host, `registry.test:${registry.port}`);
      assert.match(
        result.message,
        /not signed by a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
      );
      assert.deepEqual(registry.requests, []);
    });

    it('trusts only the system store without the extra CA', async () => {
      const registry = await start(startHttpsServer(registryCertificate, basicRegistry));

      const result = await verifyRegistry(credentials(registry.port), { resolve });

      assert.ok(!result.ok);
      assert.equal(result.step, 'tls');
    });

    it('fails at the TLS step for a certificate that names another host', async () => {
      const registry = await start(startHttpsServer(authCertificate, basicRegistry));

      const result = await verify(registry.port);

      assert.ok(!result.ok);
      assert.equal(result.step, 'tls');
      assert.match(result.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
    });

    it('fails at the TLS step for an extra CA that holds no certificate', async () => {
      const result = await verify(443, password, { extraCaPem: 'not a certificate' });

      assert.ok(!result.ok);
      assert.equal(result.step, 'tls');
      assert.match(result.message, /no valid PEM certificate/);
    });

    it('fails at the timeout step for a server that never answers, within the bound', async () => {
      const silent = await startSilentServer();
      running.push(silent);
      const started = Date.now();

      const result = await verify(silent.port, password, { timeoutMs: 300 });

      const elapsed = Date.now() - started;
      assert.ok(!result.ok);
      assert.equal(result.step, 'timeout');
      assert.equal(result.host, `registry.test:${silent.port}`);
      assert.match(result.message, /no answer within the verification's 300 ms/);
      assert.ok(elapsed >= 250 && elapsed < 2500, `ended after ${elapsed} ms`);
    });
  });

  it('exports every step a result can name', () => {
    assert.deepEqual(
      [...verificationSteps],
      ['name-resolution', 'connection', 'tls', 'http-status', 'authentication', 'timeout'],
    );
  });
});

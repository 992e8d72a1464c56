// GET /edgemanager/v1/image/config over mutual TLS, in both store modes: the saved configuration
// comes back without the password, and no answer of the run carries a byte of it.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StatusCode } from '../../../src/domain/status.js';
import { certificatePaths } from '../../../src/http/routes/certificates.js';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import { createLogger } from '../../../src/logging.js';
import {
  certificateConfigMapName,
  KubernetesCertificateStore,
} from '../../../src/store/kubernetes-certificate-store.js';
import { KubernetesStore } from '../../../src/store/kubernetes-store.js';
import { ecdsaSha256, ecKeys, makeCaCertificate } from '../../support/ca-certificates.js';
import { KubernetesApiDouble } from '../../support/kubernetes-api-double.js';
import {
  startTestService,
  type TestResponse,
  type TestService,
} from '../../support/test-service.js';

const password = 'Huawei12#$';
const account = 'ImageRepository';
const passwordForms = [
  password,
  Buffer.from(password).toString('base64'),
  Buffer.from(`${account}:${password}`).toString('base64'),
  [...Buffer.from(password)].join(','),
];

/** Every answer of a run, to prove afterwards that none carried the password in any form. */
function recording(test: TestService) {
  const answers: TestResponse[] = [];
  const call = async (...args: Parameters<TestService['call']>) => {
    const response = await test.call(...args);
    answers.push(response);
    return response;
  };
  const assertNoPassword = () => {
    assert.ok(answers.length > 0);
    for (const answer of answers) {
      for (const form of passwordForms) {
        assert.ok(!answer.text.includes(form), `an answer carried the password: ${answer.text}`);
      }
    }
  };
  return { call, assertNoPassword };
}

/** These tests call faster than the default per-client rate allows. */
const unlimited = { MEF_RATE_LIMIT: 'off' };

const configuration = {
  domain: 'registry.example.com',
  ip: '10.10.10.10',
  port: 443,
  account,
  password: [...Buffer.from(password)],
};

/** The read-back contract, whichever store answers it. */
function readBackBehaviour(start: () => Promise<TestService>) {
  let test: TestService;
  let call: ReturnType<typeof recording>['call'];
  let assertNoPassword: () => void;

  before(async () => {
    test = await start();
    ({ call, assertNoPassword } = recording(test));
  });

  after(() => test.stop());

  it('answers data null before anything is configured', async () => {
    const response = await call('GET', imageConfigPath);

    assert.equal(response.statusCode, 200, response.text);
    assert.deepEqual(response.json, { status: StatusCode.success, msg: 'success', data: null });
  });

  it('reads back every non-secret field after a configuration', async () => {
    const before = Date.now();
    assert.equal((await call('POST', imageConfigPath, configuration)).statusCode, 200);

    const response = await call('GET', imageConfigPath);

    assert.equal(response.statusCode, 200, response.text);
    const data = response.json?.data as Record<string, unknown>;
    assert.deepEqual(Object.keys(data).sort(), [
      'account',
      'domain',
      'ip',
      'port',
      'registryAddress',
      'updatedAt',
      'updatedBy',
      'verified',
    ]);
    assert.equal(data.domain, 'registry.example.com');
    assert.equal(data.ip, '10.10.10.10');
    assert.equal(data.port, 443);
    assert.equal(data.account, account);
    assert.equal(data.registryAddress, 'registry.example.com:443');
    assert.match(String(data.updatedBy), /CN=mef-admin/);
    assert.ok(Date.parse(String(data.updatedAt)) >= before - 1000);
    // The tests' services run with MEF_VERIFY_REGISTRY=off: nothing was verified.
    assert.equal(data.verified, null);
  });

  it('reads back absent fields as null after a call that replaced them', async () => {
    // JSON leaves undefined out: the call names no domain.
    const ipOnly = { ...configuration, domain: undefined };
    assert.equal((await call('POST', imageConfigPath, ipOnly)).statusCode, 200);

    const data = (await call('GET', imageConfigPath)).json?.data as Record<string, unknown>;

    assert.equal(data.domain, null);
    assert.equal(data.registryAddress, '10.10.10.10:443');
  });

  it('refuses a bad ?verify with 00001005 naming verify, keeping the configuration', async () => {
    const response = await call('POST', `${imageConfigPath}?verify=sometimes`, configuration);

    assert.equal(response.statusCode, 400);
    assert.equal(response.json?.status, StatusCode.ruleBroken);
    assert.equal(response.json?.msg, 'verify: must be off, warn or enforce');
    const data = (await call('GET', imageConfigPath)).json?.data as Record<string, unknown>;
    assert.equal(data.registryAddress, '10.10.10.10:443');
  });

  it('never answers with the password, its base64 or its Basic token', () => {
    assertNoPassword();
  });

  return () => test;
}

describe('GET /edgemanager/v1/image/config with the SQLite store', () => {
  const test = readBackBehaviour(() => startTestService({ env: unlimited }));

  it('reads what dockerconfig.json was derived from', async () => {
    const file = JSON.parse(
      await readFile(path.join(test().dataDir, 'dockerconfig.json'), 'utf8'),
    ) as { auths: Record<string, unknown> };
    assert.deepEqual(Object.keys(file.auths), ['10.10.10.10:443', '10.10.10.10']);
  });
});

describe('GET /edgemanager/v1/image/config with the Kubernetes store', () => {
  const namespace = 'mef-user';
  let double: KubernetesApiDouble;

  before(async () => {
    double = await KubernetesApiDouble.start();
  });

  after(() => double.close());

  const test = readBackBehaviour(() =>
    startTestService({
      env: unlimited,
      store: () =>
        new KubernetesStore({
          namespace,
          secretName: 'image-pull-secret',
          patchDefaultServiceAccount: false,
          timeoutMs: 2000,
          logger: createLogger('silent'),
          kubeConfig: double.kubeConfig(),
        }),
      certificates: () =>
        new KubernetesCertificateStore({
          namespace,
          timeoutMs: 2000,
          kubeConfig: double.kubeConfig(),
        }),
    }),
  );

  it('imports and deletes the registry CA in the ConfigMap beside the Secret', async () => {
    const root = await makeCaCertificate({ keys: await ecKeys(), signingAlgorithm: ecdsaSha256 });
    const cert = Buffer.from(root).toString('base64');

    const imported = await test().call('POST', certificatePaths.import, {
      certName: 'image',
      cert,
    });
    assert.equal(imported.statusCode, 200, imported.text);
    const configMap = () => double.object('configmaps', namespace, certificateConfigMapName);
    assert.equal((configMap()?.data as Record<string, string>)['image.crt'], `${root.trim()}\n`);

    const deleted = await test().call('POST', certificatePaths.delete, { type: 'image' });
    assert.equal(deleted.statusCode, 200, deleted.text);
    assert.deepEqual(configMap()?.data, { 'image.crt.bak': `${root.trim()}\n` });
    assert.deepEqual(double.schemaViolations, []);
  });
});

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { validateImageConfig } from '../../../src/domain/image-config.js';
import {
  emptyDockerConfigJson,
  RegistryCredentials,
} from '../../../src/domain/registry-credentials.js';
import { ApiError, StatusCode } from '../../../src/domain/status.js';
import { imageConfigPath } from '../../../src/http/routes/image-config.js';
import { createCertificateAuthority } from '../../../src/pki/certificate-authority.js';
import { createLogger } from '../../../src/logging.js';
import {
  annotationKeys,
  KubernetesStore,
  type KubernetesStoreOptions,
} from '../../../src/store/kubernetes-store.js';
import { StoreError, type ConfigurationChange } from '../../../src/store/store.js';
import {
  barrier,
  KubernetesApiDouble,
  type KubernetesObject,
} from '../../support/kubernetes-api-double.js';
import { startTestService, type TestService } from '../../support/test-service.js';

const namespace = 'mef-user';
const secretName = 'image-pull-secret';
const secretPath = `/api/v1/namespaces/${namespace}/secrets/${secretName}`;
const accountPath = `/api/v1/namespaces/${namespace}/serviceaccounts/default`;
const secretRef = `secret ${namespace}/${secretName}`;
const password = 'Secret12#$pass';

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** A pattern for exactly `text`. */
const exactly = (text: string) => new RegExp(`^${escaped(text)}$`);
/** A pattern for messages that begin with `text`. */
const startsWith = (text: string) => new RegExp(`^${escaped(text)}`);

interface ChangeOptions {
  domain?: string;
  ip?: string;
  port?: number;
  account?: string;
  password?: string;
  verified?: boolean;
}

function change(options: ChangeOptions = {}): ConfigurationChange {
  const { ip, port = 443, account = 'robot', verified } = options;
  const domain = 'domain' in options ? options.domain : 'registry.example.com';
  const host = domain ?? ip!;
  const fields: ConfigurationChange['fields'] = { port, account };
  if (domain !== undefined) fields.domain = domain;
  if (ip !== undefined) fields.ip = ip;
  return {
    fields,
    credentials: new RegistryCredentials(
      host,
      port,
      account,
      Buffer.from(options.password ?? password),
    ),
    updatedBy: 'CN=mef-admin,O=MEF',
    clientIp: '192.0.2.7',
    updatedAt: new Date('2026-01-02T03:04:05Z'),
    verified,
  };
}

/** The Docker config a Secret holds, as the bytes kubelet would read. */
function dockerConfigBytes(secret: KubernetesObject | undefined): Buffer {
  const data = secret?.data as Record<string, string> | undefined;
  return Buffer.from(data?.['.dockerconfigjson'] ?? '', 'base64');
}

/** What only the Docker config of `options` would hold; never a password in a message. */
function expectedDockerConfig(options: ChangeOptions = {}): Buffer {
  return change(options).credentials.toDockerConfigJson();
}

function secretOf(double: KubernetesApiDouble) {
  return double.object('secrets', namespace, secretName);
}

/** A TCP port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('KubernetesStore', () => {
  let double: KubernetesApiDouble;
  let logs: string[];
  const stores: KubernetesStore[] = [];

  const newStore = (options: Partial<KubernetesStoreOptions> = {}) => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const store = new KubernetesStore({
      namespace,
      secretName,
      patchDefaultServiceAccount: false,
      timeoutMs: 2000,
      logger: createLogger('debug', sink),
      kubeConfig: double.kubeConfig(),
      ...options,
    });
    stores.push(store);
    return store;
  };

  /** Asserts that `promise` rejects with a StoreError whose message matches `message`. */
  const rejectsWith = async (promise: Promise<unknown>, message: RegExp) => {
    const error = await promise.then(
      () => assert.fail('expected a StoreError'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof StoreError, `not a StoreError: ${String(error)}`);
    assert.match(error.message, message);
    assert.ok(!error.message.includes(password), 'the message holds the password');
    assert.ok(!error.message.includes('auths'), 'the message holds the Docker config');
    return error;
  };

  beforeEach(async () => {
    double = await KubernetesApiDouble.start();
    logs = [];
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await double.close();
    // Every object the store sent is valid against the official schemas, with no stray field.
    assert.deepEqual(double.schemaViolations, []);
    assert.deepEqual(double.warnings, []);
    const secretForms = [password, Buffer.from(password).toString('base64'), 'dockerconfigjson"'];
    for (const line of logs) {
      for (const form of secretForms) assert.ok(!line.includes(form), `logged: ${line}`);
    }
  });

  describe('open', () => {
    it('creates the namespace and a Secret that grants nothing, and reads back null', async () => {
      const store = newStore();
      await store.open();

      const created = secretOf(double);
      assert.equal(created?.type, 'kubernetes.io/dockerconfigjson');
      assert.deepEqual(dockerConfigBytes(created), emptyDockerConfigJson());
      assert.deepEqual(JSON.parse(dockerConfigBytes(created).toString()), { auths: {} });
      assert.equal(double.answered('POST', `/api/v1/namespaces`, 201).length, 1);
      assert.equal(await store.read(), null);
      assert.equal(await store.isReady(), true);
    });

    it('leaves a configured Secret as it is', async () => {
      const first = newStore();
      await first.open();
      await first.save(change());
      const before = secretOf(double);

      await newStore().open();
      assert.deepEqual(secretOf(double), before);
      assert.equal(double.answered('PUT', secretPath).length, 1);
    });

    it('lets two replicas start together', async () => {
      await Promise.all([newStore().open(), newStore().open()]);
      assert.deepEqual(dockerConfigBytes(secretOf(double)), emptyDockerConfigJson());
    });

    it('refuses a Secret of another type under the same name', async () => {
      await newStore().open();
      double.seed('secrets', {
        metadata: { name: 'other', namespace },
        type: 'Opaque',
        data: { token: 'YQ==' },
      });
      const store = newStore({ secretName: 'other' });
      await rejectsWith(
        store.open(),
        startsWith(
          'kubernetes: secret mef-user/other exists with type Opaque, ' +
            'not kubernetes.io/dockerconfigjson',
        ),
      );
    });
  });

  describe('save', () => {
    it('creates the Secret with the Docker config and the annotations', async () => {
      const store = newStore();
      await store.save(change({ verified: true }));

      const secret = secretOf(double);
      assert.deepEqual(dockerConfigBytes(secret), expectedDockerConfig());
      assert.equal(
        double.answered('POST', `/api/v1/namespaces/${namespace}/secrets`, 201).length,
        1,
      );
      assert.deepEqual(await store.read(), {
        fields: { domain: 'registry.example.com', port: 443, account: 'robot' },
        registryAddress: 'registry.example.com:443',
        updatedAt: '2026-01-02T03:04:05.000Z',
        updatedBy: 'CN=mef-admin,O=MEF',
        verified: true,
      });
    });

    it('replaces the Secret at the version it read and keeps foreign metadata', async () => {
      const store = newStore();
      await store.open();
      await store.save(change({ account: 'first' }));
      double.touch('secrets', namespace, secretName);
      const before = secretOf(double)!;

      await store.save(change({ domain: undefined, ip: '10.20.30.40', port: 5000 }));

      const put = double.answered('PUT', secretPath, 200).at(-1)!;
      const sent = put.body as KubernetesObject;
      assert.equal(sent.metadata?.resourceVersion, before.metadata?.resourceVersion);
      const after = secretOf(double)!;
      assert.deepEqual(
        dockerConfigBytes(after),
        expectedDockerConfig({ domain: undefined, ip: '10.20.30.40', port: 5000 }),
      );
      assert.equal(after.metadata?.annotations?.[annotationKeys.domain], undefined);
      assert.ok(after.metadata?.annotations?.['example.com/touched-by']);
      assert.equal(after.metadata?.uid, before.metadata?.uid);
      assert.deepEqual(await store.read(), {
        fields: { ip: '10.20.30.40', port: 5000, account: 'robot' },
        registryAddress: '10.20.30.40:5000',
        updatedAt: '2026-01-02T03:04:05.000Z',
        updatedBy: 'CN=mef-admin,O=MEF',
        verified: null,
      });
    });

    it('writes a new version for an identical call, which the API server would skip', async () => {
      const store = newStore();
      await store.open();
      await store.save(change());
      const first = secretOf(double)!;
      await store.save(change());
      const second = secretOf(double)!;

      assert.ok(Number(second.metadata?.resourceVersion) > Number(first.metadata?.resourceVersion));
      assert.deepEqual(dockerConfigBytes(second), dockerConfigBytes(first));

      // The same object written again is a no-op that keeps its version: without a fresh
      // annotation, a repeated call would not reach the edge devices again.
      const api = double.kubeConfig().makeApiClient(CoreV1Api);
      const current = await api.readNamespacedSecret({ name: secretName, namespace });
      const unchanged = await api.replaceNamespacedSecret({
        name: secretName,
        namespace,
        body: current,
      });
      assert.equal(unchanged.metadata?.resourceVersion, second.metadata?.resourceVersion);
    });

    it('zeroes the Docker config it built', async () => {
      const built: Buffer[] = [];
      class Watched extends RegistryCredentials {
        override toDockerConfigJson(): Buffer {
          const bytes = super.toDockerConfigJson();
          built.push(bytes);
          return bytes;
        }
      }
      const watched = change();
      watched.credentials = new Watched(
        'registry.example.com',
        443,
        'robot',
        Buffer.from(password),
      );
      await newStore().save(watched);

      assert.equal(built.length, 1);
      assert.ok(built[0]!.every((byte) => byte === 0));
    });

    it('leaves the Secret as it was when the write fails', async () => {
      const store = newStore();
      await store.open();
      await store.save(change({ account: 'before' }));
      const before = secretOf(double);

      double.inject({ method: 'PUT', path: secretPath }, { status: 500 });
      await rejectsWith(
        store.save(change({ account: 'after' })),
        exactly(
          `kubernetes: cannot update ${secretRef}: API server error (HTTP 500 InternalError)`,
        ),
      );
      assert.deepEqual(secretOf(double), before);
      assert.equal((await store.read())?.fields.account, 'before');
    });

    it('leaves the Secret as it was when the connection drops before the write', async () => {
      const store = newStore();
      await store.open();
      await store.save(change({ account: 'before' }));
      const before = secretOf(double);

      double.inject({ method: 'PUT', path: secretPath, times: 1 }, { drop: 'unhandled' });
      await rejectsWith(
        store.save(change({ account: 'after' })),
        exactly(`kubernetes: cannot update ${secretRef}: API server unreachable (ECONNRESET)`),
      );
      assert.deepEqual(secretOf(double), before);
    });

    it('succeeds when the connection drops after the API server applied the write', async () => {
      const store = newStore();
      await store.open();
      double.inject({ method: 'PUT', path: secretPath, times: 1 }, { drop: 'handled' });

      await store.save(change({ account: 'landed' }));
      assert.equal(double.answered('PUT', secretPath, 0).length, 1);
      assert.equal((await store.read())?.fields.account, 'landed');
    });

    it('reads again and retries after a 409 Conflict', async () => {
      const store = newStore();
      await store.open();
      double.inject(
        { method: 'PUT', path: secretPath, times: 2 },
        { before: () => double.touch('secrets', namespace, secretName) },
      );

      await store.save(change({ account: 'retried' }));
      assert.equal(double.answered('PUT', secretPath, 409).length, 2);
      assert.equal(double.answered('PUT', secretPath, 200).length, 1);
      assert.deepEqual(
        dockerConfigBytes(secretOf(double)),
        expectedDockerConfig({ account: 'retried' }),
      );
    });

    it('gives up after five conflicts, leaving the other writer\u2019s Secret', async () => {
      const store = newStore();
      await store.open();
      double.inject(
        { method: 'PUT', path: secretPath },
        { before: () => double.touch('secrets', namespace, secretName) },
      );

      await rejectsWith(
        store.save(change()),
        exactly(
          `kubernetes: cannot update ${secretRef}: it kept changing under concurrent writes ` +
            '(HTTP 409 Conflict, 5 attempts)',
        ),
      );
      assert.equal(double.answered('PUT', secretPath).length, 5);
      assert.deepEqual(dockerConfigBytes(secretOf(double)), emptyDockerConfigJson());
    });

    it('ends with one of two racing calls, never a mix', async () => {
      const first = newStore();
      const second = newStore();
      await first.open();
      const calls = [
        change({ account: 'alpha', password: 'AlphaPass1!' }),
        change({
          domain: 'other.example.com',
          port: 5000,
          account: 'beta',
          password: 'BetaPass2!',
        }),
      ];
      const expected = [
        expectedDockerConfig({ account: 'alpha', password: 'AlphaPass1!' }),
        expectedDockerConfig({
          domain: 'other.example.com',
          port: 5000,
          account: 'beta',
          password: 'BetaPass2!',
        }),
      ];

      for (let round = 0; round < 4; round += 1) {
        // Both replicas read the same version, so one of the writes meets a conflict.
        double.inject({ method: 'GET', path: secretPath, times: 2 }, barrier(2));
        const conflictsBefore = double.answered('PUT', secretPath, 409).length;
        await Promise.all([first.save(calls[0]!), second.save(calls[1]!)]);
        assert.ok(double.answered('PUT', secretPath, 409).length > conflictsBefore);

        const secret = secretOf(double)!;
        const winner = expected.findIndex((bytes) => bytes.equals(dockerConfigBytes(secret)));
        assert.notEqual(winner, -1, 'the Docker config is neither call');
        const stored = await first.read();
        assert.deepEqual(stored?.fields, calls[winner]!.fields);
      }
    });

    it('creates the namespace when it is missing', async () => {
      const store = newStore();
      await store.save(change());
      const created = double.object('namespaces', undefined, namespace);
      assert.equal(created?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'mef-image-config');
    });

    it('writes nothing when it may not create the namespace', async () => {
      double.forbid('create', 'namespaces');
      await rejectsWith(
        newStore().save(change()),
        /^kubernetes: forbidden to create namespace mef-user \(HTTP 403 Forbidden\)/,
      );
      assert.equal(double.answered('POST', /secrets/).length, 0);
    });
  });

  describe('failures name the step', () => {
    let before: KubernetesObject | undefined;

    beforeEach(async () => {
      const store = newStore();
      await store.open();
      await store.save(change({ account: 'before' }));
      before = secretOf(double);
    });

    afterEach(() => {
      assert.deepEqual(secretOf(double), before, 'the Secret changed');
    });

    it('API server unreachable', async () => {
      const server = `https://127.0.0.1:${await closedPort()}`;
      const store = newStore({ kubeConfig: double.kubeConfig({ server }) });
      await rejectsWith(
        store.save(change()),
        /^kubernetes: cannot read namespace mef-user: API server unreachable \(ECONNREFUSED\)$/,
      );
      assert.equal(await store.isReady(), false);
    });

    it('API server certificate not trusted', async () => {
      const stranger = await createCertificateAuthority('Another CA', 1);
      const store = newStore({ kubeConfig: double.kubeConfig({ caPem: stranger.certificatePem }) });
      await rejectsWith(
        store.save(change()),
        startsWith(
          "kubernetes: cannot read namespace mef-user: the API server's certificate is not trusted",
        ),
      );
    });

    it('timeout', async () => {
      double.inject({ method: 'GET', path: secretPath }, { delayMs: 5000 });
      const store = newStore({ timeoutMs: 300 });
      const started = Date.now();
      await rejectsWith(
        store.save(change()),
        /^kubernetes: cannot read secret mef-user\/image-pull-secret: no answer within 300 ms$/,
      );
      assert.ok(Date.now() - started < 4000, 'the request was not bounded');
      assert.equal(await store.isReady(), false);
    });

    it('401 Unauthorized', async () => {
      const store = newStore({ kubeConfig: double.kubeConfig({ token: 'expired' }) });
      await rejectsWith(
        store.save(change()),
        exactly(
          'kubernetes: unauthorized to read namespace mef-user (HTTP 401): ' +
            'the API server rejected the credentials',
        ),
      );
      assert.equal(await store.isReady(), false);
    });

    it('403 Forbidden', async () => {
      double.forbid('update', 'secrets');
      await rejectsWith(
        newStore().save(change()),
        startsWith(`kubernetes: forbidden to update ${secretRef} (HTTP 403 Forbidden)`),
      );
    });

    it('5xx', async () => {
      double.inject({ method: 'PUT', path: secretPath }, { status: 503 });
      await rejectsWith(
        newStore().save(change()),
        exactly(
          `kubernetes: cannot update ${secretRef}: API server error (HTTP 503 ServiceUnavailable)`,
        ),
      );
    });
  });

  describe('read', () => {
    it('refuses annotations it cannot read rather than guessing', async () => {
      const store = newStore();
      await store.open();
      await store.save(change());
      const secret = secretOf(double)!;
      secret.metadata!.annotations![annotationKeys.port] = 'many';
      const api = double.kubeConfig().makeApiClient(CoreV1Api);
      await api.replaceNamespacedSecret({
        name: secretName,
        namespace,
        body: secret as V1Secret,
      });

      await rejectsWith(
        store.read(),
        exactly(`kubernetes: ${secretRef} has no readable annotation mef.huawei.com/port`),
      );
    });
  });

  describe('edgeHostAddresses', () => {
    it('answers the IPv4 addresses that Nodes report', async () => {
      double.addNode('edge-1', [
        { type: 'InternalIP', address: '10.0.0.5' },
        { type: 'InternalIP', address: 'fd00::5' },
        { type: 'Hostname', address: 'edge-1' },
      ]);
      double.addNode('edge-2', [
        { type: 'InternalIP', address: '10.0.0.6' },
        { type: 'ExternalIP', address: '203.0.113.6' },
      ]);

      const addresses = await newStore().edgeHostAddresses();
      assert.deepEqual([...addresses].sort(), ['10.0.0.5', '10.0.0.6', '203.0.113.6']);
    });

    it('makes the rules refuse a Node address as the registry ip', async () => {
      double.addNode('edge-1', [{ type: 'InternalIP', address: '10.0.0.5' }]);
      const forbidden = await newStore().edgeHostAddresses();
      const request = {
        ip: '10.0.0.5',
        port: 443,
        account: 'robot',
        password: Buffer.from(password),
      };

      assert.throws(
        () => validateImageConfig(request, forbidden),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === StatusCode.ruleBroken &&
          error.message.startsWith('ip: '),
      );
    });

    it('reuses the addresses for a while, then lists again', async () => {
      double.addNode('edge-1', [{ type: 'InternalIP', address: '10.0.0.5' }]);
      let now = 1_000_000;
      const store = newStore({ now: () => now });
      await Promise.all([store.edgeHostAddresses(), store.edgeHostAddresses()]);
      double.addNode('edge-2', [{ type: 'InternalIP', address: '10.0.0.6' }]);
      now += 29_000;
      assert.deepEqual([...(await store.edgeHostAddresses())], ['10.0.0.5']);
      assert.equal(double.answered('GET', '/api/v1/nodes').length, 1);

      now += 1_000;
      assert.deepEqual([...(await store.edgeHostAddresses())].sort(), ['10.0.0.5', '10.0.0.6']);
      assert.equal(double.answered('GET', '/api/v1/nodes').length, 2);
    });

    it('follows the list pages of a large cluster', async () => {
      for (let index = 0; index < 501; index += 1) {
        const address = `10.${Math.floor(index / 250)}.${index % 250}.1`;
        double.addNode(`edge-${index}`, [{ type: 'InternalIP', address }]);
      }
      const addresses = await newStore().edgeHostAddresses();
      assert.equal(addresses.size, 501);
      assert.equal(double.answered('GET', '/api/v1/nodes').length, 2);
    });

    it('fails rather than allow when the Nodes cannot be listed', async () => {
      double.forbid('list', 'nodes');
      await rejectsWith(
        newStore().edgeHostAddresses(),
        /^kubernetes: forbidden to list nodes \(HTTP 403 Forbidden\)/,
      );
    });
  });

  describe('default ServiceAccount', () => {
    const listed = () =>
      double.object('serviceaccounts', namespace, 'default')?.imagePullSecrets as
        Array<{ name: string }> | undefined;

    it('lists the Secret once, keeping what was there', async () => {
      double.seed('namespaces', { metadata: { name: namespace } });
      double.seed('serviceaccounts', {
        metadata: { name: 'default', namespace },
        imagePullSecrets: [{ name: 'team-registry' }],
      });
      const store = newStore({ patchDefaultServiceAccount: true });
      await store.open();
      await store.save(change());
      await store.save(change());

      assert.deepEqual(listed(), [{ name: 'team-registry' }, { name: secretName }]);
      assert.equal(double.answered('PATCH', accountPath).length, 1);
    });

    it('adds the list when the account has none', async () => {
      await newStore({ patchDefaultServiceAccount: true }).open();
      assert.deepEqual(listed(), [{ name: secretName }]);
    });

    it('does not touch the account unless asked', async () => {
      const store = newStore();
      await store.open();
      await store.save(change());
      assert.equal(listed(), undefined);
      assert.equal(double.answered('GET', accountPath).length, 0);
    });

    it('retries when another client changed the account meanwhile', async () => {
      await newStore().open();
      double.inject(
        { method: 'PATCH', path: accountPath, times: 1 },
        {
          before: () => double.touch('serviceaccounts', namespace, 'default'),
        },
      );
      await newStore({ patchDefaultServiceAccount: true }).save(change());

      assert.equal(double.answered('PATCH', accountPath, 409).length, 1);
      assert.deepEqual(listed(), [{ name: secretName }]);
    });

    it('leaves the Secret as it was when the account cannot be patched', async () => {
      const store = newStore();
      await store.open();
      const before = secretOf(double);
      double.forbid('patch', 'serviceaccounts');

      await rejectsWith(
        newStore({ patchDefaultServiceAccount: true }).save(change()),
        /^kubernetes: forbidden to patch serviceaccount mef-user\/default \(HTTP 403 Forbidden\)/,
      );
      assert.deepEqual(secretOf(double), before);
      assert.equal(double.answered('PUT', secretPath).length, 0);
    });
  });

  describe('isReady', () => {
    it('is true while the API server answers, false while it fails', async () => {
      const store = newStore();
      await store.open();
      assert.equal(await store.isReady(), true);

      double.inject({ method: 'GET', path: secretPath, times: 1 }, { status: 500 });
      assert.equal(await store.isReady(), false);
      assert.equal(await store.isReady(), true);
    });
  });
});

describe('the whole service in Kubernetes mode, over HTTPS', () => {
  let double: KubernetesApiDouble;
  let service: TestService;

  beforeEach(async () => {
    double = await KubernetesApiDouble.start();
    double.addNode('edge-1', [{ type: 'InternalIP', address: '10.0.0.5' }]);
    service = await startTestService({
      env: { MEF_VERIFY_REGISTRY: 'off' },
      store: () =>
        new KubernetesStore({
          namespace,
          secretName,
          patchDefaultServiceAccount: false,
          timeoutMs: 2000,
          logger: createLogger('silent'),
          kubeConfig: double.kubeConfig(),
        }),
    });
  });

  afterEach(async () => {
    await service.stop();
    await double.close();
    assert.deepEqual(double.schemaViolations, []);
    for (const line of service.logs) assert.ok(!line.includes(password), `logged: ${line}`);
  });

  const body = (fields: Record<string, unknown>) => ({
    port: 443,
    account: 'robot',
    password: [...Buffer.from(password)],
    ...fields,
  });

  it('turns a call into the image-pull Secret and reads it back', async () => {
    assert.deepEqual(dockerConfigBytes(secretOf(double)), emptyDockerConfigJson());

    const saved = await service.call(
      'POST',
      imageConfigPath,
      body({ domain: 'registry.example.com' }),
    );
    assert.equal(saved.statusCode, 200, saved.text);
    assert.equal(saved.json?.status, StatusCode.success);
    assert.deepEqual(dockerConfigBytes(secretOf(double)), expectedDockerConfig());

    const read = await service.call('GET', imageConfigPath);
    const data = read.json?.data as Record<string, unknown>;
    assert.equal(data.registryAddress, 'registry.example.com:443');
    assert.equal(data.account, 'robot');
    assert.ok(!read.text.includes(password));
  });

  it('refuses the address of a Node as the registry ip', async () => {
    const refused = await service.call('POST', imageConfigPath, body({ ip: '10.0.0.5' }));
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json?.status, StatusCode.ruleBroken);
    assert.match(String(refused.json?.msg), /^ip: /);
  });

  it('answers 503 with the failed step when the API server refuses the write', async () => {
    double.forbid('update', 'secrets');
    const before = secretOf(double);

    const failed = await service.call(
      'POST',
      imageConfigPath,
      body({ domain: 'registry.example.com' }),
    );
    assert.equal(failed.statusCode, 503);
    assert.equal(failed.json?.status, StatusCode.applyFailed);
    assert.match(
      String(failed.json?.msg),
      /^kubernetes: forbidden to update secret mef-user\/image-pull-secret/,
    );
    assert.deepEqual(secretOf(double), before);
  });

  it('is not ready while the API server fails', async () => {
    const ready = await fetch(`${service.service.opsUrl}/readyz`);
    assert.equal(ready.status, 200);
    double.inject({ method: 'GET', path: secretPath, times: 1 }, { status: 503 });
    const notReady = await fetch(`${service.service.opsUrl}/readyz`);
    assert.equal(notReady.status, 503);
  });
});

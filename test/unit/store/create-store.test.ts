import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSettings, settingDefaults, SettingsError } from '../../../src/config/settings.js';
import { createLogger } from '../../../src/logging.js';
import { createStore } from '../../../src/store/create-store.js';
import { KubernetesStore } from '../../../src/store/kubernetes-store.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { KubernetesApiDouble } from '../../support/kubernetes-api-double.js';

const logger = createLogger('silent');

describe('store settings', () => {
  it('default to the embedded store with the documented Kubernetes names', () => {
    assert.deepEqual(loadSettings({}).store, {
      kind: 'sqlite',
      namespace: settingDefaults.MEF_NAMESPACE,
      secretName: settingDefaults.MEF_SECRET_NAME,
      patchDefaultServiceAccount: false,
      timeoutMs: Number(settingDefaults.MEF_KUBERNETES_TIMEOUT_MS),
    });
    assert.equal(settingDefaults.MEF_NAMESPACE, 'mef-user');
    assert.equal(settingDefaults.MEF_SECRET_NAME, 'image-pull-secret');
  });

  it('choose Kubernetes in a pod or with a kubeconfig, unless MEF_STORE says otherwise', () => {
    assert.equal(loadSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }).store.kind, 'kubernetes');
    assert.equal(loadSettings({ KUBECONFIG: '/etc/kube/config' }).store.kind, 'kubernetes');
    assert.equal(
      loadSettings({ KUBECONFIG: '/etc/kube/config', MEF_STORE: 'sqlite' }).store.kind,
      'sqlite',
    );
    assert.equal(loadSettings({ MEF_STORE: 'kubernetes' }).store.kind, 'kubernetes');
  });

  it('read the namespace, the Secret name, the patch switch and the timeout', () => {
    const { store } = loadSettings({
      MEF_STORE: 'kubernetes',
      MEF_NAMESPACE: 'edge-apps',
      MEF_SECRET_NAME: 'registry.pull-secret',
      MEF_PATCH_DEFAULT_SA: 'true',
      MEF_KUBERNETES_TIMEOUT_MS: '1500',
    });
    assert.deepEqual(store, {
      kind: 'kubernetes',
      namespace: 'edge-apps',
      secretName: 'registry.pull-secret',
      patchDefaultServiceAccount: true,
      timeoutMs: 1500,
    });
  });

  const refused: Array<[string, string, RegExp]> = [
    ['MEF_STORE', 'etcd', /^MEF_STORE: must be auto, sqlite or kubernetes/],
    ['MEF_NAMESPACE', 'Mef_User', /^MEF_NAMESPACE: must be a DNS-1123 label/],
    ['MEF_NAMESPACE', 'a'.repeat(64), /^MEF_NAMESPACE: must be a DNS-1123 label/],
    ['MEF_NAMESPACE', 'mef.user', /^MEF_NAMESPACE: must be a DNS-1123 label/],
    ['MEF_SECRET_NAME', 'pull secret', /^MEF_SECRET_NAME: must be a DNS-1123 subdomain/],
    ['MEF_SECRET_NAME', '-pull', /^MEF_SECRET_NAME: must be a DNS-1123 subdomain/],
    ['MEF_SECRET_NAME', 'pull..secret', /^MEF_SECRET_NAME: must be a DNS-1123 subdomain/],
    ['MEF_PATCH_DEFAULT_SA', 'yes', /^MEF_PATCH_DEFAULT_SA: must be true or false/],
    ['MEF_KUBERNETES_TIMEOUT_MS', '5s', /^MEF_KUBERNETES_TIMEOUT_MS: must be a whole number/],
    ['MEF_KUBERNETES_TIMEOUT_MS', '50', /^MEF_KUBERNETES_TIMEOUT_MS: must be a whole number/],
  ];
  for (const [variable, value, message] of refused) {
    it(`refuse ${variable}=${value}`, () => {
      assert.throws(
        () => loadSettings({ [variable]: value }),
        (error: unknown) => error instanceof SettingsError && message.test(error.message),
      );
    });
  }
});

describe('createStore', () => {
  let double: KubernetesApiDouble;
  let directory: string;

  before(async () => {
    double = await KubernetesApiDouble.start();
    directory = await mkdtemp(path.join(os.tmpdir(), 'mef-create-store-'));
  });

  after(async () => {
    await double.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('builds the SQLite store on the embedded default', async () => {
    const settings = loadSettings({ MEF_DATA_DIR: directory, MEF_STORE: 'sqlite' });
    const store = await createStore(settings, logger);
    assert.ok(store instanceof SqliteStore);
    assert.equal(store.kind, 'sqlite');
  });

  it('builds the Kubernetes store from the kubeconfig that KUBECONFIG names', async () => {
    const kubeconfig = path.join(directory, 'kubeconfig');
    await writeFile(kubeconfig, double.kubeConfigYaml(), { mode: 0o600 });
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = kubeconfig;
    try {
      const store = await createStore(loadSettings({ KUBECONFIG: kubeconfig }), logger);
      assert.ok(store instanceof KubernetesStore);
      assert.equal(store.server, double.url);
      await store.open();
      assert.equal(await store.isReady(), true);
      assert.ok(double.object('secrets', 'mef-user', 'image-pull-secret'));
      await store.close();
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});

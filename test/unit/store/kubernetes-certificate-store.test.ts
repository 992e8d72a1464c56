// The Kubernetes certificate store against the API server double: the ConfigMap beside the Secret,
// its backups, concurrent writers and the failures an operator must be able to read.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  certificateConfigMapName,
  KubernetesCertificateStore,
} from '../../../src/store/kubernetes-certificate-store.js';
import { StoreError } from '../../../src/store/store.js';
import { KubernetesApiDouble } from '../../support/kubernetes-api-double.js';

const namespace = 'mef-user';
const configMapPath = `/api/v1/namespaces/${namespace}/configmaps/${certificateConfigMapName}`;
const first = '-----BEGIN CERTIFICATE-----\nfirst\n-----END CERTIFICATE-----\n';
const second = '-----BEGIN CERTIFICATE-----\nsecond\n-----END CERTIFICATE-----\n';
const third = '-----BEGIN CERTIFICATE-----\nthird\n-----END CERTIFICATE-----\n';

describe('KubernetesCertificateStore', () => {
  let double: KubernetesApiDouble;
  let store: KubernetesCertificateStore;

  beforeEach(async () => {
    double = await KubernetesApiDouble.start();
    double.seed('namespaces', { metadata: { name: namespace } });
    store = new KubernetesCertificateStore({
      namespace,
      timeoutMs: 2000,
      kubeConfig: double.kubeConfig(),
    });
  });

  afterEach(() => double.close());

  const configMapData = () =>
    double.object('configmaps', namespace, certificateConfigMapName)?.data as
      Record<string, string> | undefined;

  it('reads null without the ConfigMap, and creates it on the first import', async () => {
    assert.equal(await store.read('image'), null);
    assert.equal(store.location, `configmap ${namespace}/${certificateConfigMapName}`);

    assert.deepEqual(await store.save('image', first), { replaced: false });

    const configMap = double.object('configmaps', namespace, certificateConfigMapName);
    assert.deepEqual(configMap?.data, { 'image.crt': first });
    assert.equal(configMap?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'mef-image-config');
    assert.equal(await store.read('image'), first);
    assert.equal(await store.read('software'), null);
    assert.deepEqual(double.schemaViolations, []);
    assert.deepEqual(double.warnings, []);
  });

  it('keeps one backup per name and leaves the other name alone', async () => {
    await store.save('image', first);
    await store.save('software', third);
    assert.deepEqual(await store.save('image', second), { replaced: true });
    await store.save('image', third);

    assert.deepEqual(configMapData(), {
      'image.crt': third,
      'image.crt.bak': second,
      'software.crt': third,
    });
  });

  it('removes a certificate into the backup; a second removal writes nothing', async () => {
    await store.save('software', first);

    assert.deepEqual(await store.remove('software'), { removed: true });
    const writes = double.answered('PUT', configMapPath).length;
    assert.deepEqual(await store.remove('software'), { removed: false });

    assert.deepEqual(configMapData(), { 'software.crt.bak': first });
    assert.equal(double.answered('PUT', configMapPath).length, writes);
  });

  it('keeps labels and annotations that other tools put on the ConfigMap', async () => {
    double.seed('configmaps', {
      metadata: {
        name: certificateConfigMapName,
        namespace,
        labels: { team: 'edge' },
        annotations: { 'example.com/owner': 'ops' },
      },
      data: { 'image.crt': first },
    });

    await store.save('image', second);

    const configMap = double.object('configmaps', namespace, certificateConfigMapName);
    assert.equal(configMap?.metadata?.labels?.team, 'edge');
    assert.equal(configMap?.metadata?.annotations?.['example.com/owner'], 'ops');
    assert.deepEqual(configMap?.data, { 'image.crt': second, 'image.crt.bak': first });
  });

  it('starts over when another writer changed the ConfigMap in between', async () => {
    await store.save('image', first);
    // Another replica imports `second` between our read and our write.
    double.inject(
      { method: 'PUT', path: configMapPath, times: 1 },
      {
        before: () => {
          double.seed('configmaps', {
            metadata: { name: certificateConfigMapName, namespace },
            data: { 'image.crt': second, 'image.crt.bak': first },
          });
        },
      },
    );

    await store.save('image', third);

    assert.equal(double.answered('PUT', configMapPath, 409).length, 1);
    // Read again after the conflict: the backup is the other replica's certificate.
    assert.deepEqual(configMapData(), { 'image.crt': third, 'image.crt.bak': second });
  });

  it('fails with a StoreError naming the step and the permission to grant', async () => {
    double.forbid('create', 'configmaps');

    await assert.rejects(store.save('image', first), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.match(error.message, /forbidden to import image\.crt in configmap mef-user\//);
      assert.match(error.message, /HTTP 403/);
      return true;
    });
  });

  it('fails with a StoreError when the API server does not answer in time', async () => {
    double.inject({ method: 'GET', path: configMapPath }, { delayMs: 1000 });
    const impatient = new KubernetesCertificateStore({
      namespace,
      timeoutMs: 200,
      kubeConfig: double.kubeConfig(),
    });

    await assert.rejects(impatient.read('image'), /no answer within 200 ms/);
  });
});

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadSettings, settingDefaults } from '../../../src/config/settings.js';
import { schemaErrors, unknownFields } from '../../support/kubernetes-schema.js';

const root = path.resolve(import.meta.dirname, '../../..');
const manifestDirectory = path.join(root, 'deploy/kubernetes');

interface Manifest {
  file: string;
  object: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    [field: string]: unknown;
  };
}

/** The schemas check the manifests first; the cross-checks then read them without ceremony. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

async function yamlFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.yaml'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

async function loadManifests(): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const file of await yamlFiles(manifestDirectory)) {
    // Kubernetes reads YAML 1.1 (an unquoted `0400` is octal there); keep to what both agree on.
    const documents = parseAllDocuments(await readFile(file, 'utf8'), { version: '1.1' });
    for (const document of documents) {
      assert.deepEqual(document.errors, [], `${file}: YAML errors`);
      const object = document.toJS() as Manifest['object'] | null;
      if (object !== null) manifests.push({ file: path.relative(root, file), object });
    }
  }
  return manifests;
}

describe('deploy/kubernetes manifests', () => {
  let manifests: Manifest[];
  const find = (kind: string, name: string, namespace?: string) => {
    const found = manifests.find(
      ({ object }) =>
        object.kind === kind &&
        object.metadata.name === name &&
        (namespace === undefined || object.metadata.namespace === namespace),
    );
    assert.ok(found, `no ${kind} ${namespace ?? ''}/${name}`);
    return found.object;
  };
  const deployment = () => find('Deployment', 'mef-image-config', 'mef-center');
  const container = () => {
    const spec = deployment().spec as { template: { spec: { containers: unknown[] } } };
    return spec.template.spec.containers[0] as Record<string, unknown> & {
      env: Array<{ name: string; value: string }>;
    };
  };
  const environment = () =>
    Object.fromEntries(container().env.map((variable) => [variable.name, variable.value]));
  const rules = (kind: string, name: string, namespace?: string) =>
    find(kind, name, namespace).rules as Rule[];

  before(async () => {
    manifests = await loadManifests();
  });

  it('are all valid against the Kubernetes schemas, with no unknown field', async () => {
    assert.ok(manifests.length >= 10);
    for (const { file, object } of manifests) {
      const name = `${file}: ${object.kind} ${object.metadata?.name}`;
      assert.deepEqual(await schemaErrors(object), [], name);
      assert.deepEqual(unknownFields(object), [], name);
    }
  });

  it('run two non-root replicas on a read-only root filesystem', () => {
    const spec = deployment().spec as Loose;
    assert.equal(spec.replicas, 2);
    const pod = spec.template.spec;
    assert.equal(pod.serviceAccountName, 'mef-image-config');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    const security = container().securityContext as Loose;
    assert.equal(security.readOnlyRootFilesystem, true);
    assert.equal(security.allowPrivilegeEscalation, false);
    assert.deepEqual(security.capabilities.drop, ['ALL']);
  });

  it('run as the user the Dockerfile names', async () => {
    const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    assert.ok(user, 'the Dockerfile sets no numeric USER');
    const pod = (deployment().spec as Loose).template.spec;
    assert.equal(pod.securityContext.runAsUser, Number(user[1]));
    assert.equal(pod.securityContext.runAsGroup, Number(user[2]));
  });

  it('set settings the service accepts, in Kubernetes mode, probed on the ops port', () => {
    const env = environment();
    const settings = loadSettings(env);
    assert.equal(settings.store.kind, 'kubernetes');
    assert.equal(settings.store.namespace, settingDefaults.MEF_NAMESPACE);
    assert.equal(settings.store.secretName, settingDefaults.MEF_SECRET_NAME);
    assert.deepEqual(settings.opsListen, { host: '0.0.0.0', port: 30036 });
    assert.equal(settings.listen.port, 30035);
    assert.ok(settings.tls.certFile && settings.tls.keyFile && settings.tls.clientCaFile);

    const ports = container().ports as Array<{ name: string; containerPort: number }>;
    const opsPort = ports.find((port) => port.name === 'ops')?.containerPort;
    assert.equal(opsPort, settings.opsListen.port);
    const probe = (name: string) =>
      container()[name] as { httpGet: { path: string; port: string } };
    assert.deepEqual(probe('livenessProbe').httpGet, { path: '/healthz', port: 'ops' });
    assert.deepEqual(probe('readinessProbe').httpGet, { path: '/readyz', port: 'ops' });
  });

  it('mount the data directory as an emptyDir and the TLS files from a Secret', () => {
    const env = environment();
    const pod = (deployment().spec as Loose).template.spec;
    const mounts = container().volumeMounts as Array<{ name: string; mountPath: string }>;
    const volumeAt = (file: string) => {
      const mount = mounts.find(
        (entry) => file.startsWith(`${entry.mountPath}/`) || file === entry.mountPath,
      );
      assert.ok(mount, `nothing is mounted at ${file}`);
      return pod.volumes.find((volume: { name: string }) => volume.name === mount.name);
    };
    assert.deepEqual(volumeAt(env.MEF_DATA_DIR!).emptyDir, {});
    for (const variable of ['MEF_TLS_CERT', 'MEF_TLS_KEY', 'MEF_TLS_CLIENT_CA']) {
      const volume = volumeAt(env[variable]!);
      assert.equal(volume.secret?.secretName, 'mef-image-config-tls', variable);
    }
  });

  it('name the image of this package version', async () => {
    const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
    assert.equal(container().image, `mef-image-config:${version}`);
  });

  it('expose the API on NodePort 30035', () => {
    const spec = find('Service', 'mef-image-config', 'mef-center').spec as Loose;
    assert.equal(spec.type, 'NodePort');
    assert.deepEqual(spec.ports, [
      { name: 'api', protocol: 'TCP', port: 30035, targetPort: 'api', nodePort: 30035 },
    ]);
    const labels = (deployment().spec as Loose).template.metadata.labels;
    assert.deepEqual(spec.selector, labels);
  });

  it('grant the least privilege the store needs', () => {
    const { MEF_NAMESPACE: namespace, MEF_SECRET_NAME: secretName } = settingDefaults;
    find('Namespace', 'mef-center');
    find('Namespace', namespace);
    find('ServiceAccount', 'mef-image-config', 'mef-center');

    assert.deepEqual(rules('Role', 'mef-image-config', namespace), [
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: [secretName],
        verbs: ['get', 'update'],
      },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['image-registry-ca'],
        verbs: ['get', 'update'],
      },
    ]);
    assert.deepEqual(rules('ClusterRole', 'mef-image-config'), [
      { apiGroups: [''], resources: ['namespaces'], resourceNames: [namespace], verbs: ['get'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['create'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
    ]);
    assert.deepEqual(rules('Role', 'mef-image-config-default-service-account', namespace), [
      {
        apiGroups: [''],
        resources: ['serviceaccounts'],
        resourceNames: ['default'],
        verbs: ['get', 'patch'],
      },
    ]);
    const wildcard = manifests.filter(({ object }) =>
      ((object.rules as Rule[] | undefined) ?? []).some((rule) =>
        [...rule.verbs, ...rule.resources, ...rule.apiGroups].includes('*'),
      ),
    );
    assert.deepEqual(wildcard, []);
  });

  it('bind every role to the service account the Deployment runs as', () => {
    for (const { object } of manifests.filter(({ object }) => object.kind.endsWith('Binding'))) {
      const roleRef = object.roleRef as { kind: string; name: string };
      find(
        roleRef.kind,
        roleRef.name,
        roleRef.kind === 'Role' ? object.metadata.namespace : undefined,
      );
      assert.deepEqual(object.subjects, [
        { kind: 'ServiceAccount', name: 'mef-image-config', namespace: 'mef-center' },
      ]);
    }
  });

  it('keep the ServiceAccount permission out of the default set', () => {
    const serviceAccountRules = manifests.filter(({ object }) =>
      ((object.rules as Rule[] | undefined) ?? []).some((rule) =>
        rule.resources.includes('serviceaccounts'),
      ),
    );
    assert.deepEqual(
      serviceAccountRules.map(({ file }) => file),
      ['deploy/kubernetes/optional/patch-default-service-account.yaml'],
    );
    assert.equal(environment().MEF_PATCH_DEFAULT_SA, 'false');
  });
});

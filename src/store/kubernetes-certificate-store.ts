// Imported CA certificates in a ConfigMap beside the image-pull Secret: keys `<name>.crt` and the
// one it replaced as `<name>.crt.bak`, so cluster tooling can mount or carry them to devices.

import type { CoreV1Api, KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import type { CertificateName } from '../domain/certificate-import.js';
import { certificateEntries, type CertificateStore } from './certificate-store.js';
import {
  conflictFailure,
  coreApi,
  failure,
  isAmbiguous,
  loadDefaultKubeConfig,
  managedByLabel,
  statusOf,
} from './kubernetes-store.js';
import { StoreError } from './store.js';

/** The ConfigMap that holds the imported certificates, in the namespace of the Secret. */
export const certificateConfigMapName = 'image-registry-ca';

export interface KubernetesCertificateStoreOptions {
  namespace: string;
  /** The bound on every single request to the API server. */
  timeoutMs: number;
  /** API server and credentials; by default KUBECONFIG or the pod's service account. */
  kubeConfig?: KubeConfig;
  /** Writes tried before a run of 409 Conflicts fails the call. */
  maxAttempts?: number;
}

type ConfigMapData = Record<string, string>;

/**
 * Keeps certificates in the ConfigMap `namespace/image-registry-ca`, created on the first
 * import. Every write carries the resourceVersion that was read, so two concurrent imports
 * never lose a backup: the later one sees a 409 Conflict and starts over.
 *
 * @example
 * const store = new KubernetesCertificateStore({ namespace: 'mef-user', timeoutMs: 5000 });
 * await store.save('image', pem);
 */
export class KubernetesCertificateStore implements CertificateStore {
  readonly kind = 'kubernetes';
  readonly location: string;
  private readonly api: CoreV1Api;
  private readonly maxAttempts: number;

  constructor(private readonly options: KubernetesCertificateStoreOptions) {
    const kubeConfig = options.kubeConfig ?? loadDefaultKubeConfig();
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) {
      throw new StoreError('kubernetes: the kubeconfig names no current cluster');
    }
    this.api = coreApi(kubeConfig, cluster.server, options.timeoutMs);
    this.maxAttempts = options.maxAttempts ?? 5;
    this.location = `configmap ${options.namespace}/${certificateConfigMapName}`;
  }

  async read(name: CertificateName): Promise<string | null> {
    const configMap = await this.readConfigMap();
    return configMap?.data?.[certificateEntries(name).current] ?? null;
  }

  async save(name: CertificateName, pem: string): Promise<{ replaced: boolean }> {
    const { current, backup } = certificateEntries(name);
    let replaced = false;
    await this.change(`import ${current}`, (data) => {
      const previous = data[current];
      replaced = previous !== undefined;
      if (previous !== undefined) data[backup] = previous;
      data[current] = pem;
      return true;
    });
    return { replaced };
  }

  async remove(name: CertificateName): Promise<{ removed: boolean }> {
    const { current, backup } = certificateEntries(name);
    let removed = false;
    await this.change(`delete ${current}`, (data) => {
      const previous = data[current];
      removed = previous !== undefined;
      if (previous === undefined) return false;
      data[backup] = previous;
      delete data[current];
      return true;
    });
    return { removed };
  }

  private async readConfigMap(): Promise<V1ConfigMap | undefined> {
    const { namespace } = this.options;
    try {
      return await this.api.readNamespacedConfigMap({ name: certificateConfigMapName, namespace });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw failure(`read ${this.location}`, error, this.options.timeoutMs);
    }
  }

  /**
   * Reads the ConfigMap, lets `edit` change a copy of its data (false: nothing to write), and
   * writes it back: a create when it does not exist yet, else a replace of the version read.
   */
  private async change(what: string, edit: (data: ConfigMapData) => boolean): Promise<void> {
    const { namespace } = this.options;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt += 1) {
      const current = await this.readConfigMap();
      const data: ConfigMapData = { ...current?.data };
      if (!edit(data)) return;

      const body = this.configMapBody(current, data);
      try {
        if (current === undefined) {
          await this.api.createNamespacedConfigMap({ namespace, body });
        } else {
          await this.api.replaceNamespacedConfigMap({
            name: certificateConfigMapName,
            namespace,
            body,
          });
        }
        return;
      } catch (error) {
        // 409: another writer got there first (AlreadyExists on create, Conflict on replace).
        if (statusOf(error) === 409) continue;
        if (isAmbiguous(error) && (await this.holds(data))) return;
        throw failure(`${what} in ${this.location}`, error, this.options.timeoutMs);
      }
    }
    throw conflictFailure(`${what} in ${this.location}`, this.maxAttempts);
  }

  /** After a write without an answer, whether the API server applied it. */
  private async holds(data: ConfigMapData): Promise<boolean> {
    try {
      const stored = (await this.readConfigMap())?.data ?? {};
      const keys = new Set([...Object.keys(stored), ...Object.keys(data)]);
      return [...keys].every((key) => stored[key] === data[key]);
    } catch {
      return false;
    }
  }

  /** Other tools' labels and annotations on an existing ConfigMap are kept by the replace. */
  private configMapBody(current: V1ConfigMap | undefined, data: ConfigMapData): V1ConfigMap {
    if (current !== undefined) return { ...current, data };
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: certificateConfigMapName,
        namespace: this.options.namespace,
        labels: managedByLabel,
      },
      data,
    };
  }
}

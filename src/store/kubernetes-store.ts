// The Kubernetes store: the configuration is an image-pull Secret, which KubeEdge carries to the
// edge devices; annotations carry the non-secret fields, so the cluster alone holds the state.

import { randomUUID } from 'node:crypto';
import {
  AbortError,
  ApiException,
  CoreV1Api,
  createConfiguration,
  FetchError,
  KubeConfig,
  ServerConfiguration,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { registryAddress, type ImageConfigFields } from '../domain/image-config.js';
import { isDottedQuad } from '../domain/rules.js';
import { emptyDockerConfigJson } from '../domain/registry-credentials.js';
import {
  StoreError,
  type ConfigurationChange,
  type ImageConfigStore,
  type StoredConfiguration,
} from './store.js';

/** The Secret type and key that kubelet reads image-pull credentials from. */
export const dockerConfigJsonType = 'kubernetes.io/dockerconfigjson';
export const dockerConfigJsonKey = '.dockerconfigjson';

/** Annotations that carry the non-secret fields of the configuration on the Secret. */
export const annotationKeys = {
  domain: 'mef.huawei.com/domain',
  ip: 'mef.huawei.com/ip',
  port: 'mef.huawei.com/port',
  account: 'mef.huawei.com/account',
  registryAddress: 'mef.huawei.com/registry-address',
  updatedAt: 'mef.huawei.com/updated-at',
  updatedBy: 'mef.huawei.com/updated-by',
  verified: 'mef.huawei.com/verified',
  /** Unique per write: see {@link KubernetesStore.save}. */
  writeId: 'mef.huawei.com/write-id',
} as const;

const annotationPrefix = 'mef.huawei.com/';
/** The label on every object this service creates in the cluster. */
export const managedByLabel = { 'app.kubernetes.io/managed-by': 'mef-image-config' };

export interface KubernetesStoreOptions {
  namespace: string;
  secretName: string;
  /** Also list the Secret in `imagePullSecrets` of the namespace's `default` ServiceAccount. */
  patchDefaultServiceAccount: boolean;
  /** The bound on every single request to the API server. */
  timeoutMs: number;
  logger: Logger;
  /** API server and credentials; by default KUBECONFIG or the pod's service account. */
  kubeConfig?: KubeConfig;
  /** How long the Node addresses are reused before they are listed again. */
  nodeAddressTtlMs?: number;
  /** The clock the Node addresses age by; tests move it instead of waiting. */
  now?: () => number;
  /** Writes tried before a run of 409 Conflicts fails the call. */
  maxAttempts?: number;
}

/** isReady() must answer a probe quickly even when the request bound is long. */
const readinessTimeoutMs = 2000;
const nodePageSize = 500;

/**
 * Keeps the configuration as the Secret `namespace/secretName` of type
 * `kubernetes.io/dockerconfigjson`. The Secret write is the single commit point: the namespace
 * and the ServiceAccount steps before it change no configuration, so a call that fails leaves
 * the Secret as it was. The password is kept nowhere: the Docker config bytes are zeroed once
 * sent. Their base64 and JSON forms are JavaScript strings, which cannot be zeroed; they are
 * dropped right after the request and left to the garbage collector.
 *
 * @example
 * const store = new KubernetesStore({ namespace: 'mef-user', secretName: 'image-pull-secret',
 *   patchDefaultServiceAccount: false, timeoutMs: 5000, logger });
 * await store.open();
 */
export class KubernetesStore implements ImageConfigStore {
  readonly kind = 'kubernetes';
  /** The API server's URL, for the start-up log. */
  readonly server: string;
  private readonly api: CoreV1Api;
  private readonly probeApi: CoreV1Api;
  private readonly secretRef: string;
  private readonly nodeAddressTtlMs: number;
  private readonly now: () => number;
  private readonly maxAttempts: number;
  private nodeAddresses?: { addresses: ReadonlySet<string>; listedAt: number };
  private nodeListing?: Promise<ReadonlySet<string>>;

  constructor(private readonly options: KubernetesStoreOptions) {
    const kubeConfig = options.kubeConfig ?? loadDefaultKubeConfig();
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) {
      throw new StoreError('kubernetes: the kubeconfig names no current cluster');
    }
    this.server = cluster.server;
    this.api = coreApi(kubeConfig, cluster.server, options.timeoutMs);
    this.probeApi = coreApi(
      kubeConfig,
      cluster.server,
      Math.min(options.timeoutMs, readinessTimeoutMs),
    );
    this.secretRef = `${options.namespace}/${options.secretName}`;
    this.nodeAddressTtlMs = options.nodeAddressTtlMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /** `secret mef-user/image-pull-secret`, for the start-up log. */
  get location(): string {
    return `secret ${this.secretRef}`;
  }

  /**
   * Makes sure the namespace and the Secret exist, so that pods referring to the Secret never
   * wait on a missing one: a missing Secret is created holding a Docker config that grants
   * nothing.
   */
  async open(): Promise<void> {
    await this.ensureNamespace();

    const current = await this.readSecret();
    if (current === undefined) {
      await this.createEmptySecret();
    } else {
      this.checkWritable(current);
    }

    if (this.options.patchDefaultServiceAccount) {
      await this.ensureDefaultServiceAccount({ missingIsFatal: false });
    }
  }

  /**
   * Writes the Secret from `change`. Every call writes a new version, even when nothing
   * changed: KubeEdge re-sends a Secret to the edge only when it changes, so repeating a call
   * is how an operator recovers a device that lost its copy.
   */
  async save(change: ConfigurationChange): Promise<void> {
    await this.ensureNamespace();
    if (this.options.patchDefaultServiceAccount) {
      await this.ensureDefaultServiceAccount({ missingIsFatal: true });
    }

    const dockerConfig = change.credentials.toDockerConfigJson();
    try {
      await this.writeSecret(dockerConfig.toString('base64'), annotationsOf(change));
    } finally {
      dockerConfig.fill(0);
    }
  }

  /** The configuration from the Secret's annotations; null while none has been saved. */
  async read(): Promise<StoredConfiguration | null> {
    const secret = await this.readSecret();
    if (secret === undefined) return null;
    return configurationOf(secret, this.secretRef);
  }

  async isReady(): Promise<boolean> {
    try {
      await this.probeApi.readNamespacedSecret({
        name: this.options.secretName,
        namespace: this.options.namespace,
      });
      return true;
    } catch (error) {
      // A 404 still proves the API server answers; open() or the next save creates the Secret.
      return statusOf(error) === 404;
    }
  }

  /**
   * The IPv4 addresses that the cluster's Nodes report, edge nodes included. A failure to list
   * them fails the call rather than letting an edge host's address through unchecked.
   */
  async edgeHostAddresses(): Promise<ReadonlySet<string>> {
    const cached = this.nodeAddresses;
    if (cached !== undefined && this.now() - cached.listedAt < this.nodeAddressTtlMs) {
      return cached.addresses;
    }
    // Calls arriving together share one listing.
    this.nodeListing ??= this.listNodeAddresses().finally(() => {
      this.nodeListing = undefined;
    });
    return this.nodeListing;
  }

  async close(): Promise<void> {
    this.nodeAddresses = undefined;
  }

  private async listNodeAddresses(): Promise<ReadonlySet<string>> {
    const addresses = new Set<string>();
    let continueToken: string | undefined;
    do {
      const page = await this.step('list nodes', () =>
        this.api.listNode({ limit: nodePageSize, _continue: continueToken }),
      );
      for (const node of page.items) {
        for (const { address } of node.status?.addresses ?? []) {
          if (isDottedQuad(address)) addresses.add(address);
        }
      }
      continueToken = page.metadata?._continue || undefined;
    } while (continueToken !== undefined);

    this.nodeAddresses = { addresses, listedAt: this.now() };
    return addresses;
  }

  private async ensureNamespace(): Promise<void> {
    const name = this.options.namespace;
    try {
      await this.api.readNamespace({ name });
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw failure(`read namespace ${name}`, error, this.timeoutMs);
    }
    try {
      await this.api.createNamespace({
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: managedByLabel } },
      });
      this.options.logger.info({ event: 'kubernetes.namespace_created', namespace: name });
    } catch (error) {
      // Another replica created it first.
      if (statusOf(error) !== 409) throw failure(`create namespace ${name}`, error, this.timeoutMs);
    }
  }

  /**
   * Adds the Secret to `imagePullSecrets` of the `default` ServiceAccount once. The patch
   * carries the resourceVersion that was read, so two replicas never add it twice.
   */
  private async ensureDefaultServiceAccount(options: { missingIsFatal: boolean }): Promise<void> {
    const { namespace, secretName } = this.options;
    const account = `serviceaccount ${namespace}/default`;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt += 1) {
      let current;
      try {
        current = await this.api.readNamespacedServiceAccount({ name: 'default', namespace });
      } catch (error) {
        // The service account controller creates it shortly after the namespace.
        if (statusOf(error) === 404 && !options.missingIsFatal) {
          this.options.logger.warn(
            { event: 'kubernetes.default_service_account_missing', namespace },
            `${account} does not exist yet; the Secret is added to it on the next call`,
          );
          return;
        }
        throw failure(`read ${account}`, error, this.timeoutMs);
      }

      const listed = current.imagePullSecrets ?? [];
      if (listed.some((reference) => reference.name === secretName)) return;
      const patch = [
        {
          op: 'replace',
          path: '/metadata/resourceVersion',
          value: current.metadata?.resourceVersion,
        },
        current.imagePullSecrets === undefined
          ? { op: 'add', path: '/imagePullSecrets', value: [{ name: secretName }] }
          : { op: 'add', path: '/imagePullSecrets/-', value: { name: secretName } },
      ];
      try {
        await this.api.patchNamespacedServiceAccount({ name: 'default', namespace, body: patch });
        this.options.logger.info(
          { event: 'kubernetes.default_service_account_patched', namespace, secret: secretName },
          `pods in ${namespace} now pull with ${secretName} without naming it`,
        );
        return;
      } catch (error) {
        if (statusOf(error) !== 409) throw failure(`patch ${account}`, error, this.timeoutMs);
      }
    }
    throw conflictFailure(`patch ${account}`, this.maxAttempts);
  }

  private async readSecret(): Promise<V1Secret | undefined> {
    const { namespace, secretName: name } = this.options;
    try {
      return await this.api.readNamespacedSecret({ name, namespace });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw failure(`read secret ${this.secretRef}`, error, this.timeoutMs);
    }
  }

  private async createEmptySecret(): Promise<void> {
    const empty = emptyDockerConfigJson();
    try {
      await this.api.createNamespacedSecret({
        namespace: this.options.namespace,
        body: this.secretBody(empty.toString('base64'), {}),
      });
      this.options.logger.info(
        { event: 'kubernetes.secret_created', secret: this.secretRef },
        `created ${this.secretRef} with a Docker config that grants nothing`,
      );
    } catch (error) {
      // Another replica created it first.
      if (statusOf(error) !== 409) {
        throw failure(`create secret ${this.secretRef}`, error, this.timeoutMs);
      }
    } finally {
      empty.fill(0);
    }
  }

  /**
   * Creates or replaces the Secret. A replace carries the resourceVersion that was read, so a
   * concurrent write turns into a 409 Conflict and a fresh attempt, never a mix of two calls.
   */
  private async writeSecret(dockerConfig: string, annotations: Record<string, string>) {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt += 1) {
      const current = await this.readSecret();
      const step = `${current === undefined ? 'create' : 'update'} secret ${this.secretRef}`;
      if (current !== undefined) this.checkWritable(current);

      const body =
        current === undefined
          ? this.secretBody(dockerConfig, annotations)
          : replacementOf(current, dockerConfig, annotations);
      try {
        if (current === undefined) {
          await this.api.createNamespacedSecret({ namespace: this.options.namespace, body });
        } else {
          await this.api.replaceNamespacedSecret({
            name: this.options.secretName,
            namespace: this.options.namespace,
            body,
          });
        }
        return;
      } catch (error) {
        if (statusOf(error) === 409) {
          this.options.logger.info(
            { event: 'kubernetes.secret_conflict', secret: this.secretRef, attempt },
            'the Secret changed while writing; reading it again',
          );
          continue;
        }
        if (isAmbiguous(error) && (await this.writeLanded(annotations))) return;
        throw failure(step, error, this.timeoutMs);
      }
    }
    throw conflictFailure(`update secret ${this.secretRef}`, this.maxAttempts);
  }

  /**
   * After a write without an answer (timeout, dropped connection), whether the API server
   * applied it: the Secret then carries this write's id.
   */
  private async writeLanded(annotations: Record<string, string>): Promise<boolean> {
    try {
      const secret = await this.readSecret();
      const landed = secret?.metadata?.annotations?.[annotationKeys.writeId];
      return landed === annotations[annotationKeys.writeId];
    } catch {
      return false;
    }
  }

  private checkWritable(secret: V1Secret): void {
    if (secret.type !== dockerConfigJsonType) {
      throw new StoreError(
        `kubernetes: secret ${this.secretRef} exists with type ${secret.type ?? 'Opaque'}, ` +
          `not ${dockerConfigJsonType}; delete it or choose another MEF_SECRET_NAME`,
      );
    }
    if (secret.immutable === true) {
      throw new StoreError(
        `kubernetes: secret ${this.secretRef} is immutable; delete it so it can be rewritten`,
      );
    }
  }

  private secretBody(dockerConfig: string, annotations: Record<string, string>): V1Secret {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.options.secretName,
        namespace: this.options.namespace,
        labels: managedByLabel,
        annotations,
      },
      type: dockerConfigJsonType,
      data: { [dockerConfigJsonKey]: dockerConfig },
    };
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  private async step<T>(step: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw failure(step, error, this.timeoutMs);
    }
  }
}

/** KUBECONFIG, else the pod's service account; a StoreError when neither loads. */
export function loadDefaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromDefault();
  } catch (error) {
    const source = process.env.KUBECONFIG ? 'KUBECONFIG' : 'the pod service account';
    throw new StoreError(`kubernetes: cannot load credentials from ${source}`, { cause: error });
  }
  return kubeConfig;
}

/** A CoreV1 client whose every request is aborted after `timeoutMs`. */
export function coreApi(kubeConfig: KubeConfig, server: string, timeoutMs: number): CoreV1Api {
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [
      {
        pre: async (context) => {
          context.setSignal(AbortSignal.timeout(timeoutMs));
          return context;
        },
        post: async (context) => context,
      },
    ],
  });
  return new CoreV1Api(configuration);
}

/** Our annotations for `change`; the write id makes every write differ from the last. */
function annotationsOf(change: ConfigurationChange): Record<string, string> {
  const { domain, ip, port, account } = change.fields;
  const annotations: Record<string, string> = {
    [annotationKeys.port]: String(port),
    [annotationKeys.account]: account,
    [annotationKeys.registryAddress]: registryAddress(change.fields),
    [annotationKeys.updatedAt]: change.updatedAt.toISOString(),
    [annotationKeys.updatedBy]: change.updatedBy,
    [annotationKeys.verified]: change.verified === undefined ? 'unknown' : String(change.verified),
  };
  if (domain !== undefined) annotations[annotationKeys.domain] = domain;
  if (ip !== undefined) annotations[annotationKeys.ip] = ip;
  // The API server skips a write that changes nothing, and an edge device that lost the
  // Secret only gets it again when it changes: a fresh id makes every call a real write.
  annotations[annotationKeys.writeId] = randomUUID();
  return annotations;
}

/**
 * The current Secret with our data and annotations. Other tools' labels, annotations and owner
 * references are kept: a replace clears whatever it does not carry.
 */
function replacementOf(
  current: V1Secret,
  dockerConfig: string,
  annotations: Record<string, string>,
): V1Secret {
  const kept = Object.entries(current.metadata?.annotations ?? {}).filter(
    ([key]) => !key.startsWith(annotationPrefix),
  );
  return {
    ...current,
    metadata: {
      ...current.metadata,
      annotations: { ...Object.fromEntries(kept), ...annotations },
    },
    data: { [dockerConfigJsonKey]: dockerConfig },
  };
}

function configurationOf(secret: V1Secret, secretRef: string): StoredConfiguration | null {
  const annotations = secret.metadata?.annotations ?? {};
  const address = annotations[annotationKeys.registryAddress];
  // The Secret that open() creates carries no configuration yet.
  if (address === undefined) return null;

  const unreadable = (key: string) =>
    new StoreError(`kubernetes: secret ${secretRef} has no readable annotation ${key}`);
  const port = Number(annotations[annotationKeys.port]);
  if (!Number.isInteger(port)) throw unreadable(annotationKeys.port);
  const account = annotations[annotationKeys.account];
  if (account === undefined) throw unreadable(annotationKeys.account);
  const updatedAt = annotations[annotationKeys.updatedAt];
  if (updatedAt === undefined) throw unreadable(annotationKeys.updatedAt);

  const fields: ImageConfigFields = { port, account };
  const domain = annotations[annotationKeys.domain];
  const ip = annotations[annotationKeys.ip];
  if (domain !== undefined) fields.domain = domain;
  if (ip !== undefined) fields.ip = ip;
  const verified = annotations[annotationKeys.verified];
  return {
    fields,
    registryAddress: address,
    updatedAt,
    updatedBy: annotations[annotationKeys.updatedBy] ?? '',
    verified: verified === 'true' ? true : verified === 'false' ? false : null,
  };
}

/** The HTTP status of an API answer, or undefined for a failure without one. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** A failure after which the request may or may not have been applied. */
export function isAmbiguous(error: unknown): boolean {
  return error instanceof AbortError || error instanceof FetchError;
}

/** The `reason` of the Status object an API server answers an error with. */
function reasonOf(error: ApiException<unknown>): string | undefined {
  try {
    const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    const reason = (body as { reason?: unknown } | undefined)?.reason;
    return typeof reason === 'string' && /^[A-Za-z]+$/.test(reason) ? reason : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A StoreError naming the step that failed and why. It never carries the request or the
 * response body, which may hold the Secret's data.
 */
export function failure(step: string, error: unknown, timeoutMs: number): StoreError {
  if (error instanceof StoreError) return error;
  if (error instanceof AbortError) {
    return new StoreError(`kubernetes: cannot ${step}: no answer within ${timeoutMs} ms`);
  }
  if (error instanceof FetchError) {
    const code = error.code ?? error.type;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) {
      return new StoreError(
        `kubernetes: cannot ${step}: the API server's certificate is not trusted (${code})`,
      );
    }
    return new StoreError(`kubernetes: cannot ${step}: API server unreachable (${code})`);
  }
  if (!(error instanceof ApiException)) {
    const name = error instanceof Error ? error.name : typeof error;
    return new StoreError(`kubernetes: cannot ${step}: ${name}`);
  }

  const http = `HTTP ${error.code}${reasonOf(error) ? ` ${reasonOf(error)}` : ''}`;
  if (error.code === 401) {
    return new StoreError(
      `kubernetes: unauthorized to ${step} (${http}): the API server rejected the credentials`,
    );
  }
  if (error.code === 403) {
    return new StoreError(
      `kubernetes: forbidden to ${step} (${http}): grant the service account this permission`,
    );
  }
  if (error.code >= 500) {
    return new StoreError(`kubernetes: cannot ${step}: API server error (${http})`);
  }
  return new StoreError(`kubernetes: cannot ${step} (${http})`);
}

/** A run of 409 Conflicts longer than the attempts allowed. */
export function conflictFailure(step: string, attempts: number): StoreError {
  return new StoreError(
    `kubernetes: cannot ${step}: it kept changing under concurrent writes ` +
      `(HTTP 409 Conflict, ${attempts} attempts)`,
  );
}

// A stand-in for the Kubernetes API server, over real HTTPS, for the resources the service uses:
// namespaces, secrets, config maps, service accounts and nodes. It follows the API server's
// documented behaviour (Status objects, 201 on create, 409 AlreadyExists and Conflict, 404
// NotFound, 422 Invalid, resourceVersion rules, no-op writes that keep the version) and checks
// every object it receives against the official schemas. Faults are injected per request.

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import {
  createCertificateAuthority,
  issueCertificate,
} from '../../src/pki/certificate-authority.js';
import { schemaErrors, unknownFields } from './kubernetes-schema.js';

/** A Kubernetes object as JSON. */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export type Resource = 'namespaces' | 'secrets' | 'configmaps' | 'serviceaccounts' | 'nodes';
export type Verb = 'get' | 'list' | 'create' | 'update' | 'patch';

/** One request as the double saw it, with the status it answered (0: connection dropped). */
export interface RecordedRequest {
  method: string;
  path: string;
  contentType?: string;
  body?: unknown;
  status: number;
}

export interface RequestMatcher {
  method?: string;
  /** The URL path, exactly, or a pattern. */
  path?: string | RegExp;
  /** How many matching requests the fault applies to; every one when absent. */
  times?: number;
}

export type Fault =
  /** Answer with a Status of this code instead of handling the request. */
  | { status: number; reason?: string; message?: string }
  /** Handle the request as usual, but only after this delay. */
  | { delayMs: number }
  /** Close the connection without an answer, before or after handling the request. */
  | { drop: 'unhandled' | 'handled' }
  /** Run `action` (another client's write, say), then handle the request as usual. */
  | { before: () => void }
  /** Hold the request until the promise `until` returns settles, then handle it as usual. */
  | { until: () => Promise<void> };

/**
 * A fault that holds each request it matches until `count` of them have arrived, so that
 * concurrent clients are sure to read the same version.
 *
 * @example double.inject({ method: 'GET', path, times: 2 }, barrier(2));
 */
export function barrier(count: number): Fault {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    until: () => {
      arrived += 1;
      if (arrived >= count) open();
      return opened;
    },
  };
}

interface ResourceType {
  kind: string;
  namespaced: boolean;
  verbs: Verb[];
}

const resourceTypes: Record<Resource, ResourceType> = {
  namespaces: { kind: 'Namespace', namespaced: false, verbs: ['get', 'list', 'create', 'update'] },
  secrets: { kind: 'Secret', namespaced: true, verbs: ['get', 'list', 'create', 'update'] },
  configmaps: { kind: 'ConfigMap', namespaced: true, verbs: ['get', 'list', 'create', 'update'] },
  serviceaccounts: {
    kind: 'ServiceAccount',
    namespaced: true,
    verbs: ['get', 'list', 'create', 'update', 'patch'],
  },
  nodes: { kind: 'Node', namespaced: false, verbs: ['get', 'list', 'create'] },
};

const reasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** An error the double answers with a Status object. */
class StatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason = reasons[code] ?? 'Unknown',
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const standardBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isSubdomain(value: string): boolean {
  return value.length <= 253 && value.split('.').every((label) => dns1123Label.test(label));
}

/** Annotation and label keys: an optional DNS subdomain prefix and a name of 63 at most. */
function keyError(key: string): string | undefined {
  const parts = key.split('/');
  const name = parts.at(-1) ?? '';
  if (parts.length > 2 || (parts.length === 2 && !isSubdomain(parts[0]!))) {
    return 'prefix part must be a DNS-1123 subdomain';
  }
  if (name.length > 63 || !qualifiedName.test(name)) {
    return 'name part must consist of alphanumeric characters, "-", "_" or "."';
  }
  return undefined;
}

const clone = <T>(value: T): T => structuredClone(value);

function withoutVersion(object: KubernetesObject): KubernetesObject {
  const copy = clone(object);
  delete copy.metadata?.resourceVersion;
  return copy;
}

function sameContent(left: KubernetesObject, right: KubernetesObject): boolean {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  };
  return (
    JSON.stringify(canonical(withoutVersion(left))) ===
    JSON.stringify(canonical(withoutVersion(right)))
  );
}

/** RFC 6901 pointer tokens. */
function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Applies an RFC 6902 JSON patch (add, remove, replace, test) to a copy of `document`. */
function applyJsonPatch(document: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new StatusError(400, 'json patch must be an array');
  let result = clone(document);
  for (const operation of operations as Array<Record<string, unknown>>) {
    const tokens = pointerTokens(String(operation.path ?? ''));
    const last = tokens.pop();
    if (last === undefined) {
      if (operation.op === 'test') continue;
      result = clone(operation.value);
      continue;
    }
    let parent: unknown = result;
    for (const token of tokens) {
      parent = (parent as Record<string, unknown> | undefined)?.[token];
      if (parent === null || typeof parent !== 'object') {
        throw new Error(`doc is missing path: "${String(operation.path)}"`);
      }
    }
    const list = Array.isArray(parent) ? (parent as unknown[]) : undefined;
    const record = parent as Record<string, unknown>;
    const exists = list !== undefined ? Number(last) < list.length : Object.hasOwn(record, last);
    switch (operation.op) {
      case 'add':
        if (list !== undefined) {
          const index = last === '-' ? list.length : Number(last);
          if (!(index >= 0 && index <= list.length)) {
            throw new Error(`add operation does not apply: index ${last} out of bounds`);
          }
          list.splice(index, 0, clone(operation.value));
        } else {
          record[last] = clone(operation.value);
        }
        break;
      case 'replace':
      case 'remove':
        if (!exists) {
          throw new Error(`${operation.op} operation does not apply: doc is missing key`);
        }
        if (operation.op === 'replace') record[last] = clone(operation.value);
        else if (list !== undefined) list.splice(Number(last), 1);
        else delete record[last];
        break;
      case 'test':
        if (!exists || JSON.stringify(record[last]) !== JSON.stringify(operation.value)) {
          throw new Error('testing value failed');
        }
        break;
      default:
        throw new StatusError(400, `unsupported json patch operation "${String(operation.op)}"`);
    }
  }
  return result;
}

/** Applies an RFC 7386 merge patch. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? clone(target as Record<string, unknown>)
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** A KubeConfig for the double's URL, with its CA and a bearer token. */
function kubeConfigFor(server: string, caPem: string, token: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: 'double',
        server,
        caData: Buffer.from(caPem).toString('base64'),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'mef-image-config', token }],
    contexts: [{ name: 'double', cluster: 'double', user: 'mef-image-config' }],
    currentContext: 'double',
  });
  return kubeConfig;
}

/**
 * The API server double. Start it, point a client at {@link KubernetesApiDouble.kubeConfig},
 * and read the objects it holds back with {@link KubernetesApiDouble.object}.
 *
 * @example
 * const double = await KubernetesApiDouble.start();
 * const api = double.kubeConfig().makeApiClient(CoreV1Api);
 */
export class KubernetesApiDouble {
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Objects a client sent that the schemas reject; a correct client leaves this empty. */
  readonly schemaViolations: string[] = [];
  /** `unknown field` warnings, as the API server sends them in a Warning header. */
  readonly warnings: string[] = [];
  /** The identity the double names in a 403, like a pod's service account. */
  readonly user = 'system:serviceaccount:mef-center:mef-image-config';

  private readonly objects = new Map<string, KubernetesObject>();
  private readonly faults: Array<{ matcher: RequestMatcher; fault: Fault; used: number }> = [];
  private readonly forbidden: Array<{ verb: Verb; resource: Resource }> = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private revision = 100;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly caPem: string,
    readonly token: string,
  ) {}

  static async start(): Promise<KubernetesApiDouble> {
    const authority = await createCertificateAuthority('Kubernetes API double CA', 1);
    const certificate = await issueCertificate(authority, {
      commonName: 'kube-apiserver',
      subjectAltNames: { dns: ['localhost'], ip: ['127.0.0.1'] },
      usage: 'server',
    });
    const server = createServer({
      cert: certificate.certificatePem,
      key: certificate.privateKeyPem,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');

    const double = new KubernetesApiDouble(
      server,
      `https://127.0.0.1:${address.port}`,
      authority.certificatePem,
      randomUUID(),
    );
    server.on('connection', (socket: Socket) => {
      double.sockets.add(socket);
      socket.on('close', () => double.sockets.delete(socket));
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      void double.serve(request, response);
    });
    return double;
  }

  /**
   * A KubeConfig pointing at the double with its CA and token; the options override them (a
   * wrong token, a port nothing listens on, a CA that did not sign the double's certificate).
   */
  kubeConfig(options: { token?: string; server?: string; caPem?: string } = {}): KubeConfig {
    return kubeConfigFor(
      options.server ?? this.url,
      options.caPem ?? this.caPem,
      options.token ?? this.token,
    );
  }

  /** The same as {@link kubeConfig}, as the YAML file that KUBECONFIG names. */
  kubeConfigYaml(): string {
    return this.kubeConfig().exportConfig();
  }

  /** Applies `fault` to the requests `matcher` selects, in place of or around handling. */
  inject(matcher: RequestMatcher, fault: Fault): void {
    this.faults.push({ matcher, fault, used: 0 });
  }

  /** Denies `verb` on `resource` to the client, as RBAC would, with a 403. */
  forbid(verb: Verb, resource: Resource): void {
    this.forbidden.push({ verb, resource });
  }

  /** A copy of the stored object, or undefined. */
  object(resource: Resource, namespace: string | undefined, name: string) {
    const stored = this.objects.get(this.key(resource, namespace, name));
    return stored === undefined ? undefined : clone(stored);
  }

  /** Stores an object directly, as another client's earlier create would have. */
  seed(resource: Resource, object: KubernetesObject): KubernetesObject {
    const stored = this.stamp(resource, clone(object));
    const namespace = resourceTypes[resource].namespaced ? stored.metadata?.namespace : undefined;
    this.objects.set(this.key(resource, namespace, stored.metadata!.name!), stored);
    return clone(stored);
  }

  /** A Node that reports `addresses` in its status. */
  addNode(name: string, addresses: Array<{ type: string; address: string }>): void {
    this.seed('nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'node-role.kubernetes.io/edge': '' } },
      status: { addresses },
    });
  }

  /** Another client's write: changes an annotation, so the resourceVersion moves on. */
  touch(resource: Resource, namespace: string | undefined, name: string): void {
    const key = this.key(resource, namespace, name);
    const stored = this.objects.get(key);
    if (stored === undefined) throw new Error(`no ${resource} ${namespace}/${name} to touch`);
    stored.metadata!.annotations = {
      ...stored.metadata!.annotations,
      'example.com/touched-by': randomUUID(),
    };
    stored.metadata!.resourceVersion = this.nextVersion();
  }

  /** Requests answered with `status` for `method` on paths matching `path`. */
  answered(method: string, path: string | RegExp, status?: number): RecordedRequest[] {
    return this.requests.filter(
      (request) =>
        request.method === method &&
        (typeof path === 'string' ? request.path === path : path.test(request.path)) &&
        (status === undefined || request.status === status),
    );
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private key(resource: Resource, namespace: string | undefined, name: string): string {
    return `${resource}/${namespace ?? ''}/${name}`;
  }

  private nextVersion(): string {
    this.revision += 1;
    return String(this.revision);
  }

  /** Sets the fields the API server owns on a new object. */
  private stamp(resource: Resource, object: KubernetesObject): KubernetesObject {
    const type = resourceTypes[resource];
    object.apiVersion ??= 'v1';
    object.kind ??= type.kind;
    object.metadata = {
      ...object.metadata,
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      resourceVersion: this.nextVersion(),
    };
    if (resource === 'namespaces') {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
    }
    return object;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const text = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    const record: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      contentType: request.headers['content-type'],
      status: 0,
    };
    try {
      record.body = text === '' ? undefined : JSON.parse(text);
    } catch {
      record.body = text;
    }
    this.requests.push(record);

    const fault = this.takeFault(record);
    if (fault !== undefined && 'drop' in fault && fault.drop === 'unhandled') {
      request.socket.destroy();
      return;
    }
    if (fault !== undefined && 'delayMs' in fault) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, fault.delayMs);
        this.timers.add(timer);
      });
    }
    if (fault !== undefined && 'until' in fault) await fault.until();
    if (fault !== undefined && 'before' in fault) fault.before();

    let status: number;
    let body: unknown;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    try {
      if (fault !== undefined && 'status' in fault) {
        throw new StatusError(
          fault.status,
          fault.message ?? `injected ${reasons[fault.status] ?? 'error'}`,
          fault.reason,
        );
      }
      this.authenticate(request);
      const result = await this.route(record, url, text);
      status = result.status;
      body = result.body;
      if (result.warnings.length > 0) {
        headers.warning = result.warnings.map((warning) => `299 - "${warning}"`).join(', ');
      }
    } catch (error) {
      const failure =
        error instanceof StatusError
          ? error
          : new StatusError(500, `Internal error occurred: ${(error as Error).message}`);
      status = failure.code;
      body = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: failure.message,
        reason: failure.reason,
        ...(failure.details === undefined ? {} : { details: failure.details }),
        code: failure.code,
      };
    }

    if (fault !== undefined && 'drop' in fault) {
      request.socket.destroy();
      return;
    }
    record.status = status;
    if (response.destroyed || request.socket.destroyed) return;
    response.writeHead(status, headers);
    response.end(JSON.stringify(body));
  }

  private takeFault(record: RecordedRequest): Fault | undefined {
    const entry = this.faults.find(({ matcher, used }) => {
      if (matcher.times !== undefined && used >= matcher.times) return false;
      if (matcher.method !== undefined && matcher.method !== record.method) return false;
      if (matcher.path === undefined) return true;
      return typeof matcher.path === 'string'
        ? matcher.path === record.path
        : matcher.path.test(record.path);
    });
    if (entry === undefined) return undefined;
    entry.used += 1;
    return entry.fault;
  }

  private authenticate(request: IncomingMessage): void {
    if (request.headers.authorization !== `Bearer ${this.token}`) {
      throw new StatusError(401, 'Unauthorized');
    }
  }

  private authorize(verb: Verb, resource: Resource, namespace?: string, name?: string): void {
    if (!this.forbidden.some((rule) => rule.verb === verb && rule.resource === resource)) return;
    const subject = name === undefined ? resource : `${resource} "${name}"`;
    const scope =
      namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
    throw new StatusError(
      403,
      `${subject} is forbidden: User "${this.user}" cannot ${verb} resource "${resource}" ` +
        `in API group "" ${scope}`,
      'Forbidden',
      { name, kind: resource },
    );
  }

  private async route(record: RecordedRequest, url: URL, text: string) {
    const parts = url.pathname.split('/').filter((part) => part !== '');
    if (parts[0] !== 'api' || parts[1] !== 'v1') throw notFoundPath();
    let rest = parts.slice(2);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const resource = rest[0] as Resource | undefined;
    const name = rest[1];
    if (resource === undefined || !(resource in resourceTypes) || rest.length > 2) {
      throw notFoundPath();
    }
    const type = resourceTypes[resource];
    if (type.namespaced !== (namespace !== undefined)) throw notFoundPath();

    const verb = verbOf(record.method, name);
    if (verb === undefined || !type.verbs.includes(verb)) {
      throw new StatusError(405, `the server does not allow this method on the requested resource`);
    }
    this.authorize(verb, resource, namespace, name);

    switch (verb) {
      case 'get':
        return { status: 200, body: this.read(resource, namespace, name!), warnings: [] };
      case 'list':
        return { status: 200, body: this.list(resource, namespace, url), warnings: [] };
      case 'create':
        return this.create(resource, namespace, parseBody(text, type.kind));
      case 'update':
        return this.update(resource, namespace, name!, parseBody(text, type.kind));
      case 'patch':
        return this.patch(resource, namespace, name!, record.contentType, text);
    }
  }

  private read(resource: Resource, namespace: string | undefined, name: string) {
    const stored = this.objects.get(this.key(resource, namespace, name));
    if (stored === undefined) throw notFound(resource, name);
    return clone(stored);
  }

  private list(resource: Resource, namespace: string | undefined, url: URL) {
    const prefix = `${resource}/${namespace ?? ''}/`;
    const all = [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([left], [right]) => left.localeCompare(right))
      .map(([, object]) => clone(object));
    const after = url.searchParams.get('continue');
    const start =
      after === null || after === ''
        ? 0
        : all.findIndex((object) => object.metadata?.name === decodeContinue(after)) + 1;
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const end = limit > 0 ? start + limit : all.length;
    const metadata: Record<string, string> = { resourceVersion: String(this.revision) };
    if (end < all.length) {
      metadata.continue = Buffer.from(all[end - 1]!.metadata!.name!).toString('base64url');
    }
    return {
      kind: `${resourceTypes[resource].kind}List`,
      apiVersion: 'v1',
      metadata,
      items: all.slice(start, end),
    };
  }

  private async create(resource: Resource, namespace: string | undefined, body: KubernetesObject) {
    const name = body.metadata?.name;
    if (namespace !== undefined) {
      if (body.metadata?.namespace !== undefined && body.metadata.namespace !== namespace) {
        throw new StatusError(
          400,
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      if (!this.objects.has(this.key('namespaces', undefined, namespace))) {
        throw notFound('namespaces', namespace);
      }
    }
    if (body.metadata?.resourceVersion) {
      throw new StatusError(500, 'resourceVersion should not be set on objects to be created');
    }
    if (name === undefined || name === '') {
      throw invalid(
        body,
        resource,
        'metadata.name: Required value: name or generateName is required',
      );
    }
    if (this.objects.has(this.key(resource, namespace, name))) {
      throw new StatusError(409, `${resource} "${name}" already exists`, 'AlreadyExists', {
        name,
        kind: resource,
      });
    }

    const object = clone(body);
    object.apiVersion ??= 'v1';
    object.kind ??= resourceTypes[resource].kind;
    if (namespace !== undefined) object.metadata = { ...object.metadata, namespace };
    const warnings = await this.validate(resource, object);
    const stored = this.stamp(resource, object);
    this.objects.set(this.key(resource, namespace, name), stored);
    if (resource === 'namespaces') this.startServiceAccountController(name);
    return { status: 201, body: clone(stored), warnings };
  }

  /** Like the service account controller: every new namespace gets a `default` account. */
  private startServiceAccountController(namespace: string): void {
    this.seed('serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace },
    });
  }

  private async update(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    body: KubernetesObject,
  ) {
    if (body.metadata?.name !== name) {
      throw new StatusError(
        400,
        `the name of the object (${body.metadata?.name ?? ''}) does not match the name on ` +
          `the URL (${name})`,
      );
    }
    if (
      namespace !== undefined &&
      body.metadata.namespace !== undefined &&
      body.metadata.namespace !== namespace
    ) {
      throw new StatusError(
        400,
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    return this.commitUpdate(resource, namespace, name, clone(body));
  }

  private async patch(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    contentType: string | undefined,
    text: string,
  ) {
    const current = this.read(resource, namespace, name);
    let patch: unknown;
    try {
      patch = JSON.parse(text);
    } catch (error) {
      throw new StatusError(400, `error decoding patch: ${(error as Error).message}`);
    }
    let patched: unknown;
    const mediaType = contentType?.split(';')[0]?.trim();
    if (mediaType === 'application/json-patch+json') {
      try {
        patched = applyJsonPatch(current, patch);
      } catch (error) {
        if (error instanceof StatusError) throw error;
        // The API server answers a patch that does not apply with a bare 422.
        throw new StatusError(
          422,
          `the server rejected our request due to an error in our request: ` +
            (error as Error).message,
        );
      }
    } else if (mediaType === 'application/merge-patch+json') {
      patched = applyMergePatch(current, patch);
    } else {
      throw new StatusError(
        415,
        `the body of the request was in an unknown format - accepted media types include: ` +
          `application/json-patch+json, application/merge-patch+json ` +
          `(the double does not implement strategic merge patch)`,
      );
    }
    return this.commitUpdate(resource, namespace, name, patched as KubernetesObject);
  }

  /**
   * The shared tail of PUT and PATCH: the resourceVersion precondition, immutable fields,
   * validation, and a new version only when something changed.
   */
  private async commitUpdate(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    object: KubernetesObject,
  ) {
    const key = this.key(resource, namespace, name);
    const current = this.objects.get(key);
    if (current === undefined) throw notFound(resource, name);

    const given = object.metadata?.resourceVersion;
    if (given !== undefined && given !== '' && given !== current.metadata?.resourceVersion) {
      throw new StatusError(
        409,
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been ` +
          `modified; please apply your changes to the latest version and try again`,
        'Conflict',
        { name, kind: resource },
      );
    }
    if (resource === 'secrets') checkSecretUpdate(current, object);

    object.metadata = {
      ...object.metadata,
      name,
      ...(namespace === undefined ? {} : { namespace }),
      uid: current.metadata?.uid,
      creationTimestamp: current.metadata?.creationTimestamp,
      resourceVersion: current.metadata?.resourceVersion,
    };
    object.apiVersion ??= 'v1';
    object.kind ??= resourceTypes[resource].kind;
    const warnings = await this.validate(resource, object);

    // The API server does not write an object that did not change: the version stays.
    if (sameContent(object, current)) return { status: 200, body: clone(current), warnings };
    object.metadata.resourceVersion = this.nextVersion();
    this.objects.set(key, object);
    return { status: 200, body: clone(object), warnings };
  }

  /** Schema, names, metadata and the Secret type rules; returns the unknown-field warnings. */
  private async validate(resource: Resource, object: KubernetesObject): Promise<string[]> {
    const type = resourceTypes[resource];
    if (object.kind !== type.kind || object.apiVersion !== 'v1') {
      throw new StatusError(
        400,
        `the API version in the data (${String(object.apiVersion)}) or kind ` +
          `(${String(object.kind)}) does not match the expected ${type.kind} v1`,
      );
    }
    const errors = await schemaErrors(object);
    if (errors.length > 0) {
      this.schemaViolations.push(`${type.kind}: ${errors.join('; ')}`);
      throw invalid(object, resource, errors.join('; '));
    }

    const name = object.metadata?.name ?? '';
    const nameOk = resource === 'namespaces' ? dns1123Label.test(name) : isSubdomain(name);
    if (!nameOk || name.length > (resource === 'namespaces' ? 63 : 253)) {
      throw invalid(
        object,
        resource,
        `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 name`,
      );
    }
    for (const [field, entries] of [
      ['annotations', object.metadata?.annotations],
      ['labels', object.metadata?.labels],
    ] as const) {
      for (const [entryKey, value] of Object.entries(entries ?? {})) {
        const broken = keyError(entryKey);
        if (broken !== undefined) {
          throw invalid(
            object,
            resource,
            `metadata.${field}: Invalid value: "${entryKey}": ${broken}`,
          );
        }
        if (field === 'labels' && (value.length > 63 || !labelValue.test(value))) {
          throw invalid(object, resource, `metadata.labels: Invalid value: "${value}"`);
        }
      }
    }
    const annotationBytes = Object.entries(object.metadata?.annotations ?? {}).reduce(
      (total, [entryKey, value]) => total + entryKey.length + value.length,
      0,
    );
    if (annotationBytes > 256 * 1024) {
      throw invalid(
        object,
        resource,
        'metadata.annotations: Too long: must have at most 262144 bytes',
      );
    }
    if (resource === 'secrets') validateSecret(object);
    if (resource === 'configmaps') validateConfigMap(object);

    const warnings = unknownFields(object as { apiVersion: string; kind: string }).map(
      (field) => `unknown field "${field}"`,
    );
    this.warnings.push(...warnings);
    return warnings;
  }
}

function verbOf(method: string, name: string | undefined): Verb | undefined {
  if (method === 'GET') return name === undefined ? 'list' : 'get';
  if (method === 'POST' && name === undefined) return 'create';
  if (method === 'PUT' && name !== undefined) return 'update';
  if (method === 'PATCH' && name !== undefined) return 'patch';
  return undefined;
}

function decodeContinue(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}

function parseBody(text: string, kind: string): KubernetesObject {
  try {
    const body: unknown = JSON.parse(text);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error();
    return body as KubernetesObject;
  } catch {
    throw new StatusError(400, `${kind} in version "v1" cannot be handled as a ${kind}`);
  }
}

function notFoundPath(): StatusError {
  return new StatusError(404, 'the server could not find the requested resource');
}

function notFound(resource: Resource, name: string): StatusError {
  return new StatusError(404, `${resource} "${name}" not found`, 'NotFound', {
    name,
    kind: resource,
  });
}

function invalid(object: KubernetesObject, resource: Resource, cause: string): StatusError {
  const kind = resourceTypes[resource].kind;
  const name = object.metadata?.name ?? '';
  return new StatusError(422, `${kind} "${name}" is invalid: ${cause}`, 'Invalid', {
    name,
    kind: resource,
  });
}

/** The Secret rules of the API server's validation, for the types this service writes. */
function validateSecret(secret: KubernetesObject): void {
  const data = (secret.data ?? {}) as Record<string, unknown>;
  let size = 0;
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string' || !standardBase64.test(value)) {
      // The API server fails to decode the []byte field before any validation runs.
      throw new StatusError(
        400,
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[${key}]`,
      );
    }
    if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253) {
      throw invalid(secret, 'secrets', `data[${key}]: Invalid value: "${key}": a valid config key`);
    }
    size += Buffer.from(value, 'base64').length;
  }
  if (size > 1024 * 1024) {
    throw invalid(secret, 'secrets', 'data: Too long: must have at most 1048576 bytes');
  }
  if (secret.type === 'kubernetes.io/dockerconfigjson') {
    const encoded = data['.dockerconfigjson'];
    if (encoded === undefined) {
      throw invalid(secret, 'secrets', 'data[.dockerconfigjson]: Required value');
    }
    try {
      JSON.parse(Buffer.from(encoded as string, 'base64').toString('utf8'));
    } catch (error) {
      throw invalid(
        secret,
        'secrets',
        `data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": ` +
          (error as Error).message,
      );
    }
  }
}

/** The ConfigMap rules of the API server's validation: config keys and the total size. */
function validateConfigMap(configMap: KubernetesObject): void {
  const data = (configMap.data ?? {}) as Record<string, unknown>;
  let size = 0;
  for (const [key, value] of Object.entries(data)) {
    if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253) {
      const cause = `data[${key}]: Invalid value: "${key}": a valid config key`;
      throw invalid(configMap, 'configmaps', cause);
    }
    size += key.length + Buffer.byteLength(String(value));
  }
  if (size > 1024 * 1024) {
    throw invalid(configMap, 'configmaps', 'data: Too long: must have at most 1048576 bytes');
  }
}

function checkSecretUpdate(current: KubernetesObject, next: KubernetesObject): void {
  const currentType = (current.type as string | undefined) ?? 'Opaque';
  const nextType = (next.type as string | undefined) ?? 'Opaque';
  if (currentType !== nextType) {
    throw invalid(next, 'secrets', `type: Invalid value: "${nextType}": field is immutable`);
  }
  if (
    current.immutable === true &&
    JSON.stringify(current.data ?? {}) !== JSON.stringify(next.data ?? {})
  ) {
    throw invalid(next, 'secrets', 'data: Forbidden: field is immutable when `immutable` is set');
  }
}

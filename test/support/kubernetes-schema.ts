// Checks Kubernetes objects against the official schemas: kubernetes-models for types, enums and
// required fields, and the API client's typed models for fields no schema knows (typos).

import * as kubernetesClient from '@kubernetes/client-node';

interface ModelClass {
  new (data: unknown): { validate(): void };
}

interface ClientModel {
  getAttributeTypeMap(): Array<{ baseName: string; type: string }>;
}

const modelClasses = new Map<string, ModelClass>();

/** `apps/v1` + `Deployment` -> the module `kubernetes-models/apps/v1/Deployment`. */
async function modelClassOf(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const key = `${apiVersion}/${kind}`;
  if (!modelClasses.has(key)) {
    try {
      const module = (await import(`kubernetes-models/${key}`)) as Record<string, ModelClass>;
      const model = module[kind];
      if (model !== undefined) modelClasses.set(key, model);
    } catch {
      return undefined;
    }
  }
  return modelClasses.get(key);
}

/**
 * The schema errors of `object` (apiVersion and kind pick the schema); empty when it is valid.
 *
 * @example await schemaErrors({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'a' } })
 */
export async function schemaErrors(object: unknown): Promise<string[]> {
  const { apiVersion, kind } = (object ?? {}) as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return ['apiVersion and kind must be strings'];
  }
  const model = await modelClassOf(apiVersion, kind);
  if (model === undefined) return [`no schema for ${apiVersion} ${kind}`];
  try {
    new model(object).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/** `rbac.authorization.k8s.io/v1` + `Role` -> `V1Role`, the client's model of it. */
function clientTypeName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').at(-1) ?? '';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

function fieldsOf(value: unknown, type: string, path: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((item, index) => fieldsOf(item, array[1]!, `${path}[${index}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) {
    return Object.entries(value).flatMap(([key, item]) =>
      fieldsOf(item, map[1]!, `${path}[${key}]`),
    );
  }
  const model = (kubernetesClient as unknown as Record<string, ClientModel | undefined>)[type];
  if (typeof model?.getAttributeTypeMap !== 'function') return [];
  const known = new Map(model.getAttributeTypeMap().map((field) => [field.baseName, field.type]));
  return Object.entries(value).flatMap(([key, item]) => {
    const fieldPath = path === '' ? key : `${path}.${key}`;
    const fieldType = known.get(key);
    return fieldType === undefined ? [fieldPath] : fieldsOf(item, fieldType, fieldPath);
  });
}

/**
 * The fields of `object` that its kind does not define, as the API server names them in an
 * `unknown field "spec.foo"` warning; empty when there are none.
 */
export function unknownFields(object: { apiVersion: string; kind: string }): string[] {
  return fieldsOf(object, clientTypeName(object.apiVersion, object.kind), '');
}

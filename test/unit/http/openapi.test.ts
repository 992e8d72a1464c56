// The OpenAPI document: valid OpenAPI 3.1, committed as generated, served on the ops listener,
// and in agreement with the routes both listeners register.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { limits } from '../../../src/domain/rules.js';
import { StatusCode } from '../../../src/domain/status.js';
import { openApiDocument, openApiFile, openApiPath } from '../../../src/http/openapi.js';
import { startTestService, type TestService } from '../../support/test-service.js';

const document = openApiDocument();
const methods = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

interface PathItem {
  servers?: unknown[];
  [method: string]: unknown;
}

/**
 * `METHOD /path` of every route an instance registered, read from its route tree
 * (`printRoutes({ commonPrefix: false })`), where a child line adds to its parent's path.
 * HEAD routes that Fastify adds to each GET are left out.
 */
function registeredRoutes(app: { printRoutes(options: { commonPrefix: boolean }): string }) {
  const routes: string[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│├└─\s]*)(\S+)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (match === null || line.trim() === '') continue;
    const depth = match[1]!.length / 4;
    const fullPath = (prefixes[depth - 1] ?? '') + match[2]!;
    prefixes[depth] = fullPath;
    for (const method of match[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push(`${method} ${fullPath}`);
    }
  }
  return routes.sort();
}

/** `METHOD /path` of the document's operations on one listener: ops paths name their server. */
function documentedRoutes(listener: 'api' | 'ops'): string[] {
  const routes: string[] = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, PathItem>)) {
    if ((item.servers !== undefined) !== (listener === 'ops')) continue;
    for (const method of methods) {
      if (item[method] !== undefined) routes.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return routes.sort();
}

describe('the OpenAPI document', () => {
  let test: TestService;

  before(async () => {
    test = await startTestService();
  });

  after(() => test.stop());

  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));

    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
    // Every $ref points somewhere.
    assert.doesNotThrow(() => validator.resolveRefs());
  });

  it(`is committed as ${openApiFile}, as \`npm run openapi\` writes it`, async () => {
    const committed: unknown = JSON.parse(
      await readFile(new URL(`../../../${openApiFile}`, import.meta.url), 'utf8'),
    );

    assert.deepEqual(
      committed,
      JSON.parse(JSON.stringify(document)),
      `${openApiFile} is out of date: run npm run openapi`,
    );
  });

  it('documents exactly the routes the API listener registers', () => {
    const registered = registeredRoutes(test.service.api as unknown as FastifyInstance);

    assert.ok(registered.length >= 4, registered.join(', '));
    assert.deepEqual(registered, documentedRoutes('api'));
  });

  it('documents exactly the routes the ops listener registers', () => {
    const registered = registeredRoutes(test.service.ops as unknown as FastifyInstance);

    assert.ok(registered.includes(`GET ${openApiPath}`), registered.join(', '));
    assert.deepEqual(registered, documentedRoutes('ops'));
  });

  it(`is served at ${openApiPath} on the ops listener`, async () => {
    const { status, contentType, body } = await new Promise<{
      status: number;
      contentType: string;
      body: string;
    }>((resolve, reject) => {
      const call = request(`${test.service.opsUrl}${openApiPath}`, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: String(response.headers['content-type']),
            body: text,
          }),
        );
      });
      call.on('error', reject);
      call.end();
    });

    assert.equal(status, 200);
    assert.match(contentType, /^application\/json/);
    assert.deepEqual(JSON.parse(body), JSON.parse(JSON.stringify(document)));
  });

  it('takes its limits and status codes from the code', () => {
    const { schemas } = document.components;
    const domain = schemas.ImageConfigRequest.properties.domain;
    assert.equal(domain.maxLength, limits.domainMaxLength);
    assert.equal(schemas.ImageConfigRequest.properties.port.maximum, limits.portMax);
    assert.deepEqual(schemas.StatusCode.enum, Object.values(StatusCode));
    for (const code of Object.values(StatusCode)) {
      assert.match(schemas.StatusCode.description, new RegExp(`\`${code}\`: \\w`));
    }
  });
});

// Writes the committed OpenAPI document (openapi/openapi.json) from src/http/openapi.ts.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { openApiDocument, openApiFile } from '../src/http/openapi.js';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const target = path.join(repositoryRoot, openApiFile);

// Formatted as `prettier --check` expects it, so the lint step accepts the generated file.
const options = (await prettier.resolveConfig(target)) ?? {};
const text = await prettier.format(JSON.stringify(openApiDocument()), {
  ...options,
  parser: 'json',
});
await writeFile(target, text);
console.log(`wrote ${openApiFile}`);

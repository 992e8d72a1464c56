// The README documents every setting and every status code the code defines.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { StatusCode } from '../../../src/domain/status.js';

const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
const sources = ['src/config/settings.ts', 'src/store/create-store.ts'];

describe('README', () => {
  it('lists every status code', () => {
    for (const [name, code] of Object.entries(StatusCode)) {
      assert.ok(readme.includes(`\`${code}\``), `${name} (${code}) is not in the README`);
    }
  });

  it('lists every MEF_ setting the code reads', async () => {
    const variables = new Set<string>();
    for (const source of sources) {
      const text = await readFile(new URL(`../../../${source}`, import.meta.url), 'utf8').catch(
        () => '',
      );
      for (const match of text.matchAll(/\bMEF_[A-Z0-9_]+\b/g)) variables.add(match[0]);
    }
    assert.ok(variables.size > 5);
    for (const variable of variables) {
      assert.ok(readme.includes(`\`${variable}\``), `${variable} is not in the README`);
    }
  });
});

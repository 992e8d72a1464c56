// The registry verification settings: their defaults and the messages of a bad value.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSettings, SettingsError } from '../../../src/config/settings.js';

describe('MEF_VERIFY_REGISTRY and MEF_VERIFY_TIMEOUT_MS', () => {
  it('default to warn and five seconds', () => {
    assert.deepEqual(loadSettings({}).verification, { mode: 'warn', timeoutMs: 5000 });
  });

  it('take off, warn or enforce and a whole number of milliseconds', () => {
    const settings = loadSettings({ MEF_VERIFY_REGISTRY: 'enforce', MEF_VERIFY_TIMEOUT_MS: '900' });
    assert.deepEqual(settings.verification, { mode: 'enforce', timeoutMs: 900 });
    assert.equal(loadSettings({ MEF_VERIFY_REGISTRY: 'off' }).verification.mode, 'off');
  });

  it('stop start-up on any other value, naming the variable and the rule', () => {
    assert.throws(
      () => loadSettings({ MEF_VERIFY_REGISTRY: 'strict' }),
      (error: unknown) =>
        error instanceof SettingsError &&
        error.message === 'MEF_VERIFY_REGISTRY: must be off, warn or enforce, got "strict"',
    );
    for (const timeout of ['0', '99', '1.5', 'soon', '120001']) {
      assert.throws(
        () => loadSettings({ MEF_VERIFY_TIMEOUT_MS: timeout }),
        /^SettingsError: MEF_VERIFY_TIMEOUT_MS: must be a whole number of milliseconds/,
      );
    }
  });
});

// The two listen settings: the API and the ops listener may not be given the same address.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSettings, SettingsError } from '../../../src/config/settings.js';

describe('MEF_LISTEN and MEF_OPS_LISTEN', () => {
  it('refuses the same host and port for both listeners, naming both settings', () => {
    assert.throws(
      () => loadSettings({ MEF_LISTEN: '127.0.0.1:30035', MEF_OPS_LISTEN: '127.0.0.1:30035' }),
      (error: unknown) =>
        error instanceof SettingsError &&
        error.message === 'MEF_OPS_LISTEN: must differ from MEF_LISTEN: both are 127.0.0.1:30035',
    );
  });

  it('refuses the default API address given again to the ops listener', () => {
    assert.throws(() => loadSettings({ MEF_OPS_LISTEN: '0.0.0.0:30035' }), /MEF_OPS_LISTEN/);
    assert.throws(() => loadSettings({ MEF_OPS_LISTEN: ':30035' }), /MEF_OPS_LISTEN/);
  });

  it('accepts port 0 for both, and the same port on different hosts', () => {
    const free = loadSettings({ MEF_LISTEN: '127.0.0.1:0', MEF_OPS_LISTEN: '127.0.0.1:0' });
    assert.deepEqual([free.listen.port, free.opsListen.port], [0, 0]);
    const split = loadSettings({ MEF_LISTEN: '127.0.0.1:9000', MEF_OPS_LISTEN: '127.0.0.2:9000' });
    assert.equal(split.opsListen.host, '127.0.0.2');
  });
});

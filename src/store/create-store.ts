// Chooses the store that the settings ask for: embedded SQLite or a Kubernetes Secret.

import type { Logger } from 'pino';
import type { Settings } from '../config/settings.js';
import { KubernetesStore } from './kubernetes-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { ImageConfigStore } from './store.js';

/**
 * The store selected by `settings.store.kind`; the caller opens it.
 *
 * @example const store = createStore(loadSettings(process.env), logger); await store.open();
 */
export function createStore(settings: Settings, logger: Logger): ImageConfigStore {
  if (settings.store.kind === 'kubernetes') {
    const { namespace, secretName, patchDefaultServiceAccount, timeoutMs } = settings.store;
    return new KubernetesStore({
      namespace,
      secretName,
      patchDefaultServiceAccount,
      timeoutMs,
      logger,
    });
  }
  return new SqliteStore({ dataDir: settings.dataDir, logger });
}

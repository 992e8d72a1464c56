// Chooses the store that the settings ask for: embedded SQLite or a Kubernetes Secret.

import type { Logger } from 'pino';
import type { Settings } from '../config/settings.js';
import { SqliteStore } from './sqlite-store.js';
import type { ImageConfigStore } from './store.js';

/**
 * The store selected by `settings.store.kind`; the caller opens it.
 *
 * @example const store = await createStore(loadSettings(process.env), logger);
 */
export async function createStore(settings: Settings, logger: Logger): Promise<ImageConfigStore> {
  if (settings.store.kind === 'kubernetes') {
    // Loaded only in Kubernetes mode: the Kubernetes client takes longer to load than the rest
    // of the service together, and would more than double the embedded mode's start-up.
    const { KubernetesStore } = await import('./kubernetes-store.js');
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

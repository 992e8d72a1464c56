// Chooses where imported CA certificates live, following the store the settings select.

import type { Settings } from '../config/settings.js';
import type { CertificateStore } from './certificate-store.js';
import { FileCertificateStore } from './file-certificate-store.js';

/**
 * A ConfigMap beside the Secret in Kubernetes mode, else files in the data directory.
 *
 * @example const certificates = await createCertificateStore(loadSettings(process.env));
 */
export async function createCertificateStore(settings: Settings): Promise<CertificateStore> {
  if (settings.store.kind === 'kubernetes') {
    // Loaded only in Kubernetes mode: the Kubernetes client takes longer to load than the rest
    // of the service together, and would more than double the embedded mode's start-up.
    const { KubernetesCertificateStore } = await import('./kubernetes-certificate-store.js');
    const { namespace, timeoutMs } = settings.store;
    return new KubernetesCertificateStore({ namespace, timeoutMs });
  }
  return new FileCertificateStore({ dataDir: settings.dataDir });
}

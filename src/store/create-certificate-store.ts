// Chooses where imported CA certificates live, following the store the settings select.

import type { Settings } from '../config/settings.js';
import type { CertificateStore } from './certificate-store.js';
import { FileCertificateStore } from './file-certificate-store.js';
import { KubernetesCertificateStore } from './kubernetes-certificate-store.js';

/**
 * A ConfigMap beside the Secret in Kubernetes mode, else files in the data directory.
 *
 * @example const certificates = createCertificateStore(loadSettings(process.env));
 */
export function createCertificateStore(settings: Settings): CertificateStore {
  if (settings.store.kind === 'kubernetes') {
    const { namespace, timeoutMs } = settings.store;
    return new KubernetesCertificateStore({ namespace, timeoutMs });
  }
  return new FileCertificateStore({ dataDir: settings.dataDir });
}

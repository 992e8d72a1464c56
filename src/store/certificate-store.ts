// The storage contract for imported registry CA certificates, shared by the data-directory store
// and the Kubernetes ConfigMap store.

import type { CertificateName } from '../domain/certificate-import.js';

/**
 * Where imported CA certificates live. Each name holds at most one certificate and one backup:
 * the certificate that an import replaced or a deletion removed.
 */
export interface CertificateStore {
  readonly kind: 'files' | 'kubernetes';
  /** Where the certificates are, for logs and documents: a directory or a ConfigMap. */
  readonly location: string;
  /** The PEM of the certificate in use, or null when none has been imported. */
  read(name: CertificateName): Promise<string | null>;
  /** Puts `pem` in place, keeping the certificate it replaces as the backup. */
  save(name: CertificateName, pem: string): Promise<{ replaced: boolean }>;
  /** Removes the certificate, keeping it as the backup; false when there was none. */
  remove(name: CertificateName): Promise<{ removed: boolean }>;
}

/** Where a certificate and its backup are kept: a file name or a ConfigMap key. */
export function certificateEntries(name: CertificateName): { current: string; backup: string } {
  return { current: `${name}.crt`, backup: `${name}.crt.bak` };
}

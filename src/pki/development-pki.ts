// The development PKI a first start creates when no certificates are configured.

import { access, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { secretFileMode, writeFileAtomically } from '../files/atomic-write.js';
import { createCertificateAuthority, issueCertificate } from './certificate-authority.js';

/** Where the development PKI lives inside the data directory. */
export function developmentPkiPaths(dataDir: string) {
  const directory = path.join(dataDir, 'pki');
  return {
    directory,
    caCert: path.join(directory, 'ca.crt'),
    serverCert: path.join(directory, 'server.crt'),
    serverKey: path.join(directory, 'server.key'),
    clientCert: path.join(directory, 'client.crt'),
    clientKey: path.join(directory, 'client.key'),
  };
}

export type DevelopmentPkiPaths = ReturnType<typeof developmentPkiPaths>;

/** The common name of the development client certificate: the identity in logs and history. */
export const developmentClientName = 'mef-admin';

/** The names a server certificate must carry to be reached here: localhost and every address. */
function serverNames(): { dns: string[]; ip: string[] } {
  const addresses = Object.values(os.networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined)
    .map((entry) => entry.address.replace(/%.*$/, ''));
  return {
    dns: [...new Set(['localhost', os.hostname()])],
    ip: [...new Set(['127.0.0.1', '::1', ...addresses])],
  };
}

/**
 * Creates the CA, server and client certificates under `$MEF_DATA_DIR/pki/` unless they exist.
 * Returns the paths and whether they were created now. Private keys get mode 0600.
 *
 * @example const { paths, created } = await ensureDevelopmentPki('./data');
 */
export async function ensureDevelopmentPki(
  dataDir: string,
): Promise<{ paths: DevelopmentPkiPaths; created: boolean }> {
  const paths = developmentPkiPaths(dataDir);
  const existing = [paths.caCert, paths.serverCert, paths.serverKey];
  const present = await Promise.all(
    existing.map((file) =>
      access(file).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (present.every(Boolean)) return { paths, created: false };

  await mkdir(paths.directory, { recursive: true, mode: 0o700 });
  const authority = await createCertificateAuthority('MEF image config development CA');
  const server = await issueCertificate(authority, {
    commonName: 'localhost',
    subjectAltNames: serverNames(),
    usage: 'server',
  });
  const client = await issueCertificate(authority, {
    commonName: developmentClientName,
    usage: 'client',
  });

  const publicMode = 0o644;
  await writeFileAtomically(paths.caCert, authority.certificatePem, { mode: publicMode });
  await writeFileAtomically(paths.serverCert, server.certificatePem, { mode: publicMode });
  await writeFileAtomically(paths.serverKey, server.privateKeyPem, { mode: secretFileMode });
  await writeFileAtomically(paths.clientCert, client.certificatePem, { mode: publicMode });
  await writeFileAtomically(paths.clientKey, client.privateKeyPem, { mode: secretFileMode });
  return { paths, created: true };
}

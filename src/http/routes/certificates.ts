// The registry CA endpoints: import a root certificate that the service and the edge devices
// trust for a registry, and delete it again.

import type { FastifyInstance } from 'fastify';
import {
  checkImportedCertificate,
  decodeCertificateDeletion,
  decodeCertificateImport,
} from '../../domain/certificate-import.js';
import type { CertificateStore } from '../../store/certificate-store.js';
import { success } from '../envelope.js';

export const certificatePaths = {
  import: '/certmanager/v1/certificates/import',
  delete: '/certmanager/v1/certificates/delete-cert',
} as const;

/** The `msg` of each success, as MEF Center words it. */
export const certificateMessages = {
  imported: 'import certificate success',
  deleted: 'delete certificate success',
} as const;

export interface CertificateRouteOptions {
  certificates: CertificateStore;
}

export async function certificateRoutes(
  app: FastifyInstance,
  options: CertificateRouteOptions,
): Promise<void> {
  app.post(
    certificatePaths.import,
    { config: { operation: 'import certificate' } },
    async (request, reply) => {
      const imported = decodeCertificateImport(request.body);
      const certificate = await checkImportedCertificate(imported);
      const { replaced } = await options.certificates.save(imported.certName, certificate.pem);

      request.outcome = `${imported.certName} ${certificate.sha256Fingerprint} success`;
      const data = {
        certName: imported.certName,
        subject: certificate.subject,
        key: certificate.key,
        notAfter: certificate.notAfter.toISOString(),
        sha256Fingerprint: certificate.sha256Fingerprint,
        replaced,
      };
      return reply.send(success(certificateMessages.imported, { data }));
    },
  );

  app.post(
    certificatePaths.delete,
    { config: { operation: 'delete certificate' } },
    async (request, reply) => {
      const name = decodeCertificateDeletion(request.body);
      const { removed } = await options.certificates.remove(name);

      request.outcome = removed ? `${name} success` : `${name} success (none was imported)`;
      const warnings = removed ? [] : [`no ${name} certificate was imported; nothing changed`];
      return reply.send(success(certificateMessages.deleted, { warnings }));
    },
  );
}

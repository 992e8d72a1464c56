// The image download configuration endpoint: POST to configure, GET to read back.

import type { FastifyInstance } from 'fastify';
import { decodeImageConfig, validateImageConfig } from '../../domain/image-config.js';
import { RegistryCredentials } from '../../domain/registry-credentials.js';
import { hostIpv4Addresses } from '../../platform/host-addresses.js';
import type { ImageConfigStore, StoredConfiguration } from '../../store/store.js';
import { clientAddress, clientIdentity } from '../client-identity.js';
import { success } from '../envelope.js';
import {
  verificationModeOf,
  verifyBeforeSave,
  type RegistryVerificationOptions,
} from '../registry-verification.js';

export const imageConfigPath = '/edgemanager/v1/image/config';

export interface ImageConfigRouteOptions {
  store: ImageConfigStore;
  /** Edge host addresses from the settings, refused as a registry `ip`. */
  edgeHostIps: readonly string[];
  /** Refuse a password the API document advises against, instead of warning about it. */
  requireStrongPassword?: boolean;
  /** How the registry is asked about the credentials before they are saved. */
  verification: RegistryVerificationOptions;
}

/** The read-back of a configuration: every non-secret field, absent ones as null. */
export function configurationView(stored: StoredConfiguration) {
  return {
    domain: stored.fields.domain ?? null,
    ip: stored.fields.ip ?? null,
    port: stored.fields.port,
    account: stored.fields.account,
    registryAddress: stored.registryAddress,
    updatedAt: stored.updatedAt,
    updatedBy: stored.updatedBy,
    verified: stored.verified,
  };
}

/** Addresses a registry `ip` must not be: this host's, and every known edge host's. */
async function forbiddenRegistryIps(options: ImageConfigRouteOptions): Promise<Set<string>> {
  const forbidden = hostIpv4Addresses();
  for (const address of options.edgeHostIps) forbidden.add(address);
  for (const address of await options.store.edgeHostAddresses()) forbidden.add(address);
  return forbidden;
}

export async function imageConfigRoutes(
  app: FastifyInstance,
  options: ImageConfigRouteOptions,
): Promise<void> {
  app.post(
    imageConfigPath,
    { config: { operation: 'configure image registry' } },
    async (request, reply) => {
      let password: Buffer | undefined;
      try {
        const decoded = decodeImageConfig(request.body);
        request.body = undefined;
        password = decoded.password;
        const mode = verificationModeOf(request.query, options.verification.defaultMode);

        const valid = validateImageConfig(decoded, await forbiddenRegistryIps(options), {
          requireStrongPassword: options.requireStrongPassword,
        });
        const { fields } = valid;
        const credentials = new RegistryCredentials(
          fields.domain ?? fields.ip!,
          fields.port,
          fields.account,
          valid.password,
        );
        const verification = await verifyBeforeSave(
          credentials,
          fields,
          mode,
          options.verification,
          request.log,
        );
        await options.store.save({
          fields,
          credentials,
          updatedBy: clientIdentity(request),
          clientIp: clientAddress(request),
          updatedAt: new Date(),
          verified: verification.verified,
        });
        const warnings = [...valid.warnings, ...verification.warnings];
        // The operation log keeps what the caller was warned about, a weak password among it,
        // but never the account: a password equal to it is exactly what that warning is about.
        request.outcome = [`${credentials.address} success`, ...warnings].join('; ');
        return reply.send(success('success', { warnings }));
      } finally {
        password?.fill(0);
      }
    },
  );

  app.get(imageConfigPath, async () => {
    const stored = await options.store.read();
    return success('success', { data: stored === null ? null : configurationView(stored) });
  });
}

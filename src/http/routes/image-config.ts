// The image download configuration endpoint: POST /edgemanager/v1/image/config.

import type { FastifyInstance } from 'fastify';
import { decodeImageConfig, validateImageConfig } from '../../domain/image-config.js';
import { RegistryCredentials } from '../../domain/registry-credentials.js';
import { hostIpv4Addresses } from '../../platform/host-addresses.js';
import type { ImageConfigStore } from '../../store/store.js';
import { clientAddress, clientIdentity } from '../client-identity.js';
import { success } from '../envelope.js';

export const imageConfigPath = '/edgemanager/v1/image/config';

export interface ImageConfigRouteOptions {
  store: ImageConfigStore;
  /** Edge host addresses from the settings, refused as a registry `ip`. */
  edgeHostIps: readonly string[];
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

        const valid = validateImageConfig(decoded, await forbiddenRegistryIps(options));
        const { fields } = valid;
        const credentials = new RegistryCredentials(
          fields.domain ?? fields.ip!,
          fields.port,
          fields.account,
          valid.password,
        );
        await options.store.save({
          fields,
          credentials,
          updatedBy: clientIdentity(request),
          clientIp: clientAddress(request),
          updatedAt: new Date(),
        });
        request.outcome = `${fields.account}@${credentials.address} success`;
        return reply.send(success('success', { warnings: valid.warnings }));
      } finally {
        password?.fill(0);
      }
    },
  );
}

// The HTTPS API listener: mutual TLS, the JSON body rules, the envelope and the operation log.

import Fastify, { LogController } from 'fastify';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { ApiError, StatusCode } from '../domain/status.js';
import type { ImageConfigStore } from '../store/store.js';
import { clientAddress, clientIdentity } from './client-identity.js';
import { errorEnvelope, maxBodyBytes } from './envelope.js';
import { imageConfigRoutes } from './routes/image-config.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What a state-changing call achieved, for the operation log. */
    outcome?: string;
  }
  interface FastifyContextConfig {
    /** Names a state-changing route in the operation log. */
    operation?: string;
  }
}

/** TLS 1.2 suites: ECDHE key exchange with AES-GCM only. TLS 1.3 suites are all AEAD. */
export const tls12Ciphers = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
].join(':');

export interface ApiServerOptions {
  tls: Pick<SecureContextOptions, 'cert' | 'key' | 'ca'>;
  store: ImageConfigStore;
  edgeHostIps: readonly string[];
  logger: Logger;
  /** The operation log; defaults to `logger`. */
  operations?: Logger;
}

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new ApiError(StatusCode.badBody, 400, 'body: must not be empty');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(StatusCode.badBody, 400, 'body: must be valid JSON');
  } finally {
    // The raw body holds the password's digits.
    body.fill(0);
  }
}

/**
 * Builds the API server. Clients without a certificate signed by the client CA are refused in
 * the TLS handshake, before any HTTP is read.
 */
export async function buildApiServer(options: ApiServerOptions) {
  const operations = options.operations ?? options.logger;
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: maxBodyBytes,
    https: {
      ...options.tls,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ciphers: tls12Ciphers,
      honorCipherOrder: true,
    },
  });

  const allowedMethods = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = allowedMethods.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    allowedMethods.set(route.url, methods);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const { httpStatus, envelope } = errorEnvelope(error);
    if (httpStatus >= 500) {
      request.log.error({ err: error, route: request.routeOptions.url }, envelope.msg);
    }
    request.outcome = `failed: ${envelope.msg}`;
    return reply.code(httpStatus).send(envelope);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const methods = allowedMethods.get(path);
    if (methods !== undefined) {
      return reply
        .code(405)
        .header('Allow', [...methods].join(', '))
        .send({ status: StatusCode.notFound, msg: `method ${request.method} not allowed` });
    }
    return reply.code(404).send({ status: StatusCode.notFound, msg: `no such path: ${path}` });
  });

  app.addHook('onResponse', async (request, reply) => {
    const fields = {
      event: 'request',
      client: clientIdentity(request),
      clientIp: clientAddress(request),
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0],
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    };
    request.log.info(fields, 'request');
    const operation = request.routeOptions.config?.operation;
    if (operation !== undefined) {
      const result = request.outcome ?? `answered ${reply.statusCode}`;
      operations.info(
        { event: 'operation', client: fields.client, clientIp: fields.clientIp, operation },
        `${fields.client}@${fields.clientIp} ${operation} ${result}`,
      );
    }
  });

  await app.register(imageConfigRoutes, {
    store: options.store,
    edgeHostIps: options.edgeHostIps,
  });
  return app;
}

export type ApiServer = Awaited<ReturnType<typeof buildApiServer>>;

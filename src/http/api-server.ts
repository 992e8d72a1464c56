// The HTTPS API listener: mutual TLS, the JSON body rules, the envelope and the operation log.

import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import type { LimitSettings } from '../config/settings.js';
import { ApiError, StatusCode } from '../domain/status.js';
import type { TlsFiles, TlsMaterial } from '../pki/tls-material.js';
import type { CertificateStore } from '../store/certificate-store.js';
import type { ImageConfigStore } from '../store/store.js';
import { clientAddress, clientIdentity, rememberClientAddresses } from './client-identity.js';
import { errorEnvelope, maxBodyBytes } from './envelope.js';
import { applyRequestLimits, slowClientServerOptions } from './limits.js';
import {
  answerFrameworkError,
  answerUnparsableRequest,
  emptyBodyError,
  refuseMissingBody,
  refuseUnreadableBody,
} from './malformed-requests.js';
import { observeApiServer, type ServiceMetrics } from './metrics.js';
import type { RegistryVerificationOptions } from './registry-verification.js';
import { certificateRoutes } from './routes/certificates.js';
import { imageConfigRoutes } from './routes/image-config.js';
import { applySecurityHeaders } from './security-headers.js';
import { applyTlsPolicy, httpsServerOptions } from './tls-policy.js';

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

export { tls12Ciphers } from './tls-policy.js';

export interface ApiServerOptions {
  tls: TlsMaterial;
  /** Where `tls` came from: watched, and reloaded when a file changes. */
  tlsFiles?: TlsFiles;
  limits: LimitSettings;
  /** Refuse a weak password instead of warning about it. */
  requireStrongPassword?: boolean;
  store: ImageConfigStore;
  /** Imported registry CA certificates. */
  certificates: CertificateStore;
  /** How registry credentials are verified before they are saved. */
  verification: Omit<RegistryVerificationOptions, 'certificates'>;
  edgeHostIps: readonly string[];
  logger: Logger;
  /** The operation log; defaults to `logger`. */
  operations?: Logger;
  /** Counts requests, store errors and refused TLS handshakes when given. */
  metrics?: ServiceMetrics;
}

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw emptyBodyError();
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
    https: { ...httpsServerOptions(options.tls), ...slowClientServerOptions(options.limits) },
    // A call arriving on a kept-alive connection during a stop is answered as usual, with
    // `Connection: close`, rather than with a bare 503 outside the envelope.
    return503OnClosing: false,
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerUnparsableRequest(options.logger),
  });
  rememberClientAddresses(app.server);
  await applySecurityHeaders(app);
  await applyRequestLimits(app, options.limits, (limit) =>
    options.metrics?.recordRateLimitRefusal(limit),
  );
  applyTlsPolicy(app, options.tlsFiles);

  const allowedMethods = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = allowedMethods.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    allowedMethods.set(route.url, methods);
  });

  app.addHook('preParsing', refuseUnreadableBody);
  app.addHook('preValidation', refuseMissingBody);
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

  if (options.metrics !== undefined) {
    observeApiServer(app, options.metrics, options.store.kind);
  }

  await app.register(imageConfigRoutes, {
    store: options.store,
    edgeHostIps: options.edgeHostIps,
    requireStrongPassword: options.requireStrongPassword,
    verification: { ...options.verification, certificates: options.certificates },
  });
  await app.register(certificateRoutes, { certificates: options.certificates });
  return app;
}

export type ApiServer = Awaited<ReturnType<typeof buildApiServer>>;

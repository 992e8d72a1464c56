// Security headers on every answer of the API listener, refusals and errors included.

import fastifyHelmet from '@fastify/helmet';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpsApp } from './tls-policy.js';

/** The API serves JSON only: nothing may be loaded, framed or kept by a cache. */
export const securityHeaders = {
  /** As helmet writes it: directives separated by `;` alone. */
  contentSecurityPolicy: "default-src 'none';frame-ancestors 'none'",
  /** One year, subdomains included: a client that once reached the API never falls back. */
  strictTransportSecurityMaxAgeSeconds: 31_536_000,
  cacheControl: 'no-store',
} as const;

// Checked against helmet's own options: @fastify/helmet sees helmet's types through a second
// (CommonJS) declaration file, which TypeScript holds to be a different type.
const helmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
  frameguard: { action: 'deny' },
  hsts: {
    maxAge: securityHeaders.strictTransportSecurityMaxAgeSeconds,
    includeSubDomains: true,
  },
} satisfies HelmetOptions;

/** The headers helmet writes with `helmetOptions`, collected once by running it. */
function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string) => (headers[name] = String(value)),
    removeHeader: (name: string) => delete headers[name],
  };
  helmet(helmetOptions)(
    {} as IncomingMessage,
    response as unknown as ServerResponse,
    (error?: unknown) => {
      if (error !== undefined) throw error as Error;
    },
  );
  return headers;
}

/**
 * Every security header of an answer, for answers written before or outside Fastify's request
 * hooks: a request line Fastify cannot route, or one Node cannot parse at all.
 */
export const securityHeaderSet: Readonly<Record<string, string>> = Object.freeze({
  ...helmetHeaders(),
  'Cache-Control': securityHeaders.cacheControl,
});

/**
 * Adds HSTS, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, a Content-Security-
 * Policy that allows nothing and `Cache-Control: no-store` to every answer. Call it before the
 * routes are added.
 *
 * @example await applySecurityHeaders(app);
 */
export async function applySecurityHeaders(app: HttpsApp): Promise<void> {
  await app.register(fastifyHelmet, { global: true, ...helmetOptions });
  app.addHook('onRequest', async (_request, reply) => {
    // Answers carry configuration and refusals that no proxy or browser should keep.
    reply.raw.setHeader('cache-control', securityHeaders.cacheControl);
  });
}

// Security headers on every answer of the API listener, refusals and errors included.

import helmet from '@fastify/helmet';
import type { HttpsApp } from './tls-policy.js';

/** The API serves JSON only: nothing may be loaded, framed or kept by a cache. */
export const securityHeaders = {
  /** As helmet writes it: directives separated by `;` alone. */
  contentSecurityPolicy: "default-src 'none';frame-ancestors 'none'",
  /** One year, subdomains included: a client that once reached the API never falls back. */
  strictTransportSecurityMaxAgeSeconds: 31_536_000,
  cacheControl: 'no-store',
} as const;

/**
 * Adds HSTS, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, a Content-Security-
 * Policy that allows nothing and `Cache-Control: no-store` to every answer. Call it before the
 * routes are added.
 *
 * @example await applySecurityHeaders(app);
 */
export async function applySecurityHeaders(app: HttpsApp): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    hsts: {
      maxAge: securityHeaders.strictTransportSecurityMaxAgeSeconds,
      includeSubDomains: true,
    },
  });
  app.addHook('onRequest', async (_request, reply) => {
    // Answers carry configuration and refusals that no proxy or browser should keep.
    reply.raw.setHeader('cache-control', securityHeaders.cacheControl);
  });
}

// The API listener's TLS policy: TLS 1.2 and 1.3 only, ECDHE with AES-GCM under TLS 1.2, client
// certificates checked against the client CA and its CRL. Certificates and CRL are reloaded when
// their files change, without a restart and without dropping a connection.

import type { FastifyInstance } from 'fastify';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { loadTlsMaterial, type TlsFiles, type TlsMaterial } from '../pki/tls-material.js';
import { socketAddress } from './client-identity.js';

/** The Fastify instance of the API listener: HTTPS, logging through the service's logger. */
export type HttpsApp = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, Logger>;

export const tlsVersions = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const;

/** TLS 1.2 suites: ECDHE key exchange with AES-GCM only. */
export const tls12Ciphers = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
].join(':');

/** TLS 1.3 suites are all AEAD with ephemeral key exchange; OpenSSL's set, written out. */
export const tls13Ciphers = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
].join(':');

/** How often the TLS files are looked at for a change. */
export const tlsFilePollIntervalMs = 1000;

/** A certificate and its key are often replaced one after the other: reload once, after both. */
const settleMs = 200;

/**
 * Every part of the policy that lives in a secure context. A reload passes all of it again,
 * because Node's setSecureContext resets whatever it is not given to OpenSSL's defaults.
 */
function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  const { cert, key, ca, crl } = material;
  return {
    cert,
    key,
    ca,
    crl,
    ...tlsVersions,
    ciphers: `${tls13Ciphers}:${tls12Ciphers}`,
    honorCipherOrder: true,
  };
}

/**
 * The HTTPS options of the API listener. Clients without a certificate signed by the client CA,
 * or with a revoked or expired one, are refused before any HTTP is read.
 */
export function httpsServerOptions(material: TlsMaterial): ServerOptions {
  return { ...secureContextOptions(material), requestCert: true, rejectUnauthorized: true };
}

/** Logs each refused handshake with the reason OpenSSL gave, e.g. `CERT_REVOKED`. */
function logRefusals(app: HttpsApp): void {
  const { server } = app;
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    const verifyError = socket.authorizationError as unknown as string | undefined;
    const reason = verifyError ?? error.code ?? error.message;
    const fields = {
      event: 'tls.refused',
      clientIp: socketAddress(socket),
      reason,
    };
    // A client that hangs up mid-handshake (a port probe) is not worth an operator's attention.
    if (verifyError === undefined && error.code === 'ECONNRESET') {
      app.log.debug(fields, `TLS handshake abandoned by the client`);
      return;
    }
    app.log.warn(fields, `refused a TLS handshake: ${reason}`);
  });
}

/** Watches the TLS files and swaps in a new secure context when they change. */
function reloadOnChange(app: HttpsApp, files: TlsFiles, pollIntervalMs: number): void {
  const { server } = app;
  const paths = [...new Set([files.cert, files.key, files.clientCa, files.crl])].filter(
    (file): file is string => file !== undefined,
  );
  let timer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();

  const reload = async () => {
    try {
      const material = await loadTlsMaterial(files);
      server.setSecureContext(secureContextOptions(material));
      app.log.info(
        { event: 'tls.reloaded', crlNextUpdate: material.crlNextUpdate?.toISOString() },
        'reloaded the TLS certificates and CRL; new handshakes use them',
      );
    } catch (error) {
      app.log.error(
        { event: 'tls.reload_failed', reason: (error as Error).message },
        `kept the previous TLS certificates and CRL: ${(error as Error).message}`,
      );
    }
  };
  const changed = (current: Stats, previous: Stats) => {
    const same =
      current.mtimeMs === previous.mtimeMs &&
      current.ino === previous.ino &&
      current.size === previous.size;
    if (same) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      reloading = reloading.then(reload);
    }, settleMs);
  };

  for (const file of paths) {
    watchFile(file, { interval: pollIntervalMs, persistent: false }, changed);
  }
  app.addHook('onClose', async () => {
    for (const file of paths) unwatchFile(file, changed);
    clearTimeout(timer);
    await reloading;
  });
}

/**
 * Logs refused handshakes and, given the files, reloads them on change. A file that cannot be
 * used keeps the previous certificates and CRL in place and logs an error naming it.
 *
 * @example applyTlsPolicy(app, { cert, key, clientCa, crl });
 */
export function applyTlsPolicy(
  app: HttpsApp,
  files?: TlsFiles,
  pollIntervalMs = tlsFilePollIntervalMs,
): void {
  logRefusals(app);
  if (files !== undefined) reloadOnChange(app, files, pollIntervalMs);
}

// The files a TLS server loads, read and checked together, so that a mistake in one of them is
// caught before the server uses it: a key that does not match its certificate, a client CA file
// without a certificate, or a CRL that would lock every client out.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { x509 } from './x509.js';

/** Where the server's TLS material lives. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** The CA that signs the client certificates allowed to call. */
  clientCa: string;
  /** The client CA's certificate revocation list (PEM), when revocation is checked. */
  crl?: string;
}

/** The content of {@link TlsFiles}, named as Node's TLS options name it. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  crl?: Buffer;
  /** When the CRL says a newer one will be out; every client is refused after it. */
  crlNextUpdate?: Date;
}

/** A TLS file that cannot be used; the message names the file and the problem. */
export class TlsMaterialError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'TlsMaterialError';
  }
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificatesIn(file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(pemCertificate) ?? [];
  if (blocks.length === 0) throw new TlsMaterialError(file, 'holds no PEM certificate');
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    throw new TlsMaterialError(file, 'holds a PEM certificate that cannot be read');
  }
}

async function readTlsFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new TlsMaterialError(file, `cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
}

function checkKeyPair(files: TlsFiles, cert: Buffer, key: Buffer): void {
  const [leaf] = certificatesIn(files.cert, cert);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsMaterialError(files.key, 'holds no PEM private key that can be read');
  }
  if (!leaf!.checkPrivateKey(privateKey)) {
    throw new TlsMaterialError(files.key, `does not match the certificate in ${files.cert}`);
  }
}

/** A CRL from another CA, or one past its next update, makes OpenSSL refuse every client. */
async function checkRevocationList(
  file: string,
  pem: Buffer,
  authorities: X509Certificate[],
  now: Date,
): Promise<Date | undefined> {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(pem.toString('latin1'));
  } catch {
    throw new TlsMaterialError(file, 'holds no PEM certificate revocation list (X509 CRL)');
  }
  let signed = false;
  for (const authority of authorities) {
    const issuer = new x509.X509Certificate(authority.raw);
    if (issuer.subject !== crl.issuer) continue;
    if (await crl.verify({ publicKey: issuer }).catch(() => false)) signed = true;
  }
  if (!signed) {
    throw new TlsMaterialError(file, 'is not signed by a certificate of the client CA file');
  }
  if (crl.nextUpdate !== undefined && crl.nextUpdate <= now) {
    throw new TlsMaterialError(
      file,
      `expired at ${crl.nextUpdate.toISOString()}; with it every client would be refused`,
    );
  }
  return crl.nextUpdate;
}

/**
 * Reads the TLS files and checks that they belong together and that OpenSSL accepts them.
 * Throws a {@link TlsMaterialError} naming the first file that cannot be used.
 *
 * @example const material = await loadTlsMaterial({ cert, key, clientCa, crl });
 */
export async function loadTlsMaterial(files: TlsFiles, now = new Date()): Promise<TlsMaterial> {
  const [cert, key, ca, crl] = await Promise.all([
    readTlsFile(files.cert),
    readTlsFile(files.key),
    readTlsFile(files.clientCa),
    files.crl === undefined ? undefined : readTlsFile(files.crl),
  ]);
  checkKeyPair(files, cert, key);
  const authorities = certificatesIn(files.clientCa, ca);
  const material: TlsMaterial = { cert, key, ca };
  if (files.crl !== undefined && crl !== undefined) {
    material.crlNextUpdate = await checkRevocationList(files.crl, crl, authorities, now);
    material.crl = crl;
  }

  try {
    createSecureContext({ cert, key, ca, crl });
  } catch (error) {
    const file = /CRL/i.test((error as Error).message) && files.crl ? files.crl : files.cert;
    throw new TlsMaterialError(file, `is refused by OpenSSL (${(error as Error).message})`);
  }
  return material;
}

// Imported CA certificates as files in the data directory: `certs/<name>.crt`, and the one it
// replaced as `certs/<name>.crt.bak`.

import { chmod, mkdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { CertificateName } from '../domain/certificate-import.js';
import { writeFileAtomically } from '../files/atomic-write.js';
import { certificateEntries, type CertificateStore } from './certificate-store.js';
import { StoreError } from './store.js';

/** The directory inside the data directory, and the modes: certificates are public. */
export const certificateFiles = {
  directory: 'certs',
  directoryMode: 0o755,
  fileMode: 0o644,
} as const;

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).name;
}

/**
 * Keeps certificates under `$MEF_DATA_DIR/certs/`. Each file is replaced atomically; the backup
 * is written before the certificate, so a crash in between leaves the old certificate in use.
 *
 * @example const store = new FileCertificateStore({ dataDir: '/var/lib/mef' });
 */
export class FileCertificateStore implements CertificateStore {
  readonly kind = 'files';
  readonly location: string;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(options: { dataDir: string }) {
    this.location = path.join(options.dataDir, certificateFiles.directory);
  }

  /** The paths of `name`'s certificate and its backup. */
  paths(name: CertificateName): { current: string; backup: string } {
    const { current, backup } = certificateEntries(name);
    return { current: path.join(this.location, current), backup: path.join(this.location, backup) };
  }

  async read(name: CertificateName): Promise<string | null> {
    const file = this.paths(name).current;
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return null;
      throw new StoreError(`cannot read ${this.relative(file)} (${errorCode(error)})`);
    }
  }

  save(name: CertificateName, pem: string): Promise<{ replaced: boolean }> {
    return this.serialised(async () => {
      const { current, backup } = this.paths(name);
      await this.ensureDirectory();
      const previous = await this.read(name);
      if (previous !== null) await this.write(backup, previous);
      await this.write(current, pem);
      return { replaced: previous !== null };
    });
  }

  remove(name: CertificateName): Promise<{ removed: boolean }> {
    return this.serialised(async () => {
      const { current, backup } = this.paths(name);
      const previous = await this.read(name);
      if (previous === null) return { removed: false };
      await this.write(backup, previous);
      try {
        await unlink(current);
      } catch (error) {
        throw new StoreError(`cannot remove ${this.relative(current)} (${errorCode(error)})`);
      }
      return { removed: true };
    });
  }

  /** Changes run one at a time, so a backup always holds the certificate that came before. */
  private serialised<T>(change: () => Promise<T>): Promise<T> {
    const run = this.pending.then(change);
    this.pending = run.catch(() => undefined);
    return run;
  }

  private async ensureDirectory(): Promise<void> {
    try {
      const created = await mkdir(this.location, { recursive: true });
      // The mode given to mkdir() is filtered by the umask; an existing directory is left as is.
      if (created !== undefined) await chmod(this.location, certificateFiles.directoryMode);
    } catch (error) {
      const directory = `${certificateFiles.directory}/`;
      throw new StoreError(`cannot create the directory ${directory} (${errorCode(error)})`);
    }
  }

  private async write(file: string, pem: string): Promise<void> {
    try {
      await writeFileAtomically(file, pem, { mode: certificateFiles.fileMode });
    } catch (error) {
      throw new StoreError(`cannot write ${this.relative(file)} (${errorCode(error)})`);
    }
  }

  /** `certs/image.crt`: what a message names, without the operator's directory layout. */
  private relative(file: string): string {
    return path.join(certificateFiles.directory, path.basename(file));
  }
}

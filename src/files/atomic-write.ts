// Durable file replacement: every file that holds a secret is written through here.

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Files that hold a secret (a password, a private key, an encryption key) get this mode. */
export const secretFileMode = 0o600;

/**
 * Writes `data` to `target` so that a reader sees either the old file or the whole new one,
 * never a mix, and the new content survives a crash once this resolves: temp file in the same
 * directory, fsync, rename, fsync of the directory.
 *
 * @example await writeFileAtomically('/data/dockerconfig.json', bytes, { mode: secretFileMode });
 */
export async function writeFileAtomically(
  target: string,
  data: Uint8Array | string,
  options: { mode: number; uid?: number; gid?: number },
): Promise<void> {
  const staged = await stageFile(target, data, options);
  try {
    await commitStagedFile(staged, target);
  } catch (error) {
    await unlink(staged).catch(() => undefined);
    throw error;
  }
}

/**
 * The first half of {@link writeFileAtomically}: the content is durable in a temp file beside
 * `target`, whose path is returned. The caller renames it in with {@link commitStagedFile} or
 * removes it.
 */
export async function stageFile(
  target: string,
  data: Uint8Array | string,
  options: { mode: number; uid?: number; gid?: number },
): Promise<string> {
  const staged = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const handle = await open(staged, 'wx', options.mode);
  try {
    // The mode given to open() is filtered by the umask; set it exactly.
    await handle.chmod(options.mode);
    if (options.uid !== undefined && options.gid !== undefined) {
      await handle.chown(options.uid, options.gid);
    }
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(staged).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return staged;
}

/** The second half of {@link writeFileAtomically}: rename the staged file in, durably. */
export async function commitStagedFile(staged: string, target: string): Promise<void> {
  await rename(staged, target);
  await syncDirectory(path.dirname(target));
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

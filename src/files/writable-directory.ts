// Creates a directory the service keeps its files in, or says plainly why it cannot.

import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** A directory that cannot be created or written; the message names the path and the cause. */
export class WritableDirectoryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WritableDirectoryError';
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'unexpected error';
}

/** The directory itself or its closest ancestor that exists. */
async function nearestExisting(directory: string): Promise<string> {
  for (let current = directory; ; current = path.dirname(current)) {
    try {
      await stat(current);
      return current;
    } catch (error) {
      // ENOTDIR: a file stands where a parent should be; the caller names that file.
      const absent = ['ENOENT', 'ENOTDIR'].includes(codeOf(error));
      if (!absent || path.dirname(current) === current) throw error;
    }
  }
}

/**
 * Makes `directory` and its missing parents with `mode`, then checks that it can be written.
 * Each level is made on its own rather than with `mkdir -p`: under `/proc`, Node 20's recursive
 * mkdir never returns, since the kernel answers ENOENT for a parent that exists.
 *
 * @example await createWritableDirectory('/var/lib/mef', 0o700);
 */
export async function createWritableDirectory(directory: string, mode: number): Promise<void> {
  const target = path.resolve(directory);
  let existing: string;
  try {
    existing = await nearestExisting(target);
  } catch (error) {
    throw new WritableDirectoryError(`${target} cannot be looked up (${codeOf(error)})`, {
      cause: error,
    });
  }
  if (!(await stat(existing)).isDirectory()) {
    const problem = `${existing} is not a directory`;
    throw new WritableDirectoryError(`${target} cannot be created: ${problem}`);
  }
  try {
    await access(existing, constants.W_OK | constants.X_OK);
  } catch (error) {
    const which = existing === target ? target : `its parent ${existing}`;
    throw new WritableDirectoryError(`${which} is not writable (${codeOf(error)})`, {
      cause: error,
    });
  }

  const missing = path.relative(existing, target).split(path.sep).filter(Boolean);
  let current = existing;
  for (const name of missing) {
    current = path.join(current, name);
    try {
      await mkdir(current, { mode });
    } catch (error) {
      if (codeOf(error) === 'EEXIST') continue;
      throw new WritableDirectoryError(`${current} cannot be created (${codeOf(error)})`, {
        cause: error,
      });
    }
  }
}

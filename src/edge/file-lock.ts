// Serializes mef-edge runs that change the same files: a lock directory beside them, waited for.

import { lock } from 'proper-lockfile';
import { EdgeError, ExitCode } from './edge-error.js';

/** How long a run waits for another one to finish before it gives up with exit code 5. */
export const defaultLockWaitSeconds = 10;

/** How often a waiting run tries again. */
const retryIntervalMs = 100;

/**
 * Runs `action` while holding the lock `lockPath` (a directory, created atomically by mkdir, so it
 * works on any local file system). A lock whose holder died is taken over after 10 seconds.
 *
 * @example await withFileLock('/etc/hosts.lock', 10, () => rewriteHostsFile());
 */
export async function withFileLock<T>(
  lockPath: string,
  waitSeconds: number,
  action: () => Promise<T>,
): Promise<T> {
  const waitMs = Math.max(0, waitSeconds * 1000);
  let release: () => Promise<void>;
  try {
    release = await lock(lockPath, {
      lockfilePath: lockPath,
      realpath: false,
      retries: {
        retries: Math.ceil(waitMs / retryIntervalMs),
        factor: 1,
        minTimeout: retryIntervalMs,
        maxTimeout: retryIntervalMs,
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new EdgeError(
        ExitCode.lockBusy,
        `lock ${lockPath}: still held by another mef-edge run after ${waitSeconds} s; ` +
          'try again once it has finished',
      );
    }
    throw new EdgeError(ExitCode.failure, `lock ${lockPath}: ${(error as Error).message}`);
  }

  try {
    return await action();
  } finally {
    await release();
  }
}

// All-or-nothing changes to a few files: each replaced file keeps its mode and owner and leaves
// its previous version in `<file>.bak`; a failure at any step puts every file back as it was.

import { lstat, mkdir, chmod, readFile, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { commitStagedFile, stageFile, writeFileAtomically } from './atomic-write.js';

/** The suffix of the one backup kept beside a replaced file. */
export const backupSuffix = '.bak';

/** A file as it was before the transaction; undefined stands for "did not exist". */
interface FileState {
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

type Change =
  | { kind: 'write'; target: string; data: Buffer; newFileMode: number }
  | { kind: 'delete'; target: string };

/** One rename or unlink of the commit phase, with the state that undoes it. */
interface Step {
  apply: () => Promise<void>;
  file: string;
  previous: FileState | undefined;
}

/**
 * Collects changes, then applies them with {@link FileTransaction.commit}: every new version is
 * staged (temp file, fsync) before the first rename, so a full disk or a permission error
 * changes nothing. Writes that would not change a file's bytes are skipped.
 *
 * @example
 * await new FileTransaction()
 *   .createDirectory('/etc/docker/certs.d/reg:5000', 0o755)
 *   .write('/etc/docker/certs.d/reg:5000/ca.crt', pem, { newFileMode: 0o644 })
 *   .commit();
 */
export class FileTransaction {
  private readonly directories: { directory: string; mode: number }[] = [];
  private readonly changes: Change[] = [];
  private readonly prunable: string[] = [];

  /** Creates `directory` and any missing parent with `mode`, before anything is written. */
  createDirectory(directory: string, mode: number): this {
    this.directories.push({ directory, mode });
    return this;
  }

  /**
   * Replaces `target` (the file a symlink points at) with `data`. An existing file keeps its
   * mode and owner and its bytes move to `<target>.bak`; a new file gets `newFileMode`.
   */
  write(target: string, data: Uint8Array | string, options: { newFileMode: number }): this {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    this.changes.push({ kind: 'write', target, data: bytes, newFileMode: options.newFileMode });
    return this;
  }

  /** Deletes `target` and its backup; a file that is already absent is fine. */
  delete(target: string): this {
    this.changes.push({ kind: 'delete', target });
    return this;
  }

  /** Removes `directory` after the changes when nothing is left in it. */
  removeDirectoryIfEmpty(directory: string): this {
    this.prunable.push(directory);
    return this;
  }

  /** Applies every change, or none: on failure the files are restored and the error rethrown. */
  async commit(): Promise<void> {
    const createdDirectories: string[] = [];
    const stagedFiles: string[] = [];
    const steps: Step[] = [];
    const discardStaging = async () => {
      for (const staged of stagedFiles) await unlink(staged).catch(() => undefined);
      for (const directory of createdDirectories.reverse()) {
        await rmdir(directory).catch(() => undefined);
      }
    };

    try {
      for (const { directory, mode } of this.directories) {
        createdDirectories.push(...(await createMissingDirectories(directory, mode)));
      }
      for (const change of this.changes) {
        steps.push(...(await this.prepare(change, stagedFiles)));
      }
    } catch (error) {
      await discardStaging();
      throw error;
    }

    const applied: Step[] = [];
    try {
      for (const step of steps) {
        await step.apply();
        applied.push(step);
      }
    } catch (error) {
      for (const step of applied.reverse()) {
        await restore(step.file, step.previous).catch(() => undefined);
      }
      await discardStaging();
      throw error;
    }

    for (const directory of this.prunable) await removeIfEmpty(directory);
  }

  private async prepare(change: Change, stagedFiles: string[]): Promise<Step[]> {
    if (change.kind === 'delete') {
      const backup = change.target + backupSuffix;
      const previous = await readState(change.target);
      const previousBackup = await readState(backup);
      return [
        { file: change.target, previous, apply: () => unlinkIfPresent(change.target) },
        { file: backup, previous: previousBackup, apply: () => unlinkIfPresent(backup) },
      ];
    }

    const target = await resolveSymlinks(change.target);
    const backup = target + backupSuffix;
    const previous = await readState(target);
    if (previous !== undefined && previous.content.equals(change.data)) return [];

    const steps: Step[] = [];
    if (previous !== undefined) {
      const stagedBackup = await stageFile(backup, previous.content, ownership(previous));
      stagedFiles.push(stagedBackup);
      steps.push({
        file: backup,
        previous: await readState(backup),
        apply: () => commitStagedFile(stagedBackup, backup),
      });
    }
    const options = previous === undefined ? { mode: change.newFileMode } : ownership(previous);
    const staged = await stageFile(target, change.data, options);
    stagedFiles.push(staged);
    steps.push({ file: target, previous, apply: () => commitStagedFile(staged, target) });
    return steps;
  }
}

function ownership(state: FileState): { mode: number; uid: number; gid: number } {
  return { mode: state.mode, uid: state.uid, gid: state.gid };
}

async function readState(file: string): Promise<FileState | undefined> {
  try {
    const info = await stat(file);
    const content = await readFile(file);
    return { content, mode: info.mode & 0o7777, uid: info.uid, gid: info.gid };
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

async function restore(file: string, state: FileState | undefined): Promise<void> {
  if (state === undefined) {
    await unlinkIfPresent(file);
    return;
  }
  await writeFileAtomically(file, state.content, ownership(state));
}

/** Replacing a symlink with a regular file would cut the link, so the file it points at wins. */
async function resolveSymlinks(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return file;
    throw error;
  }
}

/** Creates each missing directory of `directory`'s path with `mode`, outermost first. */
async function createMissingDirectories(directory: string, mode: number): Promise<string[]> {
  const missing: string[] = [];
  for (let current = path.resolve(directory); ; current = path.dirname(current)) {
    if (await exists(current)) break;
    missing.unshift(current);
    if (path.dirname(current) === current) break;
  }
  for (const created of missing) {
    await mkdir(created);
    // mkdir's mode is filtered by the umask; set it exactly.
    await chmod(created, mode);
  }
  return missing;
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return false;
    throw error;
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
}

async function removeIfEmpty(directory: string): Promise<void> {
  try {
    await rmdir(directory);
  } catch (error) {
    if (!isCode(error, 'ENOENT') && !isCode(error, 'ENOTEMPTY') && !isCode(error, 'EEXIST')) {
      throw error;
    }
  }
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

// The embedded store: SQLite holds the configuration with the password encrypted, and the
// effect is a standard Docker config file derived from it.

import Database from 'better-sqlite3';
import { mkdir, open as openFile, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { registryAddress, type ImageConfigFields } from '../domain/image-config.js';
import { emptyDockerConfigJson, RegistryCredentials } from '../domain/registry-credentials.js';
import {
  commitStagedFile,
  secretFileMode,
  stageFile,
  writeFileAtomically,
} from '../files/atomic-write.js';
import { PasswordCipher, type SealedPassword } from './password-cipher.js';
import {
  StoreError,
  type ConfigurationChange,
  type ImageConfigStore,
  type StoredConfiguration,
} from './store.js';

/** File names inside the data directory, written once for the code and the README. */
export const dataFiles = {
  database: 'mef.db',
  key: 'secret.key',
  dockerConfig: 'dockerconfig.json',
} as const;

/** Points where a test makes a save fail, to prove that nothing is half-applied. */
export interface StoreFaults {
  /** After the new Docker config is staged, before the database commit. */
  beforeCommit?: () => void | Promise<void>;
  /** After the database commit, before the Docker config is renamed into place. */
  afterCommit?: () => void | Promise<void>;
}

/** A save waiting for the next write, and how to tell its caller the outcome. */
interface QueuedSave {
  change: ConfigurationChange;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface SqliteStoreOptions {
  dataDir: string;
  logger: Logger;
  faults?: StoreFaults;
}

interface ConfigRow {
  domain: string | null;
  ip: string | null;
  port: number;
  account: string;
  registry_address: string;
  password_iv: Buffer;
  password_ciphertext: Buffer;
  password_tag: Buffer;
  updated_at: string;
  updated_by: string;
  verified: number | null;
}

const schema = `
  CREATE TABLE IF NOT EXISTS image_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    domain TEXT,
    ip TEXT,
    port INTEGER NOT NULL,
    account TEXT NOT NULL,
    registry_address TEXT NOT NULL,
    password_iv BLOB NOT NULL,
    password_ciphertext BLOB NOT NULL,
    password_tag BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    verified INTEGER
  );
  CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at TEXT NOT NULL,
    client_identity TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    registry_address TEXT NOT NULL,
    account TEXT NOT NULL
  );
`;

/** One history entry: who changed the configuration, from where, to what. Never the password. */
export interface HistoryEntry {
  changedAt: string;
  clientIdentity: string;
  clientIp: string;
  registryAddress: string;
  account: string;
}

/** Binds a sealed password to the row it belongs to. */
function associatedData(row: Pick<ConfigRow, 'registry_address' | 'account'>): string {
  return `${row.registry_address}\n${row.account}`;
}

/** The sealed password a row holds. */
function sealedPassword(row: ConfigRow): SealedPassword {
  return { iv: row.password_iv, ciphertext: row.password_ciphertext, tag: row.password_tag };
}

/** A short, safe reason for a client: the system error code, never a free-form message. */
function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'unexpected error';
}

/**
 * SQLite at `$MEF_DATA_DIR/mef.db` with `dockerconfig.json` beside it. The database is the
 * truth; the file is derived from it and repaired from it at start-up.
 */
export class SqliteStore implements ImageConfigStore {
  readonly kind = 'sqlite';
  readonly databasePath: string;
  readonly dockerConfigPath: string;
  readonly location: string;
  private readonly keyPath: string;
  private database?: Database.Database;
  private cipher?: PasswordCipher;
  private readonly statements = new Map<string, Database.Statement>();
  /** Saves waiting for the write in progress to finish; the next write takes them all. */
  private queued: QueuedSave[] = [];
  private writing = false;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly options: SqliteStoreOptions) {
    this.databasePath = path.join(options.dataDir, dataFiles.database);
    this.dockerConfigPath = path.join(options.dataDir, dataFiles.dockerConfig);
    this.keyPath = path.join(options.dataDir, dataFiles.key);
    this.location = this.databasePath;
  }

  async open(): Promise<void> {
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    await this.removeStagedDockerConfigs();
    // Create the database file with mode 0600 first: SQLite gives its journal the same mode.
    await (await openFile(this.databasePath, 'a', secretFileMode)).close();

    const database = this.openDatabase();
    this.statements.clear();
    this.database = database;
    try {
      this.cipher = await this.openCipher();
      await this.repairDockerConfig();
    } catch (error) {
      database.close();
      this.database = undefined;
      this.cipher = undefined;
      throw error;
    }
  }

  /**
   * Saves run one write at a time so the database and the file always move together. Saves
   * that arrive while a write is in progress share the next one (group commit): every history
   * row is recorded, the last configuration is written once, and each save resolves only when
   * that write is durable, or rejects with the others when it fails.
   */
  save(change: ConfigurationChange): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queued.push({ change, resolve, reject });
      if (!this.writing) this.pending = this.writeQueued();
    });
  }

  private async writeQueued(): Promise<void> {
    this.writing = true;
    try {
      while (this.queued.length > 0) {
        const batch = this.queued;
        this.queued = [];
        try {
          await this.write(batch.map((queued) => queued.change));
          for (const queued of batch) queued.resolve();
        } catch (error) {
          for (const queued of batch) queued.reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  async read(): Promise<StoredConfiguration | null> {
    const row = this.selectRow();
    if (row === undefined) return null;
    const fields: ImageConfigFields = { port: row.port, account: row.account };
    if (row.domain !== null) fields.domain = row.domain;
    if (row.ip !== null) fields.ip = row.ip;
    return {
      fields,
      registryAddress: row.registry_address,
      updatedAt: row.updated_at,
      updatedBy: row.updated_by,
      verified: row.verified === null ? null : row.verified === 1,
    };
  }

  /** The change history, newest first. */
  history(): HistoryEntry[] {
    const rows = this.db().prepare('SELECT * FROM history ORDER BY id DESC').all() as Record<
      string,
      string
    >[];
    return rows.map((row) => ({
      changedAt: row.changed_at!,
      clientIdentity: row.client_identity!,
      clientIp: row.client_ip!,
      registryAddress: row.registry_address!,
      account: row.account!,
    }));
  }

  async isReady(): Promise<boolean> {
    return this.database?.open === true && this.cipher !== undefined;
  }

  async edgeHostAddresses(): Promise<ReadonlySet<string>> {
    return new Set();
  }

  async close(): Promise<void> {
    await this.pending;
    this.database?.close();
  }

  /** Applies `changes` in order as one commit and one file replacement: the last one wins. */
  private async write(changes: ConfigurationChange[]): Promise<void> {
    const previous = this.selectRow();
    const content = changes[changes.length - 1]!.credentials.toDockerConfigJson();
    let staged: string;
    try {
      staged = await stageFile(this.dockerConfigPath, content, { mode: secretFileMode });
    } catch (error) {
      throw new StoreError(`cannot write ${dataFiles.dockerConfig} (${errorCode(error)})`, {
        cause: error,
      });
    } finally {
      content.fill(0);
    }

    let historyIds: (number | bigint)[];
    try {
      await this.options.faults?.beforeCommit?.();
      historyIds = this.commit(changes);
    } catch (error) {
      await unlink(staged).catch(() => undefined);
      throw new StoreError(`cannot save to the database (${errorCode(error)})`, { cause: error });
    }

    try {
      await this.options.faults?.afterCommit?.();
      await commitStagedFile(staged, this.dockerConfigPath);
    } catch (error) {
      await unlink(staged).catch(() => undefined);
      await this.undo(previous, historyIds);
      throw new StoreError(`cannot replace ${dataFiles.dockerConfig} (${errorCode(error)})`, {
        cause: error,
      });
    }
  }

  /**
   * Writes the last change's row and every change's history entry in one transaction; returns
   * the entries' ids.
   */
  private commit(changes: ConfigurationChange[]): (number | bigint)[] {
    const change = changes[changes.length - 1]!;
    const { fields, credentials } = change;
    const row = {
      domain: fields.domain ?? null,
      ip: fields.ip ?? null,
      port: fields.port,
      account: fields.account,
      registry_address: registryAddress(fields),
      updated_at: change.updatedAt.toISOString(),
      updated_by: change.updatedBy,
      verified: change.verified === undefined ? null : Number(change.verified),
    };
    const sealed = this.requireCipher().seal(credentials.password, associatedData(row));
    const database = this.db();
    const insertHistory = this.statement(
      `INSERT INTO history (changed_at, client_identity, client_ip, registry_address, account)
       VALUES (?, ?, ?, ?, ?)`,
    );
    return database.transaction(() => {
      this.upsertRow({ ...row, ...sealedColumns(sealed) });
      return changes.map(
        (each) =>
          insertHistory.run(
            each.updatedAt.toISOString(),
            each.updatedBy,
            each.clientIp,
            registryAddress(each.fields),
            each.fields.account,
          ).lastInsertRowid,
      );
    })();
  }

  /** Puts the previous row back after a failed file replacement, then re-derives the file. */
  private async undo(
    previous: ConfigRow | undefined,
    historyIds: (number | bigint)[],
  ): Promise<void> {
    const database = this.db();
    try {
      database.transaction(() => {
        if (previous === undefined) database.prepare('DELETE FROM image_config').run();
        else this.upsertRow(previous);
        const deleteHistory = this.statement('DELETE FROM history WHERE id = ?');
        for (const id of historyIds) deleteHistory.run(id);
      })();
      await this.repairDockerConfig();
    } catch (error) {
      // The start-up repair makes the file agree with the database again.
      this.options.logger.error(
        { event: 'store.undo_failed', reason: errorCode(error) },
        'could not undo a failed save; the file is repaired from the database at next start',
      );
    }
  }

  /**
   * A crash between staging and renaming leaves the staged Docker config behind, possibly with
   * the password of a call that was never acknowledged; no write is in progress at open.
   */
  private async removeStagedDockerConfigs(): Promise<void> {
    // stageFile names them `.dockerconfig.json.<hex>.tmp`.
    const escapedName = dataFiles.dockerConfig.replace(/\./g, '\\.');
    const staged = new RegExp(`^\\.${escapedName}\\.[0-9a-f]+\\.tmp$`);
    const names = (await readdir(this.options.dataDir)).filter((name) => staged.test(name));
    for (const name of names) {
      await unlink(path.join(this.options.dataDir, name)).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') throw error;
      });
    }
    if (names.length === 0) return;
    this.options.logger.warn(
      { event: 'store.staged_removed', directory: this.options.dataDir, files: names.length },
      `removed ${names.length} staged ${dataFiles.dockerConfig} left by an interrupted save`,
    );
  }

  /** Opens `mef.db`; an error names the file, so that a wrong or damaged file is found. */
  private openDatabase(): Database.Database {
    let database: Database.Database | undefined;
    try {
      database = new Database(this.databasePath);
      database.pragma('journal_mode = WAL');
      // FULL makes every commit durable before it returns, not just consistent.
      database.pragma('synchronous = FULL');
      database.exec(schema);
      return database;
    } catch (error) {
      database?.close();
      const code = errorCode(error);
      const problem =
        code === 'SQLITE_NOTADB' ? 'is not an SQLite database' : 'cannot be opened as a database';
      throw new StoreError(
        `${this.databasePath} ${problem} (${code}); restore ${dataFiles.database} from the ` +
          'backup of the data directory, or move it away to start with no configuration',
        { cause: error },
      );
    }
  }

  /**
   * The key of the stored password. A new key is made only while no password is stored: a new
   * key cannot open the stored one, and the file derived from it would be lost at the repair.
   */
  private async openCipher(): Promise<PasswordCipher> {
    const row = this.selectRow();
    const directory = this.options.dataDir;
    let cipher: PasswordCipher;
    try {
      cipher = await PasswordCipher.fromKeyFile(this.keyPath, { create: row === undefined });
    } catch (error) {
      if (row === undefined || errorCode(error) !== 'ENOENT') throw error;
      throw new StoreError(
        `${dataFiles.key} is missing but ${dataFiles.database} holds an encrypted password; ` +
          `restore ${dataFiles.key} from the backup of the data directory ${directory}`,
        { cause: error },
      );
    }
    if (row === undefined) return cipher;

    try {
      cipher.open(sealedPassword(row), associatedData(row)).fill(0);
    } catch (error) {
      throw new StoreError(
        `${dataFiles.key} does not decrypt the password stored in ${dataFiles.database} ` +
          `(data directory ${directory}); restore the ${dataFiles.key} backed up with this ` +
          dataFiles.database,
        { cause: error },
      );
    }
    return cipher;
  }

  /** Rewrites `dockerconfig.json` from the database when the two disagree. */
  private async repairDockerConfig(): Promise<void> {
    const expected = this.renderDockerConfig();
    try {
      const actual = await readFile(this.dockerConfigPath).catch(() => undefined);
      if (actual !== undefined && actual.equals(expected)) return;
      await writeFileAtomically(this.dockerConfigPath, expected, { mode: secretFileMode });
      if (actual === undefined) return;
      this.options.logger.warn(
        { event: 'store.repaired', file: this.dockerConfigPath },
        `${dataFiles.dockerConfig} disagreed with the database and was rewritten from it`,
      );
    } finally {
      expected.fill(0);
    }
  }

  private renderDockerConfig(): Buffer {
    const row = this.selectRow();
    if (row === undefined) return emptyDockerConfigJson();
    const password = this.requireCipher().open(sealedPassword(row), associatedData(row));
    const host = row.domain ?? row.ip!;
    const credentials = new RegistryCredentials(host, row.port, row.account, password);
    try {
      return credentials.toDockerConfigJson();
    } finally {
      credentials.wipe();
    }
  }

  private selectRow(): ConfigRow | undefined {
    return this.statement('SELECT * FROM image_config WHERE id = 1').get() as ConfigRow | undefined;
  }

  private upsertRow(row: Omit<ConfigRow, never>): void {
    this.statement(
      `INSERT OR REPLACE INTO image_config (id, domain, ip, port, account, registry_address,
         password_iv, password_ciphertext, password_tag, updated_at, updated_by, verified)
       VALUES (1, @domain, @ip, @port, @account, @registry_address,
         @password_iv, @password_ciphertext, @password_tag, @updated_at, @updated_by, @verified)`,
    ).run(row);
  }

  /** Compiles `sql` once per open database, so that no request pays for it again. */
  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private db(): Database.Database {
    if (this.database === undefined) throw new StoreError('sqlite: the store is not open');
    return this.database;
  }

  private requireCipher(): PasswordCipher {
    if (this.cipher === undefined) throw new StoreError('sqlite: the store is not open');
    return this.cipher;
  }
}

function sealedColumns(sealed: SealedPassword) {
  return {
    password_iv: sealed.iv,
    password_ciphertext: sealed.ciphertext,
    password_tag: sealed.tag,
  };
}

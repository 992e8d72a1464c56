// The embedded store: SQLite holds the configuration with the password encrypted, and the
// effect is a standard Docker config file derived from it.

import Database from 'better-sqlite3';
import { mkdir, open as openFile, readFile, unlink } from 'node:fs/promises';
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
  private readonly keyPath: string;
  private database?: Database.Database;
  private cipher?: PasswordCipher;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SqliteStoreOptions) {
    this.databasePath = path.join(options.dataDir, dataFiles.database);
    this.dockerConfigPath = path.join(options.dataDir, dataFiles.dockerConfig);
    this.keyPath = path.join(options.dataDir, dataFiles.key);
  }

  async open(): Promise<void> {
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    // Create the database file with mode 0600 first: SQLite gives its journal the same mode.
    await (await openFile(this.databasePath, 'a', secretFileMode)).close();

    const database = new Database(this.databasePath);
    database.pragma('journal_mode = WAL');
    // FULL makes every commit durable before it returns, not just consistent.
    database.pragma('synchronous = FULL');
    database.exec(schema);
    this.database = database;
    this.cipher = await PasswordCipher.fromKeyFile(this.keyPath);
    await this.repairDockerConfig();
  }

  save(change: ConfigurationChange): Promise<void> {
    // Saves run one at a time so the database and the file always move together.
    const run = this.pending.then(() => this.write(change));
    this.pending = run.catch(() => undefined);
    return run;
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

  private async write(change: ConfigurationChange): Promise<void> {
    const previous = this.selectRow();
    const content = change.credentials.toDockerConfigJson();
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

    let historyId: number | bigint;
    try {
      await this.options.faults?.beforeCommit?.();
      historyId = this.commit(change);
    } catch (error) {
      await unlink(staged).catch(() => undefined);
      throw new StoreError(`cannot save to the database (${errorCode(error)})`, { cause: error });
    }

    try {
      await this.options.faults?.afterCommit?.();
      await commitStagedFile(staged, this.dockerConfigPath);
    } catch (error) {
      await unlink(staged).catch(() => undefined);
      await this.undo(previous, historyId);
      throw new StoreError(`cannot replace ${dataFiles.dockerConfig} (${errorCode(error)})`, {
        cause: error,
      });
    }
  }

  /** Writes the new row and its history entry in one transaction; returns the entry's id. */
  private commit(change: ConfigurationChange): number | bigint {
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
    return database.transaction(() => {
      this.upsertRow({ ...row, ...sealedColumns(sealed) });
      return database
        .prepare(
          `INSERT INTO history (changed_at, client_identity, client_ip, registry_address, account)
           VALUES (?, ?, ?, ?, ?)`,
        )
        .run(row.updated_at, change.updatedBy, change.clientIp, row.registry_address, row.account)
        .lastInsertRowid;
    })();
  }

  /** Puts the previous row back after a failed file replacement, then re-derives the file. */
  private async undo(previous: ConfigRow | undefined, historyId: number | bigint): Promise<void> {
    const database = this.db();
    try {
      database.transaction(() => {
        if (previous === undefined) database.prepare('DELETE FROM image_config').run();
        else this.upsertRow(previous);
        database.prepare('DELETE FROM history WHERE id = ?').run(historyId);
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
    const password = this.requireCipher().open(
      { iv: row.password_iv, ciphertext: row.password_ciphertext, tag: row.password_tag },
      associatedData(row),
    );
    const host = row.domain ?? row.ip!;
    const credentials = new RegistryCredentials(host, row.port, row.account, password);
    try {
      return credentials.toDockerConfigJson();
    } finally {
      credentials.wipe();
    }
  }

  private selectRow(): ConfigRow | undefined {
    return this.db().prepare('SELECT * FROM image_config WHERE id = 1').get() as
      ConfigRow | undefined;
  }

  private upsertRow(row: Omit<ConfigRow, never>): void {
    this.db()
      .prepare(
        `INSERT OR REPLACE INTO image_config (id, domain, ip, port, account, registry_address,
           password_iv, password_ciphertext, password_tag, updated_at, updated_by, verified)
         VALUES (1, @domain, @ip, @port, @account, @registry_address,
           @password_iv, @password_ciphertext, @password_tag, @updated_at, @updated_by, @verified)`,
      )
      .run(row);
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

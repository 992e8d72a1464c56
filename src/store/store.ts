// The storage contract shared by the embedded SQLite store and the Kubernetes store.

import type { ImageConfigFields } from '../domain/image-config.js';
import type { RegistryCredentials } from '../domain/registry-credentials.js';

/** One accepted configuration call, as handed to a store. */
export interface ConfigurationChange {
  fields: ImageConfigFields;
  credentials: RegistryCredentials;
  /** The client certificate's subject, e.g. `CN=mef-admin,O=MEF`. */
  updatedBy: string;
  clientIp: string;
  updatedAt: Date;
  /** Whether the registry accepted the credentials; undefined when not verified. */
  verified?: boolean;
}

/** What a store reads back: never the password nor anything derived from it. */
export interface StoredConfiguration {
  fields: ImageConfigFields;
  registryAddress: string;
  updatedAt: string;
  updatedBy: string;
  verified: boolean | null;
}

/**
 * Where the configuration lives and takes effect. Every implementation promises all or
 * nothing: when `save` rejects, the previous configuration and its effect are as they were.
 */
export interface ImageConfigStore {
  readonly kind: 'sqlite' | 'kubernetes';
  /** Where the state lives, for the start-up log: a file path or a Secret's name. */
  readonly location: string;
  /** Opens the store and repairs a derived effect that disagrees with the stored state. */
  open(): Promise<void>;
  save(change: ConfigurationChange): Promise<void>;
  read(): Promise<StoredConfiguration | null>;
  /** False while the backing state cannot be reached. */
  isReady(): Promise<boolean>;
  /** Addresses of edge hosts known to the store, refused as a registry `ip`. */
  edgeHostAddresses(): Promise<ReadonlySet<string>>;
  close(): Promise<void>;
}

/** A store step that failed; the API answers 503 with status 60001008 and this message. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

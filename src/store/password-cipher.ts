// Encryption of the stored password: AES-256-GCM under a key file that only the service reads.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { secretFileMode, writeFileAtomically } from '../files/atomic-write.js';

const keyLength = 32;
const ivLength = 12;

/** A sealed password: what the database holds in place of the password. */
export interface SealedPassword {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/**
 * Seals and opens passwords with one AES-256-GCM key. The associated data binds a ciphertext to
 * the registry address and account it was stored with, so rows cannot be swapped unnoticed.
 *
 * @example const cipher = await PasswordCipher.fromKeyFile('/data/secret.key');
 */
export class PasswordCipher {
  private constructor(private readonly key: Buffer) {}

  /**
   * Reads the key file. A missing file is created with mode 0600 when `create` is true (first
   * start); otherwise its ENOENT error is thrown, because a new key cannot open old passwords.
   */
  static async fromKeyFile(file: string, { create = true } = {}): Promise<PasswordCipher> {
    try {
      const key = await readFile(file);
      if (key.length !== keyLength) {
        throw new Error(`key file ${file} must hold exactly ${keyLength} bytes`);
      }
      return new PasswordCipher(key);
    } catch (error) {
      if (!create || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const key = randomBytes(keyLength);
    await writeFileAtomically(file, key, { mode: secretFileMode });
    return new PasswordCipher(key);
  }

  seal(password: Buffer, associatedData: string): SealedPassword {
    const iv = randomBytes(ivLength);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(password), cipher.final()]);
    return { iv, ciphertext, tag: cipher.getAuthTag() };
  }

  /** Returns the password bytes; the caller zeroes them after use. */
  open(sealed: SealedPassword, associatedData: string): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.iv);
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  }
}

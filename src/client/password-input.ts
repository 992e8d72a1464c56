// Reading a password as bytes: from a hidden terminal prompt, or from a pipe on stdin.
//
// The password never becomes a JavaScript string, which cannot be wiped: it is gathered into
// Buffers that are zeroed as soon as the bytes have moved on.

import type { Readable, Writable } from 'node:stream';

/** More than any password the API accepts, and a bound on what a pipe may hand us. */
export const maxPasswordInputBytes = 1024;

/** The operator gave up at the prompt (Ctrl-C), or the input could not be a password. */
export class PasswordInputError extends Error {
  constructor(
    message: string,
    readonly cancelled = false,
  ) {
    super(message);
    this.name = 'PasswordInputError';
  }
}

/**
 * Strips exactly one trailing line feed, then one carriage return, as `docker login
 * --password-stdin` does, so `echo` and Windows line endings work and any further byte stays.
 * Returns a view of `bytes`, not a copy.
 *
 * @example stripOneLineEnding(Buffer.from('secret\r\n')) // <Buffer 'secret'>
 */
export function stripOneLineEnding(bytes: Buffer): Buffer {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end -= 1;
  if (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
  return bytes.subarray(0, end);
}

/**
 * Reads all of `input` (stdin with `--password-stdin`) into one Buffer and strips one line
 * ending. The caller zeroes the returned Buffer after use.
 */
export async function readPasswordFromPipe(input: Readable): Promise<Buffer> {
  const collected = Buffer.alloc(maxPasswordInputBytes);
  let length = 0;
  let overflow = false;
  try {
    for await (const chunk of input) {
      const bytes = chunk as Buffer;
      if (length + bytes.length > collected.length) overflow = true;
      else bytes.copy(collected, length);
      length += bytes.length;
      bytes.fill(0);
      if (overflow) break;
    }
  } catch (error) {
    collected.fill(0);
    throw error;
  }
  if (overflow) {
    collected.fill(0);
    throw new PasswordInputError(
      `password: stdin holds more than ${maxPasswordInputBytes} bytes; pipe only the password`,
    );
  }
  // Copy exactly the password out so the caller holds one Buffer of the right length.
  const password = Buffer.from(stripOneLineEnding(collected.subarray(0, length)));
  collected.fill(0);
  return password;
}

/** The terminal side of a prompt: stdin when it is a TTY. */
export interface TerminalInput extends Readable {
  isTTY?: boolean;
  setRawMode(mode: boolean): unknown;
}

const key = {
  interrupt: 0x03,
  endOfText: 0x04,
  backspace: 0x08,
  lineFeed: 0x0a,
  carriageReturn: 0x0d,
  killLine: 0x15,
  escape: 0x1b,
  delete: 0x7f,
} as const;

/** True for the second to last bytes of a UTF-8 sequence. */
function isContinuationByte(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Turns keystrokes into password bytes: Enter or Ctrl-D ends, Backspace removes the last
 * character (all of its UTF-8 bytes), Ctrl-U clears, Ctrl-C cancels. Escape sequences (arrow
 * and function keys) and other control keys are ignored: no valid password holds them.
 */
export class PasswordKeystrokes {
  private readonly bytes = Buffer.alloc(maxPasswordInputBytes);
  private length = 0;
  private overflow = false;
  /** Where we are in an escape sequence: none, just after ESC, or inside `ESC [` / `ESC O`. */
  private escape: 'none' | 'started' | 'sequence' = 'none';

  /** Feeds bytes; returns `done` or `cancelled` once input is over, else `more`. */
  feed(chunk: Buffer): 'more' | 'done' | 'cancelled' {
    for (const byte of chunk) {
      const outcome = this.feedByte(byte);
      if (outcome !== 'more') return outcome;
    }
    return 'more';
  }

  private feedByte(byte: number): 'more' | 'done' | 'cancelled' {
    if (this.escape === 'started') {
      this.escape = byte === 0x5b || byte === 0x4f ? 'sequence' : 'none';
      return 'more';
    }
    if (this.escape === 'sequence') {
      // Parameter and intermediate bytes run from 0x20 to 0x3f; a final byte ends the sequence.
      if (byte >= 0x40 && byte <= 0x7e) this.escape = 'none';
      return 'more';
    }

    switch (byte) {
      case key.interrupt:
        return 'cancelled';
      case key.carriageReturn:
      case key.lineFeed:
      case key.endOfText:
        return 'done';
      case key.backspace:
      case key.delete:
        this.removeLastCharacter();
        return 'more';
      case key.killLine:
        this.clear();
        return 'more';
      case key.escape:
        this.escape = 'started';
        return 'more';
    }
    if (byte < 0x20) return 'more';

    if (this.length === this.bytes.length) this.overflow = true;
    else this.bytes[this.length++] = byte;
    return 'more';
  }

  private removeLastCharacter(): void {
    while (this.length > 0) {
      const byte = this.bytes[--this.length]!;
      this.bytes[this.length] = 0;
      if (!isContinuationByte(byte)) break;
    }
  }

  private clear(): void {
    this.bytes.fill(0);
    this.length = 0;
    this.overflow = false;
  }

  /** Hands over the password as a new Buffer and zeroes what was gathered. */
  take(): Buffer {
    if (this.overflow) {
      this.wipe();
      throw new PasswordInputError(`password: longer than ${maxPasswordInputBytes} bytes`);
    }
    const password = Buffer.from(this.bytes.subarray(0, this.length));
    this.wipe();
    return password;
  }

  wipe(): void {
    this.clear();
  }
}

/**
 * Prompts for a password on a terminal without echoing it. The terminal is in raw mode while
 * typing and is put back however the prompt ends. The caller zeroes the returned Buffer.
 *
 * @example const password = await promptPassword(process.stdin, process.stderr, 'Password: ');
 */
export function promptPassword(
  input: TerminalInput,
  output: Writable,
  prompt: string,
): Promise<Buffer> {
  const keystrokes = new PasswordKeystrokes();
  // Raw mode first: a key pressed as soon as the prompt shows must not be echoed.
  input.setRawMode(true);
  input.resume();
  output.write(prompt);

  return new Promise((resolve, reject) => {
    const finish = (settle: () => void) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      settle();
    };
    const onData = (chunk: Buffer) => {
      const outcome = keystrokes.feed(chunk);
      chunk.fill(0);
      if (outcome === 'more') return;
      finish(() => {
        if (outcome === 'cancelled') {
          keystrokes.wipe();
          reject(new PasswordInputError('cancelled at the password prompt', true));
          return;
        }
        try {
          resolve(keystrokes.take());
        } catch (error) {
          reject(error as Error);
        }
      });
    };
    const onEnd = () =>
      finish(() => {
        try {
          resolve(keystrokes.take());
        } catch (error) {
          reject(error as Error);
        }
      });
    const onError = (error: Error) =>
      finish(() => {
        keystrokes.wipe();
        reject(error);
      });
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
  });
}

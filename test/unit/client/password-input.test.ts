import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  maxPasswordInputBytes,
  PasswordInputError,
  PasswordKeystrokes,
  promptPassword,
  readPasswordFromPipe,
  stripOneLineEnding,
  type TerminalInput,
} from '../../../src/client/password-input.js';

describe('stripOneLineEnding', () => {
  const cases: [string, string][] = [
    ['secret', 'secret'],
    ['secret\n', 'secret'],
    ['secret\r\n', 'secret'],
    ['secret\r', 'secret'],
    ['secret\n\n', 'secret\n'],
    ['secret\r\n\r\n', 'secret\r\n'],
    ['secret\n\r', 'secret\n'],
    ['', ''],
  ];
  for (const [input, expected] of cases) {
    it(`turns ${JSON.stringify(input)} into ${JSON.stringify(expected)}`, () => {
      assert.equal(stripOneLineEnding(Buffer.from(input)).toString(), expected);
    });
  }
});

describe('readPasswordFromPipe', () => {
  it('joins the chunks, strips one line ending and zeroes the chunks it read', async () => {
    const chunks = [Buffer.from('Pass'), Buffer.from('w0rd\n')];
    const password = await readPasswordFromPipe(Readable.from(chunks));

    assert.equal(password.toString(), 'Passw0rd');
    for (const chunk of chunks) assert.ok(chunk.every((byte) => byte === 0));
  });

  it('refuses more than the bound', async () => {
    const input = Readable.from([Buffer.alloc(maxPasswordInputBytes + 1, 0x61)]);
    await assert.rejects(readPasswordFromPipe(input), /more than 1024 bytes/);
  });
});

describe('PasswordKeystrokes', () => {
  const typed = (...chunks: (string | number[])[]) => {
    const keystrokes = new PasswordKeystrokes();
    let outcome: string = 'more';
    for (const chunk of chunks) {
      outcome = keystrokes.feed(Buffer.from(chunk as string));
      if (outcome !== 'more') break;
    }
    return { outcome, keystrokes };
  };

  it('ends at Enter, Line Feed or Ctrl-D', () => {
    for (const end of ['\r', '\n', '\x04']) {
      const { outcome, keystrokes } = typed(`abc${end}ignored`);
      assert.equal(outcome, 'done');
      assert.equal(keystrokes.take().toString(), 'abc');
    }
  });

  it('erases whole UTF-8 characters with Backspace and Delete', () => {
    const { keystrokes } = typed('a€ä', [0x7f], [0x08], 'b\r');
    assert.equal(keystrokes.take().toString(), 'ab');
  });

  it('clears the line with Ctrl-U', () => {
    const { keystrokes } = typed('wrong\x15right\r');
    assert.equal(keystrokes.take().toString(), 'right');
  });

  it('ignores arrow keys, even when a sequence spans two chunks', () => {
    const { keystrokes } = typed('a\x1b[D', 'b\x1b', '[1;5', 'Cc\x1bOAd\x01\r');
    assert.equal(keystrokes.take().toString(), 'abcd');
  });

  it('reports Ctrl-C as cancelled', () => {
    assert.equal(typed('abc\x03').outcome, 'cancelled');
  });

  it('refuses a password longer than the bound', () => {
    const { keystrokes } = typed('a'.repeat(maxPasswordInputBytes + 1), '\r');
    assert.throws(() => keystrokes.take(), PasswordInputError);
  });
});

/** A stream that stands in for a TTY and records the raw mode changes. */
function fakeTerminal() {
  const input = new PassThrough() as PassThrough & TerminalInput & { modes: boolean[] };
  input.isTTY = true;
  input.modes = [];
  input.setRawMode = (mode: boolean) => input.modes.push(mode);
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk) => (written += chunk));
  return { input, output, written: () => written };
}

describe('promptPassword', () => {
  it('turns raw mode on before the prompt shows and off at the end', async () => {
    const terminal = fakeTerminal();
    const answer = promptPassword(terminal.input, terminal.output, 'Password: ');
    assert.deepEqual(terminal.input.modes, [true]);
    terminal.input.write(Buffer.from('Secret12#$\r'));

    assert.equal((await answer).toString(), 'Secret12#$');
    assert.deepEqual(terminal.input.modes, [true, false]);
    assert.equal(terminal.written(), 'Password: \n');
  });

  it('rejects as cancelled on Ctrl-C and restores the terminal', async () => {
    const terminal = fakeTerminal();
    const answer = promptPassword(terminal.input, terminal.output, 'Password: ');
    terminal.input.write(Buffer.from('Sec\x03'));

    await assert.rejects(answer, (error: PasswordInputError) => error.cancelled);
    assert.deepEqual(terminal.input.modes, [true, false]);
  });
});

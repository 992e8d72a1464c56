// Tests of the managed block inside a hosts file: parsing, rendering and the mapping rules.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExitCode } from '../../../src/edge/edge-error.js';
import {
  blockMarkers,
  maxDomainMappings,
  namesOutsideBlock,
  parseHostsFile,
  removeMapping,
  renderHostsFile,
  setMapping,
} from '../../../src/edge/hosts-file.js';

const block = (...lines: string[]) =>
  [blockMarkers.begin, ...lines, blockMarkers.end, ''].join('\n');

describe('parseHostsFile and renderHostsFile', () => {
  it('finds no mappings in a file without the block and renders it unchanged', () => {
    const text = '127.0.0.1 localhost\n# note\n';

    const layout = parseHostsFile(text, 'hosts');

    assert.deepEqual(layout.mappings, []);
    assert.equal(renderHostsFile(layout), text);
  });

  it('puts a new block after the last complete line, so a last line without newline stays', () => {
    const text = '127.0.0.1 localhost\n10.9.9.9 last';
    const layout = parseHostsFile(text, 'hosts');

    const rendered = renderHostsFile({
      ...layout,
      mappings: [{ ip: '10.0.0.5', domain: 'a.test' }],
    });

    assert.equal(rendered, `127.0.0.1 localhost\n${block('10.0.0.5 a.test')}10.9.9.9 last`);
  });

  it('reads the mappings of an existing block wherever it is', () => {
    const text = `127.0.0.1 localhost\n${block('10.0.0.5 a.test', '', '10.0.0.6  b.test ')}::1 x\n`;

    const layout = parseHostsFile(text, 'hosts');

    assert.deepEqual(layout.mappings, [
      { ip: '10.0.0.5', domain: 'a.test' },
      { ip: '10.0.0.6', domain: 'b.test' },
    ]);
    assert.equal(layout.before, '127.0.0.1 localhost\n');
    assert.equal(layout.after, '::1 x\n');
  });

  it('drops the markers with the last mapping', () => {
    const text = `127.0.0.1 localhost\n${block('10.0.0.5 a.test')}::1 x\n`;

    const layout = parseHostsFile(text, 'hosts');

    assert.equal(renderHostsFile({ ...layout, mappings: [] }), '127.0.0.1 localhost\n::1 x\n');
  });

  it('refuses a damaged block, naming the line', () => {
    const cases: [string, RegExp][] = [
      [`${blockMarkers.begin}\n10.0.0.5 a.test\n`, /line 1: a begin marker without an end/],
      [`x\n${blockMarkers.end}\n`, /line 2: an end marker without a begin/],
      [block('10.0.0.5 a.test b.test'), /line 2: not an "<ip> <domain>" line/],
      [block('10.0.0.5 a.test') + block(), /line 4: a second begin marker/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseHostsFile(text, '/etc/hosts'),
        (error: Error & { exitCode?: number }) =>
          error.exitCode === ExitCode.failure &&
          /^hosts file \/etc\/hosts: /.test(error.message) &&
          message.test(error.message),
      );
    }
  });
});

describe('setMapping and removeMapping', () => {
  const full = Array.from({ length: maxDomainMappings }, (_, index) => ({
    ip: `10.0.0.${index + 1}`,
    domain: `reg${index}.example.com`,
  }));

  it('replaces the address of a domain in place, ignoring case', () => {
    const { mappings, previous } = setMapping(full, { ip: '10.1.1.1', domain: 'REG3.example.com' });

    assert.deepEqual(previous, full[3]);
    assert.equal(mappings.length, maxDomainMappings);
    assert.deepEqual(mappings[3], { ip: '10.1.1.1', domain: 'REG3.example.com' });
  });

  it(`refuses mapping number ${maxDomainMappings + 1} with the limit exit code`, () => {
    assert.throws(
      () => setMapping(full, { ip: '10.1.1.1', domain: 'one-more.example.com' }),
      (error: Error & { exitCode?: number }) =>
        error.exitCode === ExitCode.limit && /most allowed is 16/.test(error.message),
    );
  });

  it('removes exactly the named domain, not one that contains it', () => {
    const mappings = [
      { ip: '10.0.0.1', domain: 'myreg.example.com' },
      { ip: '10.0.0.2', domain: 'reg.example.com' },
    ];

    const result = removeMapping(mappings, 'reg.example.com');

    assert.deepEqual(result.removed, mappings[1]);
    assert.deepEqual(result.mappings, [mappings[0]]);
    assert.equal(removeMapping(mappings, 'example.com').removed, undefined);
  });
});

describe('namesOutsideBlock', () => {
  it('finds a domain named on other lines, and whether they come first', () => {
    const text =
      '10.5.5.5\tother.test reg.example.com # old\n' +
      `${block('10.0.0.5 reg.example.com')}` +
      '# 10.6.6.6 reg.example.com\n10.7.7.7 REG.example.com\n';

    const found = namesOutsideBlock(parseHostsFile(text, 'hosts'), 'reg.example.com');

    assert.deepEqual(found, [
      { line: 1, ip: '10.5.5.5', beforeBlock: true },
      { line: 6, ip: '10.7.7.7', beforeBlock: false },
    ]);
  });
});

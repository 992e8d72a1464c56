// The block of registry name mappings that mef-edge owns inside a hosts file, parsed and rendered
// so that every byte outside the block stays exactly as it was.

import { EdgeError, ExitCode } from './edge-error.js';

/** The most mappings the block holds: the same cap MEF puts on a device. */
export const maxDomainMappings = 16;

const beginPrefix = '# BEGIN mef-edge domainconfig';
const endPrefix = '# END mef-edge domainconfig';

/** The marker lines around the block, as written. */
export const blockMarkers = {
  begin: `${beginPrefix} (managed block: change it with mef-edge only)`,
  end: endPrefix,
} as const;

export interface DomainMapping {
  ip: string;
  domain: string;
}

/** A hosts file cut in three: the bytes before the block, the mappings, the bytes after it. */
export interface HostsFileLayout {
  before: string;
  mappings: DomainMapping[];
  after: string;
}

/** A line outside the block that names the domain too. */
export interface NameOutsideBlock {
  /** 1-based line number in the file as {@link renderHostsFile} writes it. */
  line: number;
  ip: string;
  /** The first line naming a host wins a lookup, so a line before the block shadows it. */
  beforeBlock: boolean;
}

function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function lineText(line: string): string {
  return line.replace(/\r?\n$/, '').trimEnd();
}

function damaged(fileName: string, line: number, problem: string): EdgeError {
  return new EdgeError(
    ExitCode.failure,
    `hosts file ${fileName}: line ${line}: ${problem}; the managed block is damaged, fix it by ` +
      'hand (or delete the block and add the mappings again)',
  );
}

/**
 * Finds the managed block. Without one, a new block goes after the last complete line, so a
 * final line without a newline stays the final line, byte for byte.
 *
 * @example parseHostsFile('127.0.0.1 localhost\n', '/etc/hosts').mappings // []
 */
export function parseHostsFile(text: string, fileName: string): HostsFileLayout {
  const lines = splitLines(text);
  const begins = lines.flatMap((line, index) =>
    lineText(line).startsWith(beginPrefix) ? [index] : [],
  );
  const ends = lines.flatMap((line, index) =>
    lineText(line).startsWith(endPrefix) ? [index] : [],
  );

  if (begins.length === 0 && ends.length === 0) {
    const complete = text.endsWith('\n') || text === '' ? lines : lines.slice(0, -1);
    const before = complete.join('');
    return { before, mappings: [], after: text.slice(before.length) };
  }
  if (begins.length > 1) throw damaged(fileName, begins[1]! + 1, 'a second begin marker');
  if (ends.length > 1) throw damaged(fileName, ends[1]! + 1, 'a second end marker');
  const begin = begins[0];
  const end = ends[0];
  if (begin === undefined) throw damaged(fileName, end! + 1, 'an end marker without a begin');
  if (end === undefined || end < begin) {
    throw damaged(fileName, begin + 1, 'a begin marker without an end marker after it');
  }

  const mappings: DomainMapping[] = [];
  for (let index = begin + 1; index < end; index += 1) {
    const content = lineText(lines[index]!).trim();
    if (content === '') continue;
    const match = /^(\S+)\s+(\S+)$/.exec(content);
    if (match === null) throw damaged(fileName, index + 1, 'not an "<ip> <domain>" line');
    mappings.push({ ip: match[1]!, domain: match[2]! });
  }
  return {
    before: lines.slice(0, begin).join(''),
    mappings,
    after: lines.slice(end + 1).join(''),
  };
}

/** The file with the block rewritten; an empty block disappears with its markers. */
export function renderHostsFile(layout: HostsFileLayout): string {
  if (layout.mappings.length === 0) return layout.before + layout.after;
  const block = [
    blockMarkers.begin,
    ...layout.mappings.map(({ ip, domain }) => `${ip} ${domain}`),
    blockMarkers.end,
  ];
  return `${layout.before}${block.join('\n')}\n${layout.after}`;
}

function sameDomain(left: string, right: string): boolean {
  // Host name lookups ignore case, so Registry.Example.com and registry.example.com are one name.
  return left.toLowerCase() === right.toLowerCase();
}

/**
 * Adds a mapping, or gives an existing domain its new address in place. A new domain beyond
 * {@link maxDomainMappings} is refused with exit code 3.
 *
 * @example setMapping([], { ip: '10.0.0.5', domain: 'reg.example.com' }).mappings.length // 1
 */
export function setMapping(
  mappings: readonly DomainMapping[],
  mapping: DomainMapping,
): { mappings: DomainMapping[]; previous?: DomainMapping } {
  const index = mappings.findIndex((entry) => sameDomain(entry.domain, mapping.domain));
  if (index >= 0) {
    const updated = [...mappings];
    updated[index] = mapping;
    return { mappings: updated, previous: mappings[index] };
  }
  if (mappings.length >= maxDomainMappings) {
    throw new EdgeError(
      ExitCode.limit,
      `domain: the hosts file already holds ${mappings.length} mappings, the most allowed is ` +
        `${maxDomainMappings}; remove one first (mef-edge domainconfig --remove --domain=...)`,
    );
  }
  return { mappings: [...mappings, mapping] };
}

/** Removes the mapping of exactly `domain`; other names that merely contain it stay. */
export function removeMapping(
  mappings: readonly DomainMapping[],
  domain: string,
): { mappings: DomainMapping[]; removed?: DomainMapping } {
  const removed = mappings.find((entry) => sameDomain(entry.domain, domain));
  return { mappings: mappings.filter((entry) => entry !== removed), removed };
}

/** The lines outside the block that name `domain` as well; mef-edge never edits them. */
export function namesOutsideBlock(layout: HostsFileLayout, domain: string): NameOutsideBlock[] {
  const found: NameOutsideBlock[] = [];
  const scan = (text: string, firstLine: number, beforeBlock: boolean) => {
    splitLines(text).forEach((line, index) => {
      const fields = lineText(line).replace(/#.*$/, '').trim().split(/\s+/);
      const names = fields.slice(1);
      if (names.some((name) => sameDomain(name, domain))) {
        found.push({ line: firstLine + index, ip: fields[0]!, beforeBlock });
      }
    });
  };
  const beforeLines = splitLines(layout.before).length;
  const blockLines = layout.mappings.length === 0 ? 0 : layout.mappings.length + 2;
  scan(layout.before, 1, true);
  scan(layout.after, beforeLines + blockLines + 1, false);
  return found;
}

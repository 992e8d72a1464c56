// Parsing of the WWW-Authenticate header (RFC 9110, section 11): the challenges a registry
// sends with its 401, e.g. `Bearer realm="https://auth.example.com/token",service="registry"`.

/** One challenge: the scheme in lower case and its parameters, names in lower case. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), which carries a blob instead of parameters. */
  token68?: string;
}

const tokenCharacter = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const token68Character = /[A-Za-z0-9\-._~+/]/;

/** A cursor over the header text; every reader advances it past what it consumed. */
class HeaderReader {
  position = 0;

  constructor(readonly text: string) {}

  get done(): boolean {
    return this.position >= this.text.length;
  }

  peek(offset = 0): string {
    return this.text.charAt(this.position + offset);
  }

  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.position += 1;
  }

  skipSpacesAndCommas(): void {
    while (/[ \t,]/.test(this.peek()) && !this.done) this.position += 1;
  }

  /** Reads a run of characters matching `pattern` starting `offset` ahead, without moving. */
  lengthOfRun(pattern: RegExp, offset = 0): number {
    let length = 0;
    while (pattern.test(this.peek(offset + length)) && this.peek(offset + length) !== '') {
      length += 1;
    }
    return length;
  }

  readToken(): string {
    const length = this.lengthOfRun(tokenCharacter);
    const token = this.text.slice(this.position, this.position + length);
    this.position += length;
    return token;
  }

  /** Reads a quoted string from its opening quote; an unclosed one runs to the end. */
  readQuotedString(): string {
    let value = '';
    this.position += 1;
    while (!this.done) {
      const character = this.peek();
      this.position += 1;
      if (character === '"') return value;
      if (character === '\\' && !this.done) {
        value += this.peek();
        this.position += 1;
        continue;
      }
      value += character;
    }
    return value;
  }

  /** True when the next token is a parameter name: `name` followed by optional spaces and `=`. */
  atParameter(): boolean {
    const nameLength = this.lengthOfRun(tokenCharacter);
    if (nameLength === 0) return false;
    let offset = nameLength;
    while (this.peek(offset) === ' ' || this.peek(offset) === '\t') offset += 1;
    return this.peek(offset) === '=';
  }

  /**
   * Reads a token68 when one stands here alone (followed by the end or a comma), which tells
   * it apart from `name=value`: `abc==` is a token68, `realm="x"` is a parameter.
   */
  readToken68(): string | undefined {
    const bodyLength = this.lengthOfRun(token68Character);
    if (bodyLength === 0) return undefined;
    let offset = bodyLength;
    while (this.peek(offset) === '=') offset += 1;
    let end = offset;
    while (this.peek(end) === ' ' || this.peek(end) === '\t') end += 1;
    if (this.peek(end) !== '' && this.peek(end) !== ',') return undefined;
    const token68 = this.text.slice(this.position, this.position + offset);
    this.position += end;
    return token68;
  }
}

function readParameters(reader: HeaderReader, params: Record<string, string>): void {
  while (!reader.done) {
    reader.skipSpacesAndCommas();
    if (!reader.atParameter()) return;
    const name = reader.readToken().toLowerCase();
    reader.skipSpaces();
    reader.position += 1;
    reader.skipSpaces();
    const value = reader.peek() === '"' ? reader.readQuotedString() : reader.readToken();
    // The first occurrence wins, as a repeated parameter is invalid and the first is the one
    // every registry client reads.
    if (!Object.hasOwn(params, name)) params[name] = value;
  }
}

/**
 * Parses every challenge in a WWW-Authenticate value. Commas inside quoted strings belong to
 * the value; several challenges may share one header. Garbage between challenges is skipped
 * rather than failing the whole header, since the caller only looks for Basic and Bearer.
 *
 * @example
 * parseWwwAuthenticate('Bearer realm="https://a/token",scope="repository:x:pull,push"')
 * // [{ scheme: 'bearer', params: { realm: 'https://a/token', scope: 'repository:x:pull,push' } }]
 */
export function parseWwwAuthenticate(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((value) => parseWwwAuthenticate(value));

  const reader = new HeaderReader(header);
  const challenges: AuthChallenge[] = [];
  while (!reader.done) {
    reader.skipSpacesAndCommas();
    const scheme = reader.readToken();
    if (scheme === '') {
      // Not a token: skip one character and look for the next challenge.
      reader.position += 1;
      continue;
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    reader.skipSpaces();
    const token68 = reader.readToken68();
    if (token68 !== undefined) challenge.token68 = token68;
    else readParameters(reader, challenge.params);
    challenges.push(challenge);
  }
  return challenges;
}

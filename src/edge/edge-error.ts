// The exit codes of the device tool and the one error type that carries them to the command line.

/** Every exit code `mef-edge` ends with, each written once for the code, `--help` and README. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  limit: 3,
  certificateRejected: 4,
  lockBusy: 5,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code means, in the order `--help` and the README list them. */
export const exitCodeMeanings: ReadonlyArray<readonly [ExitCode, string]> = [
  [ExitCode.ok, 'done'],
  [ExitCode.failure, 'unexpected failure (a file could not be read or written, a damaged block)'],
  [ExitCode.usage, 'invalid usage or input (an option, an ip, a domain, an address)'],
  [ExitCode.limit, 'refused by a limit (the hosts file already holds the most mappings)'],
  [ExitCode.certificateRejected, 'certificate rejected (not a usable CA certificate)'],
  [ExitCode.lockBusy, 'another mef-edge run held the lock for too long'],
];

/**
 * A failure the operator is meant to read: the exit code and a message that names the cause.
 * When it is thrown, no file has been changed.
 *
 * @example throw new EdgeError(ExitCode.usage, 'ip: must not be a loopback address');
 */
export class EdgeError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'EdgeError';
  }
}

/** An invalid option or argument value: exit code 2, message `${field}: ${rule}`. */
export function invalidInput(field: string, rule: string): EdgeError {
  return new EdgeError(ExitCode.usage, `${field}: ${rule}`);
}

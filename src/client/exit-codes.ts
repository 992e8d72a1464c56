// What mefctl's exit status means, written once for the code, the help text and the tests.

export const exitCodes = {
  success: 0,
  /** The service answered with a failure envelope (4xx/5xx), or not with an envelope at all. */
  refused: 1,
  usage: 2,
  /** No answer: connection, TLS handshake, certificate files or timeout. */
  unreachable: 3,
  /** 128 + SIGINT, as a shell reports a command stopped by Ctrl-C. */
  cancelled: 130,
} as const;

/** The exit status section of `mefctl --help`. */
export const exitCodeHelp = `
Exit status:
  ${exitCodes.success}    success
  ${exitCodes.refused}    the service refused the call or failed (its msg and status are printed)
  ${exitCodes.usage}    usage error: a missing or bad option or argument
  ${exitCodes.unreachable}    cannot reach the service: connection, TLS, certificate files, timeout
  ${exitCodes.cancelled}  cancelled at the password prompt (Ctrl-C)`;

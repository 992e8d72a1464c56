// What a registry verification answers: success, or the step that failed and on which host.

/**
 * The steps a verification can fail at, in the order a request meets them. Metrics count
 * failures by these names, so they are part of the interface.
 */
export const verificationSteps = [
  'name-resolution',
  'connection',
  'tls',
  'http-status',
  'authentication',
  'timeout',
] as const;

export type VerificationStep = (typeof verificationSteps)[number];

/** How the registry asked for credentials: not at all, HTTP Basic, or a Bearer token. */
export type RegistryAuthScheme = 'none' | 'basic' | 'bearer';

export interface VerificationSuccess {
  ok: true;
  /** True when the registry answered without credentials, so they could not be checked. */
  open: boolean;
  scheme: RegistryAuthScheme;
  note?: string;
}

export interface VerificationFailure {
  ok: false;
  step: VerificationStep;
  /** The host the step failed on (`host` or `host:port`); a token realm may be another host. */
  host: string;
  /** Safe to show to a client: never holds the password, a Basic token or a Bearer token. */
  message: string;
}

export type VerificationResult = VerificationSuccess | VerificationFailure;

/**
 * A failed step, thrown inside the verifier and turned into a {@link VerificationFailure} at
 * its edge. The message follows the same rule as the result's: nothing secret.
 */
export class VerificationStepError extends Error {
  constructor(
    readonly step: VerificationStep,
    readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = 'VerificationStepError';
  }

  toResult(): VerificationFailure {
    return { ok: false, step: this.step, host: this.host, message: this.message };
  }
}

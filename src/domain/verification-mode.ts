// How strictly registry credentials are verified before they are saved.

/**
 * `off` saves without asking the registry; `warn` asks and saves anyway, with a warning when the
 * registry does not accept the credentials; `enforce` refuses the call then.
 */
export const verificationModes = ['off', 'warn', 'enforce'] as const;

export type VerificationMode = (typeof verificationModes)[number];

/** The rule a mode must follow, worded for messages and documents alike. */
export const verificationModeRule = `must be ${verificationModes.slice(0, -1).join(', ')} or ${
  verificationModes[verificationModes.length - 1]
}`;

/**
 * The mode that `value` names, or undefined when it names none.
 *
 * @example parseVerificationMode('enforce') // 'enforce'
 */
export function parseVerificationMode(value: unknown): VerificationMode | undefined {
  return verificationModes.find((mode) => mode === value);
}

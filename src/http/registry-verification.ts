// Asking the registry whether it accepts the credentials before a configuration is saved, and
// what each verification mode makes of the answer.

import type { FastifyBaseLogger } from 'fastify';
import type { ImageConfigFields } from '../domain/image-config.js';
import type { RegistryCredentials } from '../domain/registry-credentials.js';
import { ApiError, ruleBroken, StatusCode } from '../domain/status.js';
import {
  parseVerificationMode,
  verificationModeRule,
  type VerificationMode,
} from '../domain/verification-mode.js';
import type { CertificateStore } from '../store/certificate-store.js';
import {
  pinnedHostResolver,
  verifyRegistry,
  type HostResolver,
  type VerificationResult,
} from '../verify/registry-verifier.js';

export interface RegistryVerificationOptions {
  /** The mode of a call that names none. */
  defaultMode: VerificationMode;
  /** The bound over all the steps of one verification. */
  timeoutMs: number;
  /** Holds the imported `image` CA, trusted besides the system store. */
  certificates: CertificateStore;
  /** How host names resolve; the OS resolver when absent. */
  resolve?: HostResolver;
  /** Told every result, for the metrics. */
  recordResult?: (result: VerificationResult) => void;
}

/** What the save records and the answer says about the verification. */
export interface VerificationOutcome {
  /** True or false when the registry was asked; undefined with mode `off`. */
  verified?: boolean;
  warnings: string[];
}

/**
 * The mode of one call: `?verify=off|warn|enforce`, else the service's default. Any other value
 * fails with 00001005 naming `verify`.
 *
 * @example verificationModeOf({ verify: 'enforce' }, 'warn') // 'enforce'
 */
export function verificationModeOf(query: unknown, defaultMode: VerificationMode) {
  const value = (query as Record<string, unknown> | undefined)?.verify;
  if (value === undefined) return defaultMode;
  const mode = parseVerificationMode(value);
  if (mode === undefined) throw ruleBroken('verify', verificationModeRule);
  return mode;
}

/** `tls` step on `registry.example.com:443`: the words a client and an operator both read. */
function describeFailure(result: Extract<VerificationResult, { ok: false }>): string {
  // The verifier's messages often start with the host; it is said once, here.
  const prefix = [`${result.host}: `, `${result.host} `].find((start) =>
    result.message.startsWith(start),
  );
  const detail = result.message.slice(prefix?.length ?? 0);
  return `registry verification failed at the ${result.step} step on ${result.host}: ${detail}`;
}

/**
 * Checks `credentials` against the registry as `mode` asks. With `enforce` a failure throws a
 * 400 with status 60001008; with `warn` it becomes a warning. With both `domain` and `ip`, the
 * domain is reached at `ip`, as an edge device whose hosts file maps it there would.
 *
 * @example
 * const outcome = await verifyBeforeSave(credentials, fields, 'warn', options, request.log);
 * await store.save({ ...change, verified: outcome.verified });
 */
export async function verifyBeforeSave(
  credentials: RegistryCredentials,
  fields: ImageConfigFields,
  mode: VerificationMode,
  options: RegistryVerificationOptions,
  logger: FastifyBaseLogger,
): Promise<VerificationOutcome> {
  if (mode === 'off') return { warnings: [] };

  const importedCa = await options.certificates.read('image');
  const resolve =
    fields.domain !== undefined && fields.ip !== undefined
      ? pinnedHostResolver({ [fields.domain]: fields.ip }, options.resolve)
      : options.resolve;
  const started = Date.now();
  const result = await verifyRegistry(credentials, {
    extraCaPem: importedCa ?? undefined,
    timeoutMs: options.timeoutMs,
    resolve,
  });

  const durationMs = Date.now() - started;
  options.recordResult?.(result);
  if (result.ok) {
    logger.info(
      { event: 'registry.verified', mode, registry: credentials.address, open: result.open },
      `${credentials.address} accepted the credentials in ${durationMs} ms`,
    );
    return { verified: true, warnings: result.note === undefined ? [] : [result.note] };
  }

  const message = describeFailure(result);
  logger.warn(
    {
      event: 'registry.verification_failed',
      mode,
      registry: credentials.address,
      step: result.step,
      host: result.host,
      durationMs,
    },
    message,
  );
  if (mode === 'enforce') throw new ApiError(StatusCode.applyFailed, 400, message);
  return {
    verified: false,
    warnings: [`${message}; the configuration was saved anyway (verify=warn)`],
  };
}

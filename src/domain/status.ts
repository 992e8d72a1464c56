// Stable status codes of the API and the one error type that carries them to a client.

/** Every status code the API answers with, each written once. */
export const StatusCode = {
  success: '00000000',
  badBody: '00001001',
  notFound: '00001004',
  ruleBroken: '00001005',
  wrongShape: '00001006',
  rateLimited: '00001007',
  internal: '00001000',
  invalidCertificate: '60001003',
  applyFailed: '60001008',
} as const;

export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/**
 * An error a client is meant to see: a stable status code, the HTTP status a client would expect,
 * and a message naming the field and the rule. Messages never carry secret material.
 *
 * @example throw new ApiError(StatusCode.ruleBroken, 400, 'port: must be from 1 to 65535');
 */
export class ApiError extends Error {
  constructor(
    readonly status: StatusCode,
    readonly httpStatus: number,
    message: string,
  ) {
    // An ApiError is an answer, not a fault: its stack is never logged, and capturing one costs
    // as much as validating the whole request.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'ApiError';
  }
}

/** A broken validation rule: HTTP 400 with status 00001005. */
export function ruleBroken(field: string, rule: string): ApiError {
  return new ApiError(StatusCode.ruleBroken, 400, `${field}: ${rule}`);
}

/** JSON of the wrong shape: HTTP 400 with status 00001006. */
export function wrongShape(field: string, rule: string): ApiError {
  return new ApiError(StatusCode.wrongShape, 400, `${field}: ${rule}`);
}

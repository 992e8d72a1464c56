// The JSON envelope every API answer travels in, and the mapping of errors onto it.

import type { FastifyError, FastifyReply } from 'fastify';
import { ApiError, StatusCode } from '../domain/status.js';
import { StoreError } from '../store/store.js';

export interface Envelope {
  status: StatusCode;
  msg: string;
  warnings?: string[];
  data?: unknown;
}

/** The largest request body accepted, as MEF Center's gateway does. */
export const maxBodyBytes = 1024 * 1024;

/** A success envelope; `warnings` only when there is something to say. */
export function success(msg = 'success', extra: Omit<Envelope, 'status' | 'msg'> = {}): Envelope {
  const envelope: Envelope = { status: StatusCode.success, msg, ...extra };
  if (envelope.warnings?.length === 0) delete envelope.warnings;
  return envelope;
}

/** The refusal of a request without a body, however it came to have none. */
export const emptyBodyMessage = 'body: must not be empty';

/** Framework errors that describe the request body, by Fastify error code. */
const bodyErrors: Record<string, { httpStatus: number; msg: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    httpStatus: 415,
    msg: 'Content-Type: must be application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { httpStatus: 413, msg: 'body: must be at most 1 MiB' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { httpStatus: 400, msg: emptyBodyMessage },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    httpStatus: 400,
    msg: 'body: length does not match Content-Length',
  },
};

/**
 * Turns any error raised while serving a request into an HTTP status and an envelope. Only
 * ApiError and StoreError messages reach the client; anything else is an internal error.
 */
export function errorEnvelope(error: unknown): { httpStatus: number; envelope: Envelope } {
  if (error instanceof ApiError) {
    return { httpStatus: error.httpStatus, envelope: { status: error.status, msg: error.message } };
  }
  if (error instanceof StoreError) {
    return { httpStatus: 503, envelope: { status: StatusCode.applyFailed, msg: error.message } };
  }
  const known = bodyErrors[(error as FastifyError).code ?? ''];
  if (known !== undefined) {
    return {
      httpStatus: known.httpStatus,
      envelope: { status: StatusCode.badBody, msg: known.msg },
    };
  }
  const statusCode = (error as FastifyError).statusCode;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return { httpStatus: statusCode, envelope: { status: StatusCode.badBody, msg: 'bad request' } };
  }
  return {
    httpStatus: 500,
    envelope: { status: StatusCode.internal, msg: 'internal error; see the service log' },
  };
}

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const { httpStatus, envelope } = errorEnvelope(error);
  return reply.code(httpStatus).send(envelope);
}

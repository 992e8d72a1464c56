// Answers to requests the API cannot read as sent: HTTP that Node cannot parse, a URL Fastify
// cannot decode, an empty body, and a body in an encoding or a charset other than plain UTF-8.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ApiError, StatusCode } from '../domain/status.js';
import { socketAddress } from './client-identity.js';
import { emptyBodyMessage, errorEnvelope, type Envelope } from './envelope.js';
import { securityHeaderSet } from './security-headers.js';

/** Refuses a request that carries no body where the route reads one. */
export function emptyBodyError(): ApiError {
  return new ApiError(StatusCode.badBody, 400, emptyBodyMessage);
}

/** Node's parse errors of a request head, by code: the HTTP status and what was wrong. */
const parseErrors: Record<string, { httpStatus: number; msg: string }> = {
  HPE_HEADER_OVERFLOW: {
    httpStatus: 431,
    msg: `headers: must be at most ${maxHeaderSize / 1024} KiB in all`,
  },
  HPE_UNEXPECTED_CONTENT_LENGTH: {
    httpStatus: 400,
    msg: 'Content-Length: must be sent once, and not with Transfer-Encoding',
  },
  HPE_INVALID_CONTENT_LENGTH: {
    httpStatus: 400,
    msg: 'Content-Length: must be sent once, as a number of bytes',
  },
  HPE_INVALID_TRANSFER_ENCODING: {
    httpStatus: 400,
    msg: 'Transfer-Encoding: must be chunked alone, and not sent with Content-Length',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    httpStatus: 408,
    msg: 'request: must arrive in full within the request timeout',
  },
};

/** A whole HTTP/1.1 answer that closes the connection, for a socket Node took from HTTP. */
function closingAnswer(httpStatus: number, envelope: Envelope): string {
  const body = JSON.stringify(envelope);
  const headers = {
    ...securityHeaderSet,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${httpStatus} ${STATUS_CODES[httpStatus]}\r\n${head.join('')}\r\n${body}`;
}

/**
 * Answers a request Node could not parse (Fastify's `clientErrorHandler`) in the envelope, with
 * the security headers, and closes the connection: what follows on it cannot be trusted.
 */
export function answerUnparsableRequest(logger: Logger) {
  return (error: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void => {
    // A client that hung up has nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    const known = parseErrors[error.code ?? ''];
    const httpStatus = known?.httpStatus ?? 400;
    const msg = known?.msg ?? `request: not valid HTTP/1.1 (${error.reason ?? error.code})`;
    logger.info(
      {
        event: 'request.unparsable',
        clientIp: socketAddress(socket),
        code: error.code,
        httpStatus,
      },
      `refused a request that is not valid HTTP: ${msg}`,
    );
    // Destroyed at once, as Node does: a client that sends slowly, or not at all, must not hold
    // the connection open by never reading the answer.
    socket.write(closingAnswer(httpStatus, { status: StatusCode.badBody, msg }));
    socket.destroy();
  };
}

/**
 * Answers an error Fastify raises before routing (its `frameworkErrors`), e.g. a URL with an
 * invalid percent-encoding, in the envelope with the security headers. The request hooks have
 * not run for it, so the request is logged here.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const { httpStatus, envelope } =
    error.code === 'FST_ERR_BAD_URL'
      ? {
          httpStatus: 400,
          envelope: { status: StatusCode.badBody, msg: 'URL: must be validly percent-encoded' },
        }
      : errorEnvelope(error);
  request.log.info(
    {
      event: 'request',
      clientIp: socketAddress(request.raw.socket),
      method: request.method,
      code: error.code,
      statusCode: httpStatus,
    },
    'request',
  );
  return reply.headers(securityHeaderSet).code(httpStatus).send(envelope);
}

/** The charset a Content-Type names, lowercased; undefined when it names none. */
function charsetOf(contentType: string | undefined): string | undefined {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType ?? '')?.[1];
  return charset?.toLowerCase();
}

/** A client-sent token, cut short and stripped to plain characters, for an error message. */
function quoted(value: string): string {
  return JSON.stringify(value.slice(0, 40).replace(/[^\w.+-]/g, '?'));
}

/**
 * Refuses a body the API would misread: compressed (it does not decompress) or in a charset
 * other than UTF-8 (it decodes UTF-8 only). A preParsing hook, so nothing is read first.
 */
export async function refuseUnreadableBody(request: FastifyRequest): Promise<void> {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    throw new ApiError(
      StatusCode.badBody,
      415,
      `Content-Encoding: must be identity; the API does not decompress ${quoted(encoding)}`,
    );
  }
  const charset = charsetOf(request.headers['content-type']);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(
      StatusCode.badBody,
      415,
      `Content-Type: charset must be utf-8, not ${quoted(charset)}`,
    );
  }
}

/**
 * Refuses a POST that carries no body at all, as one with an empty JSON body is refused: Fastify
 * parses nothing when there is neither a Content-Type nor a body. A preValidation hook.
 */
export async function refuseMissingBody(request: FastifyRequest): Promise<void> {
  if (request.method === 'POST' && request.body === undefined && !request.is404) {
    throw emptyBodyError();
  }
}

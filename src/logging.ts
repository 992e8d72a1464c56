// Structured JSON logs. No secret is ever handed to a logger; the redaction is a second fence.

import pino, { type Logger } from 'pino';

/** Keys that must never reach a log line, whatever object carries them. */
const redactedPaths = [
  'password',
  '*.password',
  'body',
  '*.body',
  'req.headers.authorization',
  'headers.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'mef-image-config' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
    },
    destination,
  );
}

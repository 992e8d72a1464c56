// Runs one registry verification in its own process, so that it resolves names through a
// private hosts file: reads the request as JSON on stdin and prints the result as JSON.
//
// stdin:  { "host", "port", "account", "password", "extraCaPem"?, "timeoutMs"? }
// stdout: { "result": VerificationResult, "elapsedMs": number }

import { text } from 'node:stream/consumers';
import { RegistryCredentials } from '../../../src/domain/registry-credentials.js';
import { verifyRegistry } from '../../../src/verify/registry-verifier.js';

interface VerifyRequest {
  host: string;
  port: number;
  account: string;
  password: string;
  extraCaPem?: string;
  timeoutMs?: number;
}

const request = JSON.parse(await text(process.stdin)) as VerifyRequest;
const credentials = new RegistryCredentials(
  request.host,
  request.port,
  request.account,
  Buffer.from(request.password, 'utf8'),
);

const started = Date.now();
try {
  const result = await verifyRegistry(credentials, {
    extraCaPem: request.extraCaPem,
    timeoutMs: request.timeoutMs,
  });
  process.stdout.write(`${JSON.stringify({ result, elapsedMs: Date.now() - started })}\n`);
} finally {
  credentials.wipe();
}

// The benchmark's floor: a bare Node.js HTTPS server on the service's TLS settings that reads
// each request and answers one fixed envelope, so the figures show what TLS and HTTP alone cost.
//
// Started by bench/run.ts with BENCH_TLS_CERT, BENCH_TLS_KEY, BENCH_TLS_CA (PEM files) and
// BENCH_PORT (0 for any); prints the bound port on its first line of output.

import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { httpsServerOptions } from '../src/http/tls-policy.js';
import { loadTlsMaterial } from '../src/pki/tls-material.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name}: must be set`);
  return value;
}

const envelope = Buffer.from(JSON.stringify({ status: '00000000', msg: 'success' }));
const headers = { 'content-type': 'application/json; charset=utf-8' };

const material = await loadTlsMaterial({
  cert: required('BENCH_TLS_CERT'),
  key: required('BENCH_TLS_KEY'),
  clientCa: required('BENCH_TLS_CA'),
});

// The API listener's own TLS options: mutual TLS, the same versions and suites.
const server = createServer(httpsServerOptions(material), (request, response) => {
  request.on('data', () => undefined);
  request.on('end', () => {
    response.writeHead(200, { ...headers, 'content-length': envelope.length });
    response.end(envelope);
  });
});

server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

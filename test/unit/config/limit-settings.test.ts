// The hardening settings: limits, timeouts, the CRL and the password advice; their defaults,
// the messages of a bad value, and their rows in the README.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { loadSettings, SettingsError, settingDefaults } from '../../../src/config/settings.js';

const hardeningSettings = [
  'MEF_RATE_LIMIT',
  'MEF_RATE_BURST',
  'MEF_MAX_CONNECTIONS_PER_IP',
  'MEF_HEADERS_TIMEOUT_MS',
  'MEF_REQUEST_TIMEOUT_MS',
  'MEF_SHUTDOWN_TIMEOUT_MS',
  'MEF_REQUIRE_STRONG_PASSWORD',
] as const;

function refusal(env: Record<string, string>): string {
  try {
    loadSettings(env);
  } catch (error) {
    assert.ok(error instanceof SettingsError, String(error));
    return error.message;
  }
  return assert.fail(`${JSON.stringify(env)} was accepted`);
}

describe('the limit settings', () => {
  it('default to 10 requests per second in bursts of 5, 5 connections and short timeouts', () => {
    const settings = loadSettings({});
    assert.deepEqual(settings.limits, {
      ratePerSecond: 10,
      burst: 5,
      maxConnectionsPerIp: 5,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      shutdownTimeoutMs: 10_000,
    });
    assert.equal(settings.requireStrongPassword, false);
    assert.equal(settings.tls.crlFile, undefined);
  });

  it('take their values, `off` for the rate and a CRL file', () => {
    const settings = loadSettings({
      MEF_RATE_LIMIT: '0.5',
      MEF_RATE_BURST: '1',
      MEF_MAX_CONNECTIONS_PER_IP: '100',
      MEF_HEADERS_TIMEOUT_MS: '2000',
      MEF_REQUEST_TIMEOUT_MS: '2000',
      MEF_SHUTDOWN_TIMEOUT_MS: '0',
      MEF_REQUIRE_STRONG_PASSWORD: 'true',
      MEF_TLS_CRL: '/etc/mef/clients.crl',
    });
    assert.deepEqual(settings.limits, {
      ratePerSecond: 0.5,
      burst: 1,
      maxConnectionsPerIp: 100,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 2000,
      shutdownTimeoutMs: 0,
    });
    assert.equal(settings.requireStrongPassword, true);
    assert.equal(settings.tls.crlFile, '/etc/mef/clients.crl');
    assert.equal(loadSettings({ MEF_RATE_LIMIT: 'off' }).limits.ratePerSecond, undefined);
  });

  it('stop start-up on a bad value, naming the variable and the rule', () => {
    for (const rate of ['0', '-1', 'fast', '1e3', '100001']) {
      assert.match(refusal({ MEF_RATE_LIMIT: rate }), /^MEF_RATE_LIMIT: must be off or a number/);
    }
    assert.equal(
      refusal({ MEF_RATE_BURST: '0' }),
      'MEF_RATE_BURST: must be a whole number of requests from 1 to 100000, got "0"',
    );
    assert.match(
      refusal({ MEF_MAX_CONNECTIONS_PER_IP: '2.5' }),
      /^MEF_MAX_CONNECTIONS_PER_IP: must be a whole number of connections/,
    );
    assert.match(
      refusal({ MEF_HEADERS_TIMEOUT_MS: '99' }),
      /^MEF_HEADERS_TIMEOUT_MS: must be a whole number of milliseconds from 100/,
    );
    assert.equal(
      refusal({ MEF_HEADERS_TIMEOUT_MS: '5000', MEF_REQUEST_TIMEOUT_MS: '4000' }),
      'MEF_REQUEST_TIMEOUT_MS: must not be shorter than MEF_HEADERS_TIMEOUT_MS (5000)',
    );
    assert.match(refusal({ MEF_SHUTDOWN_TIMEOUT_MS: 'never' }), /^MEF_SHUTDOWN_TIMEOUT_MS: /);
    assert.equal(
      refusal({ MEF_REQUIRE_STRONG_PASSWORD: 'yes' }),
      'MEF_REQUIRE_STRONG_PASSWORD: must be true or false, got "yes"',
    );
  });

  it('are in the README settings table with their defaults', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const name of hardeningSettings) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      assert.ok(row !== undefined, `${name} has no row in the README`);
      assert.ok(row.includes(`| \`${settingDefaults[name]}\` |`), `${name}: ${row}`);
    }
    assert.ok(readme.includes('| `MEF_TLS_CRL` | none |'));
  });
});

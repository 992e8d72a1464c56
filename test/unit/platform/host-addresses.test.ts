import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { hostIpv4Addresses } from '../../../src/platform/host-addresses.js';

describe('hostIpv4Addresses', () => {
  it('lists every IPv4 address of every interface, loopback included', () => {
    const expected = Object.values(os.networkInterfaces())
      .flat()
      .filter((entry) => entry?.family === 'IPv4')
      .map((entry) => entry!.address);
    assert.deepEqual([...hostIpv4Addresses()].sort(), [...new Set(expected)].sort());
    assert.ok(hostIpv4Addresses().has('127.0.0.1'));
  });

  it('hands each caller its own copy of the reused reading', () => {
    const first = hostIpv4Addresses();
    first.add('192.0.2.200');
    first.delete('127.0.0.1');
    const second = hostIpv4Addresses();
    assert.equal(second.has('192.0.2.200'), false);
    assert.ok(second.has('127.0.0.1'));
  });
});

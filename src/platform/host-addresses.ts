// The IPv4 addresses of this host's own network interfaces.

import os from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * How long a reading of the interfaces is reused. Listing them is a system call that costs more
 * than validating a whole request; an address added in the last second is seen a second late.
 */
export const hostAddressesMaxAgeMs = 1000;

let lastReading: { addresses: ReadonlySet<string>; at: number } | undefined;

/** Every IPv4 address bound to an interface of this host, at most a second old; a copy. */
export function hostIpv4Addresses(): Set<string> {
  const now = performance.now();
  if (lastReading === undefined || now - lastReading.at >= hostAddressesMaxAgeMs) {
    const addresses = new Set<string>();
    for (const entries of Object.values(os.networkInterfaces())) {
      for (const entry of entries ?? []) {
        if (entry.family === 'IPv4') addresses.add(entry.address);
      }
    }
    lastReading = { addresses, at: now };
  }
  return new Set(lastReading.addresses);
}

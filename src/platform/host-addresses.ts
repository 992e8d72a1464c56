// The IPv4 addresses of this host's own network interfaces.

import os from 'node:os';

/** Every IPv4 address bound to an interface of this host, read afresh on each call. */
export function hostIpv4Addresses(): Set<string> {
  const addresses = new Set<string>();
  for (const entries of Object.values(os.networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.family === 'IPv4') addresses.add(entry.address);
    }
  }
  return addresses;
}

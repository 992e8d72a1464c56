// How the verifier turns host names into addresses: the OS resolver by default, or names pinned
// to the address an edge device's hosts file will give them.

import { lookup as lookupHost, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/** Resolves a host name to its addresses; an error carries a `code` such as `ENOTFOUND`. */
export type HostResolver = (hostname: string) => Promise<LookupAddress[]>;

/** The OS resolver (getaddrinfo: /etc/hosts, then DNS), as every HTTP client uses it. */
export const systemResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) => {
    lookupHost(hostname, { all: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/**
 * Resolves the pinned names to their given addresses and every other name through `fallback`.
 * This checks a registry the way an edge device will reach it when its hosts file maps the
 * registry domain to the configured `ip`, which the service's own DNS may not know.
 *
 * @example pinnedHostResolver({ 'registry.example.com': '10.10.10.10' })
 */
export function pinnedHostResolver(
  pins: Record<string, string>,
  fallback: HostResolver = systemResolver,
): HostResolver {
  // Host names are case-insensitive, and so is the hosts file.
  const pinned = new Map<string, LookupAddress>();
  for (const [name, address] of Object.entries(pins)) {
    const family = isIP(address);
    if (family === 0) throw new TypeError(`pinned address of ${name}: not an IP address`);
    pinned.set(name.toLowerCase(), { address, family });
  }
  return async (hostname) => {
    const address = pinned.get(hostname.toLowerCase());
    return address === undefined ? fallback(hostname) : [address];
  };
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: 'ENOTFOUND',
    hostname,
  });
}

/** Adapts a {@link HostResolver} to the callback `lookup` option of node:net and node:https. */
export function toLookupFunction(resolver: HostResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname).then(
      (addresses) => {
        const family = options.family;
        const wanted =
          family === 4 || family === 6
            ? addresses.filter((address) => address.family === family)
            : addresses;
        const first = wanted[0];
        if (first === undefined) callback(notFound(hostname), '', 0);
        else if (options.all) callback(null, wanted);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

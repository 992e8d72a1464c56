// The credentials an edge device uses to pull from a private registry, and how they render as a
// standard Docker config (`~/.docker/config.json`, a `.dockerconfigjson` Secret).

/** The Docker config shape that docker, podman, containerd, skopeo and kubelet read. */
export interface DockerConfig {
  auths: Record<string, { username: string; password: string; auth: string }>;
}

/** The port that clients leave out of image references. */
export const defaultRegistryPort = 443;

/**
 * A registry address, an account and the password bytes. The password lives in a Buffer that
 * {@link RegistryCredentials.wipe} zeroes once the credentials are no longer needed.
 *
 * @example
 * const credentials = new RegistryCredentials('registry.example.com', 443, 'robot', password);
 * const file = credentials.toDockerConfigJson();
 */
export class RegistryCredentials {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly account: string,
    readonly password: Buffer,
  ) {}

  /** `host:port`, the key a client matches against the image reference. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * Clients match the auth key against the image reference exactly, and images on 443 are
   * usually written without the port, so that case gets both keys.
   */
  get configKeys(): string[] {
    return this.port === defaultRegistryPort ? [this.address, this.host] : [this.address];
  }

  /** The `Authorization: Basic` token: standard padded base64 of `account:password`. */
  basicAuthToken(): string {
    const joined = Buffer.concat([Buffer.from(`${this.account}:`, 'utf8'), this.password]);
    const token = joined.toString('base64');
    joined.fill(0);
    return token;
  }

  /**
   * The Docker config as JSON bytes. Built with a JSON serializer so that `"` or `\` in a
   * password survive; the caller zeroes the returned Buffer after writing it.
   */
  toDockerConfigJson(): Buffer {
    const entry = {
      username: this.account,
      password: this.password.toString('utf8'),
      auth: this.basicAuthToken(),
    };
    const config: DockerConfig = { auths: {} };
    for (const key of this.configKeys) config.auths[key] = entry;
    return Buffer.from(`${JSON.stringify(config, null, 2)}\n`, 'utf8');
  }

  /** Zeroes the password bytes. */
  wipe(): void {
    this.password.fill(0);
  }
}

/** The Docker config that grants nothing: what a store holds before the first configuration. */
export function emptyDockerConfigJson(): Buffer {
  return Buffer.from(`${JSON.stringify({ auths: {} }, null, 2)}\n`, 'utf8');
}

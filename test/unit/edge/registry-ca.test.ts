// Tests of `mef-edge registry-ca` under a temporary --root: the files, their modes, containerd's
// hosts.toml, the port-less copies for 443, the config_path hint, and remove undoing it all.

import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ExitCode } from '../../../src/edge/edge-error.js';
import {
  containerdHostsToml,
  installRegistryCa,
  parseRegistryAddress,
  removeRegistryCa,
} from '../../../src/edge/registry-ca.js';
import { createCertificateAuthority } from '../../../src/pki/certificate-authority.js';
import { x509 } from '../../../src/pki/x509.js';
import { runMefEdge } from './support/run-mef-edge.js';

const address = 'reg.example.com:5000';
const dockerCa = `/etc/docker/certs.d/${address}/ca.crt`;
const containerdCa = `/etc/containerd/certs.d/${address}/ca.crt`;
const hostsToml = `/etc/containerd/certs.d/${address}/hosts.toml`;

let directory: string;
let caFile: string;
let caPem: string;
/** The certificate as installed: the PEM block alone, ending in a newline. */
let installedPem: string;
let weakCaFile: string;
let root: string;

before(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'mef-edge-registry-ca-'));
  const authority = await createCertificateAuthority('Registry CA for registry-ca tests', 30);
  caPem = authority.certificatePem;
  installedPem = `${caPem.trim()}\n`;
  caFile = path.join(directory, 'ca.pem');
  await writeFile(caFile, caPem);

  const keys = await webcrypto.subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ['sign', 'verify'],
  );
  const weak = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Weak CA',
    keys,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  weakCaFile = path.join(directory, 'weak-ca.pem');
  await writeFile(weakCaFile, weak.toString('pem'));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await mkdtemp(path.join(directory, 'root-'));
});

const inRoot = (file: string) => path.join(root, file);
const options = (registryAddress = address) => ({
  root,
  address: registryAddress,
  lockWaitSeconds: 10,
});

/** Every file and directory under the root, relative, sorted; the lock directory's parent aside. */
async function tree(): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return entries.filter((entry) => !entry.startsWith('run')).sort();
}

describe('parseRegistryAddress', () => {
  it('takes a host name or a dotted quad with a port', () => {
    assert.deepEqual(parseRegistryAddress('reg.example.com:5000'), {
      host: 'reg.example.com',
      port: 5000,
      address: 'reg.example.com:5000',
    });
    assert.equal(parseRegistryAddress('10.0.0.5:443').host, '10.0.0.5');
  });

  it('refuses a scheme, a path, an IPv6 literal, a missing port and a bad host', () => {
    const cases: [string, RegExp][] = [
      ['https://reg.example.com:5000', /without a scheme/],
      ['reg.example.com:5000/v2', /without a path/],
      ['[fd00::1]:5000', /IPv6 literal/],
      ['fd00::1', /IPv6 literal/],
      ['reg.example.com', /must carry a port/],
      ['reg.example.com:0', /port must be an integer from 1 to 65535/],
      ['reg.example.com:http', /port must be an integer/],
      ['reg_1.example.com:5000', /host may hold only letters/],
      ['localhost:5000', /host must not name this host/],
      ['reg.example.com:05000', /port must be written without leading zeros/],
      ['reg.example.com:00443', /port must be written without leading zeros/],
      ['reg.example.com:65536', /port must be an integer from 1 to 65535/],
      ['reg.example.com:123456', /port must be an integer from 1 to 65535/],
      ['127.0.0.1:5000', /host must not be a loopback address/],
      ['0.0.0.0:5000', /host must not be in 0\.0\.0\.0\/8/],
      ['224.0.0.1:5000', /host must not be a multicast address/],
      ['169.254.1.1:5000', /host must not be link-local/],
      ['255.255.255.255:5000', /host must not be the broadcast address/],
      ['010.1.1.1:5000', /host is read as an IPv4 address; write it as a dotted quad/],
      ['0x7f.1:5000', /host is read as an IPv4 address/],
      ['2130706433:5000', /host is read as an IPv4 address/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => parseRegistryAddress(value),
        (error: Error & { exitCode?: number }) =>
          error.exitCode === ExitCode.usage &&
          /^address: /.test(error.message) &&
          message.test(error.message),
        value,
      );
      assert.throws(
        () => parseRegistryAddress(value),
        (error: Error) => !error.message.includes('put addresses in ip'),
        value,
      );
    }
  });

  it('takes the ends of the port range', () => {
    assert.equal(parseRegistryAddress('reg.example.com:1').port, 1);
    assert.equal(parseRegistryAddress('reg.example.com:65535').port, 65535);
  });
});

describe('registry-ca install and remove', () => {
  it('installs for Docker and containerd, with modes, hosts.toml and the hint', async () => {
    const result = await runMefEdge([
      'registry-ca',
      'install',
      '--root',
      root,
      `--address=${address}`,
      `--cert=${caFile}`,
    ]);

    assert.equal(result.code, ExitCode.ok, result.stderr);
    for (const file of [dockerCa, containerdCa]) {
      assert.equal(await readFile(inRoot(file), 'utf8'), installedPem, file);
      assert.equal((await stat(inRoot(file))).mode & 0o7777, 0o644, file);
    }
    for (const folder of ['/etc/docker/certs.d', `/etc/containerd/certs.d/${address}`]) {
      assert.equal((await stat(inRoot(folder))).mode & 0o7777, 0o755, folder);
    }
    assert.equal(
      await readFile(inRoot(hostsToml), 'utf8'),
      [
        '# Written by mef-edge registry-ca install; mef-edge registry-ca remove deletes it.',
        `server = "https://${address}"`,
        '',
        `[host."https://${address}"]`,
        '  capabilities = ["pull", "resolve"]',
        `  ca = "${containerdCa}"`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(await tree(), [
      'etc',
      'etc/containerd',
      'etc/containerd/certs.d',
      `etc/containerd/certs.d/${address}`,
      `etc/containerd/certs.d/${address}/ca.crt`,
      `etc/containerd/certs.d/${address}/hosts.toml`,
      'etc/docker',
      'etc/docker/certs.d',
      `etc/docker/certs.d/${address}`,
      `etc/docker/certs.d/${address}/ca.crt`,
    ]);
    assert.match(result.stdout, /ECDSA P-256, SHA-256/);
    assert.match(result.stderr, /^hint: .*config\.toml was not found/m);
    assert.match(result.stderr, /config_path = "\/etc\/containerd\/certs\.d"/);
  });

  it('hints only while config.toml does not set config_path to certs.d', async () => {
    const configFile = inRoot('/etc/containerd/config.toml');
    await mkdir(path.dirname(configFile), { recursive: true });
    const hintFor = async (config: string) => {
      await writeFile(configFile, config);
      return (await installRegistryCa(caFile, options())).hint;
    };

    const registrySection = '[plugins."io.containerd.grpc.v1.cri".registry]\n';
    assert.match(
      (await hintFor('version = 2\n')) ?? '',
      /does not set config_path, so containerd ignores/,
    );
    assert.match(
      (await hintFor(`${registrySection}  # config_path = "/etc/containerd/certs.d"\n`)) ?? '',
      /does not set config_path/,
    );
    assert.match(
      (await hintFor(`${registrySection}  config_path = "/opt/certs.d"\n`)) ?? '',
      /is "\/opt\/certs.d",\s+which does not list \/etc\/containerd\/certs.d/,
    );
    assert.equal(
      await hintFor(`${registrySection}  config_path = "/etc/containerd/certs.d"\n`),
      undefined,
    );
    assert.equal(
      await hintFor(
        `${registrySection}  config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"`,
      ),
      undefined,
    );
  });

  it('also fills the port-less directories for port 443', async () => {
    const result = await installRegistryCa(caFile, options('reg.example.com:443'));

    for (const name of ['reg.example.com:443', 'reg.example.com']) {
      assert.equal(
        await readFile(inRoot(`/etc/docker/certs.d/${name}/ca.crt`), 'utf8'),
        installedPem,
      );
      assert.equal(
        await readFile(inRoot(`/etc/containerd/certs.d/${name}/ca.crt`), 'utf8'),
        installedPem,
      );
      const toml = await readFile(inRoot(`/etc/containerd/certs.d/${name}/hosts.toml`), 'utf8');
      assert.ok(toml.includes('server = "https://reg.example.com:443"'), toml);
      assert.ok(toml.includes(`  ca = "/etc/containerd/certs.d/${name}/ca.crt"`), toml);
    }
    assert.equal(result.files.length, 6);
  });

  it('remove undoes everything install did', async () => {
    await installRegistryCa(caFile, options('reg.example.com:443'));
    await installRegistryCa(caFile, options());
    // A second install of another CA leaves backups, which remove takes too.
    await writeFile(inRoot(dockerCa), 'previous\n');
    await installRegistryCa(caFile, options());
    assert.equal(await readFile(inRoot(`${dockerCa}.bak`), 'utf8'), 'previous\n');

    const removed = await runMefEdge([
      'registry-ca',
      'remove',
      '--root',
      root,
      '--address',
      address,
    ]);
    assert.equal(removed.code, ExitCode.ok, removed.stderr);
    assert.match(removed.stdout, /removed the CA certificate for reg.example.com:5000/);
    await removeRegistryCa(options('reg.example.com:443'));

    assert.deepEqual(await tree(), [
      'etc',
      'etc/containerd',
      'etc/containerd/certs.d',
      'etc/docker',
      'etc/docker/certs.d',
    ]);
    assert.deepEqual(await removeRegistryCa(options()), [], 'a second remove finds nothing');
  });

  it('applies installs for several registries that run at once', async () => {
    const addresses = ['a.example.com:5000', 'b.example.com:5001', 'c.example.com:443'];

    await Promise.all(addresses.map((each) => installRegistryCa(caFile, options(each))));

    for (const each of addresses) {
      assert.equal(
        await readFile(inRoot(`/etc/docker/certs.d/${each}/ca.crt`), 'utf8'),
        installedPem,
      );
    }
    assert.equal(
      await readFile(inRoot('/etc/docker/certs.d/c.example.com/ca.crt'), 'utf8'),
      installedPem,
    );
  });

  it('keeps files that are not its own in a registry directory', async () => {
    const clientCert = inRoot(`/etc/docker/certs.d/${address}/client.cert`);
    await mkdir(path.dirname(clientCert), { recursive: true });
    await writeFile(clientCert, 'client certificate\n');

    await installRegistryCa(caFile, options());
    await removeRegistryCa(options());

    assert.equal(await readFile(clientCert, 'utf8'), 'client certificate\n');
    assert.deepEqual(await readdir(path.dirname(clientCert)), ['client.cert']);
  });

  it('keeps the mode and owner of a ca.crt it replaces, and a backup', async () => {
    await mkdir(path.dirname(inRoot(dockerCa)), { recursive: true });
    await writeFile(inRoot(dockerCa), 'old ca\n', { mode: 0o600 });
    await chmod(inRoot(dockerCa), 0o600);
    const isRoot = process.getuid?.() === 0;
    if (isRoot) await chown(inRoot(dockerCa), 4321, 8765);
    const before = await stat(inRoot(dockerCa));

    await installRegistryCa(caFile, options());

    for (const file of [dockerCa, `${dockerCa}.bak`]) {
      const after = await stat(inRoot(file));
      assert.equal(after.mode & 0o7777, 0o600, file);
      assert.equal(after.uid, before.uid, file);
      assert.equal(after.gid, before.gid, file);
    }
    assert.equal(await readFile(inRoot(dockerCa), 'utf8'), installedPem);
    assert.equal(await readFile(inRoot(`${dockerCa}.bak`), 'utf8'), 'old ca\n');
  });

  it('refuses a bad address with exit code 2 and a weak CA with 4, writing nothing', async () => {
    const badAddress = await runMefEdge([
      'registry-ca',
      'install',
      '--root',
      root,
      '--address',
      'https://reg.example.com:5000',
      '--cert',
      caFile,
    ]);
    const weakCa = await runMefEdge([
      'registry-ca',
      'install',
      '--root',
      root,
      '--address',
      address,
      '--cert',
      weakCaFile,
    ]);
    const missingCert = await runMefEdge([
      'registry-ca',
      'install',
      '--root',
      root,
      '--address',
      address,
      '--cert',
      path.join(directory, 'absent.pem'),
    ]);
    const missingAddress = await runMefEdge([
      'registry-ca',
      'install',
      '--root',
      root,
      '--cert',
      caFile,
    ]);

    assert.equal(badAddress.code, ExitCode.usage, badAddress.stderr);
    assert.match(badAddress.stderr, /address: must be a bare host:port, without a scheme/);
    assert.equal(weakCa.code, ExitCode.certificateRejected, weakCa.stderr);
    assert.match(weakCa.stderr, /certificate: RSA key of 2048 bits; at least 3072 required/);
    assert.equal(missingCert.code, ExitCode.usage, missingCert.stderr);
    assert.match(missingCert.stderr, /cert: cannot read .*absent\.pem/);
    assert.equal(missingAddress.code, ExitCode.usage, missingAddress.stderr);
    assert.match(missingAddress.stderr, /required option '--address <host:port>'/);
    assert.deepEqual(await tree(), []);
  });

  it('leaves every file as it was when one of them cannot be written', async () => {
    // containerd's certs.d is a plain file, so nothing can be created beneath it.
    await mkdir(inRoot('/etc/containerd'), { recursive: true });
    await writeFile(inRoot('/etc/containerd/certs.d'), 'in the way\n');
    const before = await tree();

    await assert.rejects(
      installRegistryCa(caFile, options()),
      (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, ExitCode.failure);
        assert.match(error.message, /nothing installed, every file is as it was: ENOTDIR/);
        return true;
      },
    );

    assert.deepEqual(await tree(), before, 'the Docker files staged first are gone again');
  });
});

describe('containerdHostsToml', () => {
  it('uses the absolute ca path it is given', () => {
    const toml = containerdHostsToml(parseRegistryAddress('10.0.0.5:8443'), '/x/ca.crt');

    assert.match(toml, /^server = "https:\/\/10\.0\.0\.5:8443"$/m);
    assert.match(toml, /^\[host\."https:\/\/10\.0\.0\.5:8443"\]$/m);
    assert.match(toml, /^ {2}ca = "\/x\/ca\.crt"$/m);
  });
});

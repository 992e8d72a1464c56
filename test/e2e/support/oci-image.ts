// Builds a tiny valid OCI image layout on disk, byte for byte, for pushing to a test registry.

import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const mediaTypes = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const tarBlockSize = 512;

/** A fixed timestamp keeps the layer, and so every digest, the same from run to run. */
const fixedTime = new Date('2024-01-01T00:00:00Z');

export interface OciImageLayout {
  /** The layout directory, for `skopeo copy oci:<directory>:<tag>`. */
  directory: string;
  tag: string;
  /** The manifest digest, which a registry reports for the pushed image. */
  manifestDigest: string;
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function writeField(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value, offset, length, 'ascii');
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** One regular file as a POSIX ustar archive: header, content padded to 512, end blocks. */
function tarWithOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(tarBlockSize);
  writeField(header, 0, 100, name);
  writeField(header, 100, 8, octal(0o644, 8));
  writeField(header, 108, 8, octal(0, 8));
  writeField(header, 116, 8, octal(0, 8));
  writeField(header, 124, 12, octal(content.length, 12));
  writeField(header, 136, 12, octal(Math.floor(fixedTime.getTime() / 1000), 12));
  header.fill(' ', 148, 156);
  writeField(header, 156, 1, '0');
  writeField(header, 257, 6, 'ustar\0');
  writeField(header, 263, 2, '00');
  writeField(header, 265, 32, 'root');
  writeField(header, 297, 32, 'root');

  // The checksum is the byte sum of the header with its own field read as spaces.
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  writeField(header, 148, 8, `${checksum.toString(8).padStart(6, '0')}\0 `);

  const padding = (tarBlockSize - (content.length % tarBlockSize)) % tarBlockSize;
  return Buffer.concat([header, content, Buffer.alloc(padding), Buffer.alloc(2 * tarBlockSize)]);
}

function ociArchitecture(): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm' };
  return names[process.arch] ?? process.arch;
}

/**
 * Writes an OCI image layout with one gzip layer holding `/hello.txt`, its config (with
 * `rootfs.diff_ids`), a manifest, `index.json` tagging it, and the `oci-layout` marker.
 *
 * @example const layout = await writeOciImageLayout('/tmp/x/layout', '1.0');
 */
export async function writeOciImageLayout(directory: string, tag: string): Promise<OciImageLayout> {
  const blobs = path.join(directory, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const writeBlob = async (data: Buffer) => {
    const digest = sha256(data);
    await writeFile(path.join(blobs, digest.slice('sha256:'.length)), data);
    return { digest, size: data.length };
  };

  const tar = tarWithOneFile('hello.txt', Buffer.from('hello from the MEF test registry\n'));
  const layer = await writeBlob(gzipSync(tar));

  const config = await writeBlob(
    Buffer.from(
      JSON.stringify({
        created: fixedTime.toISOString(),
        architecture: ociArchitecture(),
        os: 'linux',
        config: { Cmd: ['/hello.txt'] },
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
        history: [{ created: fixedTime.toISOString(), created_by: 'mef end-to-end test' }],
      }),
    ),
  );

  const manifest = await writeBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mediaTypes.manifest,
        config: { mediaType: mediaTypes.config, ...config },
        layers: [{ mediaType: mediaTypes.layer, ...layer }],
      }),
    ),
  );

  const index = {
    schemaVersion: 2,
    mediaType: mediaTypes.index,
    manifests: [
      {
        mediaType: mediaTypes.manifest,
        ...manifest,
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  await writeFile(path.join(directory, 'index.json'), JSON.stringify(index));
  await writeFile(
    path.join(directory, 'oci-layout'),
    JSON.stringify({ imageLayoutVersion: '1.0.0' }),
  );
  return { directory, tag, manifestDigest: manifest.digest };
}

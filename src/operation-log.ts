// The operation log: one line per state-changing call (`who@ip action result`) in its own file
// under $MEF_DATA_DIR/logs/, rotated by size and readable by the service's user only.

import { once } from 'node:events';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { createStream } from 'rotating-file-stream';
import { secretFileMode } from './files/atomic-write.js';
import { createLogger } from './logging.js';

/** Where the operation log lives and how it rotates, written once for the code and the README. */
export const operationLogFiles = {
  directory: 'logs',
  file: 'operations.log',
  /** The live file is renamed to `operations.log.1` when it reaches this size. */
  rotateAtSize: '10M',
  /** Rotated files kept: `operations.log.1` (newest) to `operations.log.10`. */
  keep: 10,
} as const;

export interface OperationLog {
  logger: Logger;
  /** The live file. */
  path: string;
  /** Writes out what is buffered and closes the file. */
  close(): Promise<void>;
}

/**
 * Opens the operation log of `dataDir`. The log holds who changed what and from where, which is
 * worth protecting like the history in the database: files are created with mode 0600. Each
 * line also goes to `serviceLogger`'s destination, and so do write errors.
 *
 * @example const operations = await openOperationLog(settings.dataDir, logger);
 */
export async function openOperationLog(
  dataDir: string,
  serviceLogger: Logger,
  options: { rotateAtSize?: string } = {},
): Promise<OperationLog> {
  const directory = path.join(dataDir, operationLogFiles.directory);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const file = path.join(directory, operationLogFiles.file);

  const stream = createStream(operationLogFiles.file, {
    path: directory,
    size: options.rotateAtSize ?? operationLogFiles.rotateAtSize,
    rotate: operationLogFiles.keep,
    mode: secretFileMode,
  });
  await once(stream, 'open');
  stream.on('error', (error: NodeJS.ErrnoException) => {
    serviceLogger.error(
      { event: 'operation_log.failed', file, reason: error.code ?? error.message },
      'cannot write the operation log',
    );
  });
  // The mode given applies when the file is created; an older file may have another.
  await chmod(file, secretFileMode);

  const destinations: pino.StreamEntry[] = [{ stream }];
  if (serviceLogger.isLevelEnabled('info')) {
    // Operators who read the service log (a container's output) see the operations there too.
    const serviceStream = (serviceLogger as unknown as Record<symbol, pino.DestinationStream>)[
      pino.symbols.streamSym
    ];
    if (serviceStream !== undefined) destinations.push({ stream: serviceStream });
  }

  return {
    logger: createLogger('info', pino.multistream(destinations)),
    path: file,
    async close() {
      if (stream.destroyed) return;
      const finished = once(stream, 'finish');
      stream.end();
      await finished;
    },
  };
}

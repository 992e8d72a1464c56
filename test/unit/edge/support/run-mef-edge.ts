// Runs the mef-edge command line as a real process, the way an operator would.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../../../..', import.meta.url));

export interface EdgeRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `node --import tsx src/cli/mef-edge.ts ...args`, resolved to its exit code and output.
 *
 * @example const { code } = await runMefEdge(['domainconfig', '--list', '--hosts-file', file]);
 */
export function runMefEdge(args: string[]): Promise<EdgeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/mef-edge.ts', ...args], {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

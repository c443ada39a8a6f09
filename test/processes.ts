/** Processes for tests of what a killed run leaves behind. */

import { spawn } from 'node:child_process';

/** The id of a process that was killed with SIGKILL and has exited (no longer running). */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  child.kill('SIGKILL');
  await exited;
  return child.pid as number;
}

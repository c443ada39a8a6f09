/** Child processes in tests: commands whose failures show their output, and dead pids. */

import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** `npm` as the platform spells it. */
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Runs a command and returns its stdout; a failure (exit code, signal, `timeout` ms) throws with
 * the command, its folder and its whole output, not just the exit code.
 */
export async function sh(cmd: string, args: string[], cwd: string, timeout = 300_000): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed in ${cwd}:\n${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** The id of a process that was killed with SIGKILL and has exited (no longer running). */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  child.kill('SIGKILL');
  await exited;
  return child.pid as number;
}

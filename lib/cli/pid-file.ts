import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/** True if a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in the pid file if that process is alive; a stale file is removed. */
export function readLivePid(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return pid;
  unlinkSync(pidFile);
  return null;
}

export function writePid(pidFile: string, pid: number): void {
  writeFileSync(pidFile, `${pid}\n`);
}

export function removePid(pidFile: string, pid: number): void {
  try {
    if (Number(readFileSync(pidFile, 'utf8').trim()) === pid) unlinkSync(pidFile);
  } catch {
    /* already gone */
  }
}

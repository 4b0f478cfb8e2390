import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `npm start`: the chat sample as GatewayWorker runs it — Register, Gateway and BusinessWorker in
 * separate processes, plus the web server of the chat page. Ctrl-C (or SIGTERM) stops them all;
 * a process that dies is restarted after a second.
 */
const TIERS = ['register', 'gateway', 'business', 'web'] as const;
const children = new Map<string, ChildProcess>();
let stopping = false;

function run(name: (typeof TIERS)[number]): void {
  const entry = fileURLToPath(new URL(`./${name}.main.js`, import.meta.url));
  const child = spawn(process.execPath, [entry], { stdio: 'inherit', env: process.env });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) {
      if (children.size === 0) process.exit(0);
      return;
    }
    console.error(`[start] ${name} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}; restarting in 1 s`);
    setTimeout(() => !stopping && run(name), 1000);
  });
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  console.log('[start] stopping all tiers…');
  for (const child of children.values()) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
    process.exit(0);
  }, 5000).unref();
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const name of TIERS) run(name);
console.log(`[start] chat sample: telnet 127.0.0.1 ${process.env.GW_TEXT_PORT ?? 8282}, or open http://127.0.0.1:${process.env.GW_WEB_PORT ?? 55151}/`);

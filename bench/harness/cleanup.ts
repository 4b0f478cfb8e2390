import { Child } from './child.js';

/** The whole bench never runs longer than this: a hung phase must not keep the machine busy. */
const WATCHDOG_MS = 45 * 60_000;

/** Kills every child process on any way out of the harness: normal exit, Ctrl-C, SIGTERM, a crash. */
export function installCleanup(): void {
  process.on('exit', () => Child.killAll());
  setTimeout(() => {
    console.error(`[bench] still running after ${WATCHDOG_MS / 60_000} min: stopping every bench process`);
    Child.killAll();
    process.exit(1);
  }, WATCHDOG_MS).unref();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\n[bench] ${sig}: stopping every bench process`);
      Child.killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error('[bench] uncaught error:', err);
    Child.killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error('[bench] unhandled rejection:', err);
    Child.killAll();
    process.exit(1);
  });
}

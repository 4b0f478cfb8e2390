/** Rejects with "<what> timed out after N ms" unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every `intervalMs` until it holds; throws after `ms` with `what` and the last `detail()`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  detail: () => string | Promise<string> = () => '',
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) {
      const d = await detail();
      throw new Error(`timed out after ${ms} ms waiting for ${what}${d ? ` (${d})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

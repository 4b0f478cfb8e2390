import type { Socket } from 'node:net';

/** A socket stand-in for unit tests of the gateway's parts: it records writes and pause state, nothing else. */
export function fakeSocket(): Socket & { written: Buffer[]; isPaused(): boolean } {
  const written: Buffer[] = [];
  let paused = false;
  return {
    written,
    destroyed: false,
    writableLength: 0,
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    cork() {},
    uncork() {},
    write(b: Buffer) {
      written.push(Buffer.from(b));
      return true;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
    },
    isPaused: () => paused,
    end() {},
    destroy() {
      (this as { destroyed: boolean }).destroyed = true;
    },
  } as unknown as Socket & { written: Buffer[]; isPaused(): boolean };
}

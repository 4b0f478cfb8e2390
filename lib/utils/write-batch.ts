import type { Socket } from 'node:net';

/**
 * Write coalescing without timers (docs/architecture.md §3): the first write to a socket in an event-loop turn
 * corks it, and every corked socket is uncorked once, in the check phase right after the I/O
 * callbacks of that turn. Everything written to one socket meanwhile — the replies produced while
 * applying one inbound chunk, or all the events of one turn on an inner link — leaves in one
 * `writev`. At low load this adds no latency: the uncork runs before the loop waits again.
 */
const dirty = new Set<Socket>();
let scheduled = false;

function flush(): void {
  scheduled = false;
  for (const socket of dirty) {
    // A destroyed socket drops its buffer anyway; uncork is harmless but skip the work.
    if (!socket.destroyed) socket.uncork();
  }
  dirty.clear();
}

/** Corks `socket` until the end of the current event-loop turn (idempotent within a turn). */
export function corkForThisTurn(socket: Socket): void {
  if (dirty.has(socket)) return;
  socket.cork();
  dirty.add(socket);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

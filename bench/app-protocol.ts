/**
 * The one chat-like app every arm implements, so the arms are compared on the same work.
 *
 * Client → server, one message (a websocket message, a text line, a socket.io `m` event):
 * - `L <uid> <group>`: bind this connection to the uid and add it to the group;
 * - `E <payload>`: send `<payload>` back to this connection (echo);
 * - `B <payload>`: send `<payload>` to every connection (broadcast).
 *
 * Server → client: `Hello <id>` on connect (when the arm is started with hello on), and the
 * payloads, which the harness writes as `<kind> <seq> <t>`: kind `e` (echo), `b` (broadcast) or
 * `u` (a push to a uid), `seq` counting from 1 per receiver and phase (to check order), `t` the
 * sender's monotonic clock in µs (to measure latency across processes).
 */

/** The request letters. */
export const LOGIN = 'L';
export const ECHO = 'E';
export const BROADCAST = 'B';

/** `Hello <id>`. */
export const hello = (id: string | number) => `Hello ${id}`;

/** A payload `<kind> <seq> <t>`. */
export const payload = (kind: 'e' | 'b' | 'u', seq: number, tUs: number) => `${kind} ${seq} ${Math.round(tUs)}`;

/** Parses `<kind> <seq> <t>` (kind already checked); NaNs when malformed. */
export function parsePayload(msg: string): { seq: number; t: number } {
  const sp = msg.indexOf(' ', 2);
  return { seq: Number(msg.slice(2, sp)), t: Number(msg.slice(sp + 1)) };
}

/** The uid and group of client number `n` (over all client processes). */
export const uidOf = (n: number) => `u${n}`;
export const groupOf = (n: number, groups: number) => `g${n % groups}`;

/**
 * The resume envelope: how an opted-in websocket client and a TypeScript gateway keep a client
 * alive across a broken connection (docs/protocol.md §8.4). Pure functions and
 * constants, no Node import: the browser SDK (`nestjs-gateway-worker/client`) loads this file too.
 *
 * - **Opt-in**: the client offers the websocket subprotocol {@link RESUME_SUBPROTOCOL} first; the
 *   gateway selects it only when its resume window is on. A client that does not offer it (or a
 *   gateway with the window off) gets exactly the bytes GatewayWorker sends. `text://`, `frame://`
 *   and `tcp://` clients cannot opt in.
 * - **Resuming**: the client also offers `gateway-worker.resume.v1.<client_id>.<token>.<received>`
 *   ({@link resumeOffer}): its previous client_id, the token the gateway gave it, and how many
 *   messages it received.
 * - **Control frames** start with one 0x00 byte and are never application messages: from the
 *   gateway, {@link CONTROL_WELCOME} + JSON {@link ResumeWelcome} (first frame of every connection)
 *   and {@link CONTROL_PING}; from the client, {@link CONTROL_ACK} + the decimal count of
 *   application messages received, alone (periodic, and in answer to a ping) or piggybacked on an
 *   application message ({@link CONTROL_ACK_WITH_MESSAGE}: one frame, no extra round of work).
 *   Otherwise an application message (either way, text or binary) whose first byte is 0x00 is
 *   sent with one more 0x00 in front, which the receiver strips.
 * - **Sequence numbers are implicit**: the n-th application message the gateway sends to a client
 *   (counted across its connections) is number n; the welcome's `seq` tells the client where the
 *   count stands, so messages carry no per-message header and a broadcast is still framed once.
 */

/**
 * The subprotocol an SDK client offers (first) to opt in.
 *
 * @publicApi
 */
export const RESUME_SUBPROTOCOL = 'gateway-worker.resume.v1';

/** First byte of every control frame. */
export const CONTROL_BYTE = 0x00;
/** Gateway → client, first frame of each connection: `\0W{json}` ({@link ResumeWelcome}). */
export const CONTROL_WELCOME = 'W';
/** Gateway → client heartbeat (`\0P`); the SDK answers with an ack. */
export const CONTROL_PING = 'P';
/** Client → gateway: `\0A<n>`, n = application messages received so far. */
export const CONTROL_ACK = 'A';
/**
 * Client → gateway, an ack piggybacked on an application message, in one frame:
 * `\0a<n>;<message>` — the message follows the `;` as it is (no escaping), text or binary.
 */
export const CONTROL_ACK_WITH_MESSAGE = 'a';

/**
 * What the gateway tells an opted-in client when its connection opens.
 *
 * @publicApi
 */
export interface ResumeWelcome {
  /** The client_id (the previous one when resumed on the same gateway). */
  id: string;
  /** The secret that proves this client may resume (offered back with {@link resumeOffer}). */
  token: string;
  /** True when the previous client was taken over (same session, uid, groups). */
  resumed: boolean;
  /** Application messages sent before the next one: the client sets its count to this. */
  seq: number;
  /** The gateway's resume window, ms. */
  window: number;
  /** When a resume was asked and not granted: why (the client starts over). */
  reason?: string;
  /** When resumed on another gateway: the client_id it had there. */
  previousId?: string;
}

/** A resume request read from the offered subprotocols. */
export interface ResumeRequest {
  clientId: string;
  token: string;
  received: number;
}

const OFFER = /^gateway-worker\.resume\.v1\.([0-9a-f]{20})\.([0-9a-f]{32})\.(\d{1,15})$/;

/** The subprotocol value that asks to resume (offered after {@link RESUME_SUBPROTOCOL}). */
export function resumeOffer(r: ResumeRequest): string {
  return `${RESUME_SUBPROTOCOL}.${r.clientId}.${r.token}.${r.received}`;
}

/** The resume request among offered subprotocols, or null. */
export function readResumeOffer(protocols: Iterable<string>): ResumeRequest | null {
  for (const p of protocols) {
    const m = OFFER.exec(p);
    if (m) return { clientId: m[1]!, token: m[2]!, received: Number(m[3]) };
  }
  return null;
}

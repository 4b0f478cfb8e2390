import { CONTROL_BYTE, CONTROL_PING, CONTROL_WELCOME, type ResumeWelcome } from '../protocol/resume-envelope.js';
import { webSocketFrameHeader, WS_OPCODE_TEXT } from '../protocol/websocket-frame.js';

/** The heartbeat of opted-in clients: a `\0P` text frame (not an application message; the SDK answers it). */
export const PING_FRAME: Buffer = textFrame(Buffer.from([CONTROL_BYTE, CONTROL_PING.charCodeAt(0)]));

/** The first frame of an opted-in connection: `\0W` + JSON. */
export function welcomeFrame(welcome: ResumeWelcome): Buffer {
  return textFrame(Buffer.concat([Buffer.from([CONTROL_BYTE, CONTROL_WELCOME.charCodeAt(0)]), Buffer.from(JSON.stringify(welcome))]));
}

/**
 * An application message for an opted-in client: as framed for everybody, unless its payload
 * starts with 0x00 — then one more 0x00 goes in front, so it cannot read as a control frame. The
 * frame is the gateway's own (unmasked, one fragment); a raw send is taken as one such frame.
 */
export function escapeFrame(frame: Buffer | readonly Buffer[]): Buffer | readonly Buffer[] {
  const len7 = byteAt(frame, 1);
  if (len7 === undefined) return frame;
  const headLen = (len7 & 0x7f) < 126 ? 2 : (len7 & 0x7f) === 126 ? 4 : 10;
  if (byteAt(frame, headLen) !== CONTROL_BYTE) return frame;
  // Rare (a message starting with NUL): copying it is fine.
  const whole = Buffer.isBuffer(frame) ? frame : Buffer.concat(frame as Buffer[]);
  const payload = whole.subarray(headLen);
  return Buffer.concat([webSocketFrameHeader(payload.length + 1, whole[0]! & 0x0f), Buffer.from([CONTROL_BYTE]), payload]);
}

function textFrame(payload: Buffer): Buffer {
  return Buffer.concat([webSocketFrameHeader(payload.length, WS_OPCODE_TEXT), payload]);
}

/** Byte `i` of a frame given whole or as parts, without joining them. */
function byteAt(frame: Buffer | readonly Buffer[], i: number): number | undefined {
  if (Buffer.isBuffer(frame)) return frame[i];
  for (const part of frame) {
    if (i < part.length) return part[i];
    i -= part.length;
  }
  return undefined;
}

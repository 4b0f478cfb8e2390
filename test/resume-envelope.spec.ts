import { describe, expect, it } from 'vitest';
import { ResumeBuffer } from '../lib/gateway/resume-buffer.js';
import { mergeHandedOver } from '../lib/gateway/resume-handover.js';
import { escapeFrame, welcomeFrame } from '../lib/gateway/resume-frames.js';
import { OutgoingMessage } from '../lib/gateway/outgoing-message.js';
import { readResumeOffer, RESUME_SUBPROTOCOL, resumeOffer } from '../lib/protocol/resume-envelope.js';

const frame = (text: string) => new OutgoingMessage(Buffer.from(text)).framedFor('websocket');
const join = (f: Buffer | readonly Buffer[]) => (Buffer.isBuffer(f) ? f : Buffer.concat(f as Buffer[]));

describe('the resume envelope', () => {
  it('offers and reads a resume request among the subprotocols', () => {
    const ask = { clientId: '7f0000010b5400000001', token: 'ab'.repeat(16), received: 1234 };
    expect(readResumeOffer(['chat', RESUME_SUBPROTOCOL, resumeOffer(ask)])).toEqual(ask);
    expect(readResumeOffer([RESUME_SUBPROTOCOL])).toBeNull();
    // Malformed ids, tokens and counts are no request at all.
    expect(readResumeOffer([`${RESUME_SUBPROTOCOL}.7f00.${'ab'.repeat(16)}.1`])).toBeNull();
    expect(readResumeOffer([`${RESUME_SUBPROTOCOL}.7f0000010b5400000001.${'zz'.repeat(16)}.1`])).toBeNull();
    expect(readResumeOffer([`${RESUME_SUBPROTOCOL}.7f0000010b5400000001.${'ab'.repeat(16)}.-1`])).toBeNull();
  });

  it('leaves application frames alone unless their payload starts with NUL (small and large frames)', () => {
    const plain = frame('hello');
    expect(escapeFrame(plain)).toBe(plain);
    const nul = escapeFrame(frame('\u0000x'));
    expect(join(nul)).toEqual(join(frame('\u0000\u0000x')));
    const big = '\u0000' + 'y'.repeat(70_000);
    const bigFrame = frame(big);
    expect(Array.isArray(bigFrame)).toBe(true);
    expect(join(escapeFrame(bigFrame))).toEqual(join(frame('\u0000' + big)));
    const binary = new OutgoingMessage(Buffer.from([0, 1, 2]), false, true).framedFor('websocket');
    expect(join(escapeFrame(binary))).toEqual(join(new OutgoingMessage(Buffer.from([0, 0, 1, 2]), false, true).framedFor('websocket')));
    const welcome = join(welcomeFrame({ id: 'x', token: 't', resumed: false, seq: 0, window: 1 }));
    expect(welcome.subarray(2, 4).toString('latin1')).toBe('\u0000W');
  });

  it('keeps the frames after the last ack, in order, and refuses counts it cannot serve', () => {
    const b = new ResumeBuffer('t');
    for (let i = 1; i <= 200; i++) b.push(Buffer.from(String(i)), String(i).length);
    expect(b.sent).toBe(200);
    expect(b.ack(150)).toBe(9 * 1 + 90 * 2 + 51 * 3); // the bytes of messages 1…150, freed
    expect(b.after(150)!.map(String)).toEqual(Array.from({ length: 50 }, (_, k) => String(151 + k)));
    expect(b.after(180)!.map(String)).toEqual(Array.from({ length: 20 }, (_, k) => String(181 + k)));
    expect(b.after(149)).toBeNull(); // already freed
    expect(b.after(201)).toBeNull(); // never sent
    expect(b.ack(100)).toBe(0); // going back is ignored
    const held = b.bytes;
    expect(held).toBe(Array.from({ length: 50 }, (_, k) => String(151 + k).length).reduce((x, y) => x + y, 0));
    expect(b.clear()).toBe(held);
    expect(b.bytes).toBe(0);
  });

  it('merges a hand-over: the old gateway\'s messages, then what only the new one recorded, each message once', () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const merged = (theirs: string[], recorded: string[]) => mergeHandedOver(theirs.map(b64), recorded.map((t) => Buffer.from(t))).map(String);
    // Both gateways got 3 and 4 (a uid's messages go to every gateway); 5 and 6 came after the take.
    expect(merged(['1', '2', '3', '4'], ['3', '4', '5', '6'])).toEqual(['1', '2', '3', '4', '5', '6']);
    // Nothing recorded in between, or nothing left at the old gateway.
    expect(merged(['1', '2'], [])).toEqual(['1', '2']);
    expect(merged([], ['7'])).toEqual(['7']);
    // Each of the old gateway's messages cancels one recorded copy only.
    expect(merged(['x'], ['x', 'x'])).toEqual(['x', 'x']);
  });
});

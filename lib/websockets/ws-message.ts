import type { GatewayMessage } from '../gateway.service.js';

/** A message in `@nestjs/platform-ws`'s format: `{"event": "...", "data": ...}`. */
export interface WsMessage {
  event: string;
  data: unknown;
  /**
   * A request's correlation id (the client SDK's `request()`): an integer in `"id"` beside `event`
   * and `data`. The handler's replies then carry it back; platform-ws clients never send one.
   */
  id?: number;
}

/**
 * Reads a client message as `{event, data}` (a text frame, a line, a frame or a binary frame with
 * JSON in it, as platform-ws reads any frame); a string saying why when it is not one.
 */
export function parseWsMessage(message: unknown): WsMessage | string {
  const text = typeof message === 'string' ? message : Buffer.isBuffer(message) ? message.toString() : null;
  if (text === null) return 'it is not text';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  if (value === null || typeof value !== 'object' || typeof (value as { event?: unknown }).event !== 'string') return 'it is not {"event": "...", "data": ...}';
  const { event, data, id } = value as WsMessage;
  return Number.isSafeInteger(id) ? { event, data, id } : { event, data };
}

/** `{event, data}` as the client receives it; with `id` when it answers a request. */
export function encodeWsMessage(event: string, data: unknown, id?: number): string {
  return JSON.stringify(id === undefined ? { event, data } : { event, data, id });
}

/**
 * A routed handler's return value as the reply to a request with correlation id `id`: a
 * `WsResponse` `{event, data}` with `"id"` added, any other value as `{"id", "data"}`. Bytes go as
 * they are (a binary frame cannot carry the id: the request then resolves at the end-of-reply).
 */
export function encodeWsReply(value: unknown, id: number): GatewayMessage {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
  if (isWsResponse(value)) return JSON.stringify({ event: value.event, data: value.data, id });
  return JSON.stringify({ id, data: value });
}

/** The end of a request's replies when the handlers returned nothing: `{"id"}` (the request resolves to undefined). */
export function encodeWsReplyEnd(id: number): string {
  return JSON.stringify({ id });
}

function isWsResponse(value: unknown): value is { event: string; data: unknown } {
  return value !== null && typeof value === 'object' && typeof (value as { event?: unknown }).event === 'string' && 'data' in value;
}

/**
 * A routed handler's return value as platform-ws sends it: JSON text (a `WsResponse` `{event,
 * data}` as it is). Bytes go as they are, in a binary frame.
 */
export function encodeWsResponse(value: unknown): GatewayMessage {
  return Buffer.isBuffer(value) || value instanceof Uint8Array ? value : JSON.stringify(value);
}

import type { GatewayMessage } from '../gateway.service.js';

/** A message in `@nestjs/platform-ws`'s format: `{"event": "...", "data": ...}`. */
export interface WsMessage {
  event: string;
  data: unknown;
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
  return { event: (value as WsMessage).event, data: (value as WsMessage).data };
}

/** `{event, data}` as the client receives it. */
export function encodeWsMessage(event: string, data: unknown): string {
  return JSON.stringify({ event, data });
}

/**
 * A routed handler's return value as platform-ws sends it: JSON text (a `WsResponse` `{event,
 * data}` as it is). Bytes go as they are, in a binary frame.
 */
export function encodeWsResponse(value: unknown): GatewayMessage {
  return Buffer.isBuffer(value) || value instanceof Uint8Array ? value : JSON.stringify(value);
}

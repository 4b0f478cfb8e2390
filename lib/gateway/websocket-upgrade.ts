import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

const KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * Refuses an upgrade with an HTTP status before any websocket exists, then closes: how an
 * `@OnWebSocketConnect` guard keeps an unauthenticated browser from ever getting a client_id.
 */
export function refuseUpgrade(socket: Socket, status: number, message?: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const text = message || STATUS_CODES[status] || 'Error';
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}

/** The checks `ws` makes before an upgrade, done first so a bad request never reaches a worker. */
export function invalidUpgrade(req: IncomingMessage): { status: number; message: string; headers?: Record<string, string> } | null {
  if (req.method !== 'GET') return { status: 405, message: 'Invalid HTTP method' };
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { status: 400, message: 'Invalid Upgrade header' };
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !KEY.test(key)) return { status: 400, message: 'Missing or invalid Sec-WebSocket-Key header' };
  const version = Number(req.headers['sec-websocket-version']);
  if (version !== 13 && version !== 8) return { status: 400, message: 'Missing or invalid Sec-WebSocket-Version header', headers: { 'Sec-WebSocket-Version': '13, 8' } };
  return null;
}

/** A verdict's status as an HTTP rejection: 4xx/5xx as given, anything else 500. */
export const rejectionStatus = (status: unknown): number =>
  Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599 ? (status as number) : 500;

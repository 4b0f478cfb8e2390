import { createServer, connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';

/** A free TCP port on `host` (bound and released; the OS does not hand it out again at once). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A base port with `count` consecutive free ports after it, below the ephemeral range (32768+), so
 * outgoing connections cannot take one between the check and the use (for `startPort + i`).
 */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<number> {
  const canBind = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, host, () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await canBind(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Waits until `cond()` is true, polling; throws with `what` after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects messages and lets a test await the next ones, with a timeout. */
class Inbox {
  readonly messages: string[] = [];
  private readIndex = 0;
  closed = false;
  private wake: (() => void) | null = null;

  push(m: string): void {
    this.messages.push(m);
    this.wake?.();
  }

  markClosed(): void {
    this.closed = true;
    this.wake?.();
  }

  /** The next unread message. */
  async next(ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.readIndex >= this.messages.length) {
      if (this.closed) throw new Error(`connection closed; got so far: ${JSON.stringify(this.messages)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${ms} ms; got so far: ${JSON.stringify(this.messages)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    return this.messages[this.readIndex++]!;
  }

  /** Reads until a message matches; returns it. */
  async until(pred: (m: string) => boolean, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (pred(m)) return m;
    }
  }

  /** Resolves when the connection closes. */
  async waitClosed(ms = 3000): Promise<void> {
    await waitFor(() => this.closed, 'the connection to close', ms);
  }

  /** Unread messages, consumed. */
  drain(): string[] {
    const rest = this.messages.slice(this.readIndex);
    this.readIndex = this.messages.length;
    return rest;
  }
}

/** A telnet-like text client: newline-delimited lines. */
export class TextClient extends Inbox {
  readonly socket: Socket;
  private buffer = '';

  private constructor(socket: Socket) {
    super();
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        this.push(this.buffer.slice(0, i).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(i + 1);
      }
    });
    socket.on('close', () => this.markClosed());
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<TextClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, ...(localAddress && { localAddress }) }, () => resolve(new TextClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends a line the way telnet does (`\r\n`). */
  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  close(): void {
    this.socket.end();
  }
}

/** A websocket client. */
export class WsClient extends Inbox {
  private constructor(readonly ws: WebSocket) {
    super();
    ws.on('message', (data) => this.push(data.toString()));
    ws.on('close', () => this.markClosed());
    ws.on('error', () => undefined);
  }

  static connect(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('error', reject);
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  close(): void {
    this.ws.close();
  }
}

/** Connects a text client and returns it with the client_id from its `Hello <id>` greeting. */
export async function greeted<T extends TextClient | WsClient>(connectFn: () => Promise<T>, ms = 5000): Promise<{ client: T; id: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    let client: T;
    try {
      client = await connectFn();
    } catch (err) {
      // Not listening yet: the tier is still starting.
      if (Date.now() > deadline) throw err;
      await sleep(100);
      continue;
    }
    try {
      // Broadcasts about other clients may arrive before our greeting: the greeting is ours to wait for.
      const hello = await client.until((m) => m.startsWith('Hello '), Math.max(100, deadline - Date.now()));
      const m = /^Hello ([0-9a-f]{20})$/.exec(hello);
      if (!m) throw new Error(`expected "Hello <client_id>", got ${JSON.stringify(hello)}`);
      return { client, id: m[1]! };
    } catch (err) {
      client.close();
      // Closed at once: no worker connected yet (PHP behaviour). Try again until the deadline.
      if (!client.closed || Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

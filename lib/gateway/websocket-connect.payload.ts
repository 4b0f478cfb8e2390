import { isUtf8 } from 'node:buffer';
import { phpSerialize } from '../protocol/php-serialize.js';
import { PhpArray } from '../protocol/php-value.js';

/** PHP's `max_input_nesting_level` and `max_input_vars`: parse_str stops there too. */
const MAX_NESTING = 64;
const MAX_VARS = 1000;

/** What the gateway knows of a websocket upgrade request (nothing of it is kept after the handshake). */
export interface WebSocketRequestInfo {
  method: string;
  /** The request target as sent: path and query. */
  url: string;
  /** `'1.1'`. */
  httpVersion: string;
  /** Header names and values in arrival order, as Node's `req.rawHeaders`. */
  rawHeaders: readonly string[];
  /** The client's address (after trusted-proxy resolution) and port. */
  remoteAddress: string;
  remotePort: number;
  /** The listener's local port. */
  localPort: number;
}

/**
 * Bytes of a string Node decoded as latin1 (request lines and headers): ASCII stays a string, other
 * text becomes UTF-8 when it is, and raw bytes otherwise (the serializer writes Buffers verbatim).
 */
function phpString(bytes: Buffer): string | Buffer {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes;
}
const latin1 = (s: string): Buffer => Buffer.from(s, /[^\x00-\xff]/.test(s) ? 'utf8' : 'latin1');

/** PHP `urldecode()`: `+` is a space, `%XX` a byte, anything else (a stray `%`) stays. */
export function phpUrlDecode(s: string): Buffer {
  const src = latin1(s);
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x2b) out[n++] = 0x20;
    else if (c === 0x25 && i + 2 < src.length && isHex(src[i + 1]) && isHex(src[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16);
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}
const isHex = (c: number | undefined) => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

/** The next key `$a[] = …` uses (PHP 8.2: one past the largest integer key, at least 0). */
function nextIndex(table: PhpArray): number {
  let next = 0;
  for (const k of table.keys()) if (typeof k === 'number' && k >= next) next = k + 1;
  return next;
}

/**
 * PHP's `php_register_variable_ex()`: stores `value` under a name like `a`, `a[]`, `a[b][c]`,
 * with PHP's quirks — leading spaces dropped, `.` and space in the base name become `_`, a `[`
 * without its `]` turns into `_`, text after a `]` that is not `[` is ignored, nesting past 64
 * drops the variable. Works on the name's bytes (one latin1 char each), as PHP does.
 */
function registerVariable(root: PhpArray, rawName: string, value: string | Buffer): void {
  let start = 0;
  while (rawName[start] === ' ') start++;
  const nul = rawName.indexOf('\0', start);
  const c = [...rawName.slice(start, nul < 0 ? undefined : nul)];
  const strlen = (from: number) => {
    let e = from;
    while (e < c.length && c[e] !== '\0') e++;
    return e - from;
  };
  const key = (from: number, len: number) => phpKeyString(c.slice(from, from + len).join(''));

  let p = 0;
  let ip = -1;
  for (; p < c.length; p++) {
    if (c[p] === ' ' || c[p] === '.') c[p] = '_';
    else if (c[p] === '[') {
      ip = p;
      c[p] = '\0';
      break;
    }
  }
  if (p === 0) return;
  let index: number | null = 0;
  let indexLen = p;
  let table = root;
  if (ip >= 0) {
    for (let nest = 1; ; nest++) {
      if (nest > MAX_NESTING) return;
      ip++;
      let indexS: number | null = ip;
      let newLen = 0;
      if (c[ip] === ' ') ip++;
      if (c[ip] === ']') indexS = null;
      else {
        let close = ip;
        while (close < c.length && c[close] !== ']' && c[close] !== '\0') close++;
        if (close >= c.length || c[close] !== ']') {
          // Not an index after all: the '[' becomes '_' and the rest stays part of the name.
          c[indexS - 1] = '_';
          for (let q = indexS; q < c.length && c[q] !== '\0'; q++) if (c[q] === ' ' || c[q] === '.' || c[q] === '[') c[q] = '_';
          indexLen = index === null ? 0 : strlen(index);
          break;
        }
        c[close] = '\0';
        ip = close;
        newLen = strlen(indexS);
      }
      let next: PhpArray;
      if (index === null) {
        next = new PhpArray();
        table.set(nextIndex(table), next);
      } else {
        const k = key(index, indexLen);
        const existing = table.get(k);
        if (existing instanceof PhpArray) next = existing;
        else table.set(k, (next = new PhpArray()));
      }
      table = next;
      index = indexS;
      indexLen = newLen;
      ip++;
      if (c[ip] === '[') c[ip] = '\0';
      else break;
    }
  }
  if (index === null) table.set(nextIndex(table), value);
  else table.set(key(index, indexLen), value);
}

/** A key from name bytes (latin1 chars) as PHP sees it: its bytes, read as UTF-8. */
const phpKeyString = (s: string) => Buffer.from(s, 'latin1').toString('utf8');

/**
 * PHP `parse_str()` of a query string (docs/protocol.md §5.11 `get`): `&`-separated, URL-decoded
 * (`+` is a space), `a[]=1&a[]=2` nested arrays, `.` and space in names become `_`, at most 1000
 * variables.
 */
export function phpParseStr(query: string): PhpArray {
  const result = new PhpArray();
  let count = 0;
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (++count > MAX_VARS) break;
    const eq = part.indexOf('=');
    const name = phpUrlDecode(eq < 0 ? part : part.slice(0, eq)).toString('latin1');
    const value = eq < 0 ? '' : phpString(phpUrlDecode(part.slice(eq + 1)));
    registerVariable(result, name, value);
  }
  return result;
}

/** Workerman 5's `Request::cookie()`: split on `;`, names trimmed, values verbatim (not URL-decoded). */
function parseCookies(header: string | null): PhpArray {
  const cookies = new PhpArray();
  if (header === null) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    cookies.set(phpKeyString(part.slice(0, eq).trim()), phpString(latin1(part.slice(eq + 1))));
  }
  return cookies;
}

/**
 * The body of CMD_ON_WEBSOCKET_CONNECT (docs/protocol.md §5.11, workerman 5): PHP serialize of
 * `['get' => …, 'server' => […], 'cookie' => …]`, byte for byte what a PHP gateway sends (TV-25),
 * so PHP workers' `onWebSocketConnect($client_id, $data)` work unchanged behind this gateway.
 */
export function webSocketConnectBody(r: WebSocketRequestInfo): Buffer {
  // Headers by lower-case name, in first-arrival order; repeats joined with ',' (workerman).
  const headers = new Map<string, string>();
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase();
    const value = r.rawHeaders[i + 1]!.replace(/^[ \t]+|[ \t]+$/g, '');
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  const header = (name: string) => headers.get(name) ?? null;
  const str = (s: string | null) => (s === null ? null : phpString(latin1(s)));

  const q = r.url.indexOf('?');
  let query = q < 0 ? '' : r.url.slice(q + 1);
  const hash = query.indexOf('#');
  if (hash >= 0) query = query.slice(0, hash);

  const server = new PhpArray();
  server.set('QUERY_STRING', str(query));
  server.set('REQUEST_METHOD', r.method);
  server.set('REQUEST_URI', str(r.url));
  server.set('SERVER_PROTOCOL', `HTTP/${r.httpVersion}`);
  // SERVER_NAME keeps the port: workerman 5 calls host(false) (docs/protocol.md §5.11).
  server.set('SERVER_NAME', str(header('host')));
  server.set('CONTENT_TYPE', str(header('content-type')));
  server.set('REMOTE_ADDR', r.remoteAddress);
  server.set('REMOTE_PORT', r.remotePort);
  server.set('SERVER_PORT', r.localPort);
  for (const [name, value] of headers) server.set(`HTTP_${name.toUpperCase().replaceAll('-', '_')}`, str(value));

  return phpSerialize(
    PhpArray.from<unknown>([
      ['get', phpParseStr(query)],
      ['server', server],
      ['cookie', parseCookies(header('cookie'))],
    ]),
  );
}

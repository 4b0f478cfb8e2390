/**
 * The websocket upgrade request as `@OnWebSocketConnect` handlers see it: PHP's
 * `onWebSocketConnect($client_id, $data)` array (`get`, `server`, `cookie`, docs/protocol.md §5.11),
 * plus the headers, path and query in Node's shape. The same from a TypeScript or a PHP gateway.
 *
 * @publicApi
 */
export class WebSocketConnectRequest {
  /** The query string parsed as PHP's `parse_str` does (`a[]=1&a[]=2` gives an array). */
  readonly get: Record<string, any>;
  /** PHP's `$_SERVER`-like map: `REQUEST_URI`, `QUERY_STRING`, `REMOTE_ADDR`, `HTTP_<HEADER>`… */
  readonly server: Record<string, any>;
  /** Cookies, values as sent (not URL-decoded, as workerman 5). */
  readonly cookie: Record<string, string>;
  private headerMap: Record<string, string> | null = null;

  /** @internal built from the unserialized CMD_ON_WEBSOCKET_CONNECT body. */
  constructor(data: unknown) {
    const d = isRecord(data) ? data : {};
    this.get = isRecord(d.get) ? d.get : {};
    this.server = isRecord(d.server) ? d.server : {};
    this.cookie = isRecord(d.cookie) ? (d.cookie as Record<string, string>) : {};
  }

  /** The query parameters (same as `get`). */
  get query(): Record<string, any> {
    return this.get;
  }

  /** `GET`. */
  get method(): string {
    return String(this.server.REQUEST_METHOD ?? 'GET');
  }

  /** The request target as sent: path and query, e.g. `/chat?token=abc`. */
  get url(): string {
    return String(this.server.REQUEST_URI ?? '/');
  }

  /** The path without the query, e.g. `/chat`. */
  get path(): string {
    const url = this.url;
    const q = url.indexOf('?');
    return q < 0 ? url : url.slice(0, q);
  }

  /**
   * The request headers by lower-case name (`'user-agent'`, `'sec-websocket-protocol'`…), repeated
   * headers joined with `,`. Rebuilt from the `HTTP_*` entries, so `_` reads as `-`.
   */
  get headers(): Record<string, string> {
    if (this.headerMap === null) {
      const map: Record<string, string> = {};
      for (const [k, v] of Object.entries(this.server)) {
        if (k.startsWith('HTTP_')) map[k.slice(5).toLowerCase().replaceAll('_', '-')] = String(v);
      }
      this.headerMap = map;
    }
    return this.headerMap;
  }

  /** One header, by any case of its name. */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }
}

function isRecord(v: unknown): v is Record<string, any> {
  return v !== null && typeof v === 'object' && !Buffer.isBuffer(v);
}

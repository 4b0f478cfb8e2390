/**
 * The Register's newline-delimited JSON messages (docs/protocol.md §4.1).
 *
 * Writers reproduce PHP's bytes (including the spaces in `gateway_connect`) but JSON-escape the
 * values, which PHP does not: PHP's `json_decode` reads both, and a secret holding `"` no longer
 * breaks the line.
 */

/** A parsed Register message. */
export interface RegisterMessage {
  event: string;
  address?: unknown;
  secret_key?: unknown;
  addresses?: unknown;
  [key: string]: unknown;
}

/** `{"event":"gateway_connect", "address":"…", "secret_key":"…"}\n` */
export function gatewayConnectLine(address: string, secretKey: string): Buffer {
  return Buffer.from(
    `{"event":"gateway_connect", "address":${JSON.stringify(address)}, "secret_key":${JSON.stringify(secretKey)}}\n`,
  );
}

/** `{"event":"worker_connect","secret_key":"…"}\n`, sent by BusinessWorkers and GatewayClients. */
export function workerConnectLine(secretKey: string): Buffer {
  return Buffer.from(`{"event":"worker_connect","secret_key":${JSON.stringify(secretKey)}}\n`);
}

/** `{"event":"ping"}\n`, the keepalive of gateways and workers towards a remote Register. */
export const PING_LINE = Buffer.from('{"event":"ping"}\n');

/** `{"event":"broadcast_addresses","addresses":[…]}\n`, always in list form. */
export function broadcastAddressesLine(addresses: readonly string[]): Buffer {
  return Buffer.from(`{"event":"broadcast_addresses","addresses":${JSON.stringify(addresses)}}\n`);
}

/** Parses one line; returns null when it is not a JSON object with a non-empty string `event`. */
export function parseRegisterMessage(line: Buffer | string): RegisterMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(line.toString());
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const event = (value as RegisterMessage).event;
  if (typeof event !== 'string' || event === '') return null;
  return value as RegisterMessage;
}

/**
 * The `addresses` of a broadcast as a list of strings. PHP may send a JSON object after a
 * duplicate registration (TV-26): readers take the values of either form.
 */
export function readAddresses(addresses: unknown): string[] | null {
  if (Array.isArray(addresses)) return addresses.filter((a): a is string => typeof a === 'string');
  if (addresses && typeof addresses === 'object') {
    return Object.values(addresses).filter((a): a is string => typeof a === 'string');
  }
  return null;
}

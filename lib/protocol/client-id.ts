import { InvalidClientIdError } from '../errors/invalid-client-id.error.js';
import { long2ip } from '../utils/ip.util.js';

/** The parts of a `client_id` (docs/protocol.md §3). */
export interface ClientIdParts {
  /** The gateway's lanIp as an unsigned 32-bit integer. */
  localIp: number;
  /** The gateway process's internal port (`lanPort`), not its public port. */
  localPort: number;
  /** The connection id, unique within that gateway process. */
  connectionId: number;
  /** `"<lanIp>:<lanPort>"`: the identity of the gateway process holding the client. */
  address: string;
}

const HEX = /^[0-9a-f]{20}$/;

/** Builds the 20-hex-character client_id: `local_ip ‖ local_port ‖ connection_id`, lowercase. */
export function encodeClientId(localIp: number, localPort: number, connectionId: number): string {
  return (
    (localIp >>> 0).toString(16).padStart(8, '0') +
    localPort.toString(16).padStart(4, '0') +
    (connectionId >>> 0).toString(16).padStart(8, '0')
  );
}

/**
 * Decodes a client_id. Stricter than PHP, which only checks the length: non-hex characters are
 * rejected too, because they would silently address the wrong gateway.
 * @throws InvalidClientIdError when the id is not 20 hex characters.
 */
export function decodeClientId(clientId: unknown): ClientIdParts {
  if (typeof clientId !== 'string' || !HEX.test(clientId.toLowerCase())) {
    throw new InvalidClientIdError(clientId);
  }
  const localIp = parseInt(clientId.slice(0, 8), 16);
  const localPort = parseInt(clientId.slice(8, 12), 16);
  const connectionId = parseInt(clientId.slice(12, 20), 16);
  return { localIp, localPort, connectionId, address: `${long2ip(localIp)}:${localPort}` };
}

/** True when `clientId` is a well-formed client_id. */
export function isValidClientId(clientId: unknown): clientId is string {
  return typeof clientId === 'string' && HEX.test(clientId.toLowerCase());
}

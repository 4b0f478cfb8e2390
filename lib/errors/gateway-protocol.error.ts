
/** A peer sent bytes that break the framing of an inner link or a client protocol; the connection that carried them is closed. */
export class GatewayProtocolError extends Error {
  override readonly name = 'GatewayProtocolError';
}

/**
 * How `gateway-worker status` tells a TypeScript gateway from a PHP one without sending a PHP
 * gateway anything it does not know (a TypeScript extension of the protocol, docs/protocol.md §2.9
 * and §5.7): CMD_IS_ONLINE for connection_id 0 with this ext_data. Every gateway answers
 * CMD_IS_ONLINE; a PHP gateway ignores its ext_data and answers `i:0;` (connection 0 is never
 * allocated); a TypeScript gateway answers a PHP string holding JSON {@link GatewayProbeReply}.
 */
export const GATEWAY_PROBE_EXT = 'gateway-worker:probe';

/** A TypeScript gateway's answer to the probe. */
export interface GatewayProbeReply {
  /** Always `'typescript'`. */
  implementation: 'typescript';
  /** The extension commands (150–199) this gateway understands, e.g. 152 STATUS. */
  commands: number[];
}

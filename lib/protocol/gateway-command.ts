/**
 * Command numbers of the GatewayProtocol (docs/protocol.md §2.6), identical to PHP's
 * `GatewayProtocol::CMD_*` constants so that PHP and TypeScript peers interoperate.
 */
export const GatewayCommand = {
  ON_CONNECT: 1,
  ON_MESSAGE: 3,
  ON_CLOSE: 4,
  SEND_TO_ONE: 5,
  SEND_TO_ALL: 6,
  KICK: 7,
  DESTROY: 8,
  UPDATE_SESSION: 9,
  GET_ALL_CLIENT_SESSIONS: 10,
  IS_ONLINE: 11,
  BIND_UID: 12,
  UNBIND_UID: 13,
  SEND_TO_UID: 14,
  GET_CLIENT_ID_BY_UID: 15,
  BATCH_GET_CLIENT_ID_BY_UID: 16,
  JOIN_GROUP: 20,
  LEAVE_GROUP: 21,
  SEND_TO_GROUP: 22,
  GET_CLIENT_SESSIONS_BY_GROUP: 23,
  GET_CLIENT_COUNT_BY_GROUP: 24,
  SELECT: 25,
  GET_GROUP_ID_LIST: 26,
  UNGROUP: 27,
  BATCH_GET_CLIENT_COUNT_BY_GROUP: 28,
  WORKER_CONNECT: 200,
  PING: 201,
  GATEWAY_CLIENT_CONNECT: 202,
  GET_SESSION_BY_CLIENT_ID: 203,
  SET_SESSION: 204,
  ON_WEBSOCKET_CONNECT: 205,
} as const;

/** A GatewayProtocol command number. */
export type GatewayCommand = (typeof GatewayCommand)[keyof typeof GatewayCommand];

/** Commands whose sender waits for a §2.9 reply (uint32 length + PHP serialize). */
export const QUERY_COMMANDS: ReadonlySet<number> = new Set([
  GatewayCommand.GET_ALL_CLIENT_SESSIONS,
  GatewayCommand.IS_ONLINE,
  GatewayCommand.GET_CLIENT_ID_BY_UID,
  GatewayCommand.BATCH_GET_CLIENT_ID_BY_UID,
  GatewayCommand.GET_CLIENT_SESSIONS_BY_GROUP,
  GatewayCommand.GET_CLIENT_COUNT_BY_GROUP,
  GatewayCommand.SELECT,
  GatewayCommand.GET_GROUP_ID_LIST,
  GatewayCommand.BATCH_GET_CLIENT_COUNT_BY_GROUP,
  GatewayCommand.GET_SESSION_BY_CLIENT_ID,
]);

/** Flag bit: the body is a plain byte string (otherwise PHP serialize output). */
export const FLAG_BODY_IS_SCALAR = 0x01;
/** Flag bit: write the body to the end client as-is, without the client protocol's framing. */
export const FLAG_NOT_CALL_ENCODE = 0x02;
/** Length of the fixed GatewayProtocol header. */
export const HEAD_LEN = 28;
/** Workerman's default maximum packet size (10 MiB), used for every framing by default. */
export const DEFAULT_MAX_PACKAGE_SIZE = 10_485_760;

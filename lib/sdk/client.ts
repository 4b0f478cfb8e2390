// `nestjs-gateway-worker/client`: the client SDK, browser-loadable as it is (ESM, no Node import).
export * from './gateway-socket.client.js';
export { ClientDisconnectedError } from '../errors/client-disconnected.error.js';
export { RequestFailedError } from '../errors/request-failed.error.js';
export { RequestTimeoutError } from '../errors/request-timeout.error.js';
export { RESUME_SUBPROTOCOL, type ResumeWelcome } from '../protocol/resume-envelope.js';

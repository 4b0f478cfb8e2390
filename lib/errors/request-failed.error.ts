import { GatewayWorkerError } from './gateway-worker.error.js';
import { sdkRequestFailed } from '../gateway-worker.messages.js';

/**
 * Client SDK: the server answered a `request()` with an exception (a `WsException`, a guard's
 * denial, a failed `ValidationPipe`): `data` is what `BaseWsExceptionFilter` sent
 * (`{ status: 'error', message, cause }`).
 *
 * @publicApi
 */
export class RequestFailedError extends GatewayWorkerError {
  override readonly name = 'RequestFailedError';
  constructor(readonly event: string, readonly data: unknown) {
    super(sdkRequestFailed(event, typeof (data as { message?: unknown })?.message === 'string' ? (data as { message: string }).message : JSON.stringify(data)));
  }
}

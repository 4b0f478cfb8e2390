import { assignMetadata, type PipeTransform, type Type } from '@nestjs/common';
import { PARAM_ARGS_METADATA } from '../gateway-worker.constants.js';

/**
 * The parameter kinds of gateway event handlers. The numbers matter: Nest tells pipes a
 * parameter's type from them, and only `3` is a `'body'` parameter — the one `ValidationPipe`
 * validates without `validateCustomDecorators` (as `@Body()`, and `@Payload()` of
 * `@nestjs/microservices`, whose RpcParamtype.PAYLOAD is also 3). The others are `'custom'`.
 */
export enum GatewayParamType {
  CLIENT_ID = 0,
  SESSION = 2,
  PAYLOAD = 3,
  CONTEXT = 6,
}

type Pipe = Type<PipeTransform> | PipeTransform;

function createParamDecorator(type: GatewayParamType) {
  return (data?: string | Pipe, ...pipes: Pipe[]): ParameterDecorator =>
    (target, key, index) => {
      const hasData = data === undefined || typeof data === 'string';
      const args = Reflect.getMetadata(PARAM_ARGS_METADATA, target.constructor, key!) ?? {};
      Reflect.defineMetadata(
        PARAM_ARGS_METADATA,
        assignMetadata(args, type, index, {
          data: hasData ? (data as string | undefined) : undefined,
          pipes: hasData ? pipes : [data as Pipe, ...pipes],
        }),
        target.constructor,
        key!,
      );
    };
}

/**
 * Injects the client_id of the event's client. Accepts pipes.
 *
 * @publicApi
 */
export const ClientId: (...pipes: Pipe[]) => ParameterDecorator = (...pipes) => createParamDecorator(GatewayParamType.CLIENT_ID)(undefined, ...pipes);

/**
 * Injects the message (a string for text, frame, tcp and websocket clients; a Buffer for a binary
 * websocket frame), or one property of it with `@Payload('key')` when a pipe has parsed it into an
 * object. Accepts pipe classes and instances, as `@Body()` does:
 * `@Payload(ParseJsonPipe, ValidationPipe) dto: SayDto`.
 *
 * Pipes see it as a `'body'` parameter (`metadata.type === 'body'`), so `ValidationPipe` — on the
 * parameter, the method, the class or global — validates and transforms it against the parameter's
 * class, as it does `@Body()`.
 *
 * @publicApi
 */
export const Payload: (propertyOrPipe?: string | Pipe, ...pipes: Pipe[]) => ParameterDecorator = createParamDecorator(GatewayParamType.PAYLOAD);

/**
 * Injects the client's session (a mutable plain object, written back when the handler settles),
 * or one key of it with `@Session('key')`.
 *
 * @publicApi
 */
export const Session: (key?: string | Pipe, ...pipes: Pipe[]) => ParameterDecorator = createParamDecorator(GatewayParamType.SESSION);

/**
 * Injects the `GatewayEventContext`: client address, gateway, raw message, session.
 *
 * @publicApi
 */
export const Ctx: () => ParameterDecorator = () => createParamDecorator(GatewayParamType.CONTEXT)();

import { UsePipes, ValidationPipe } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  WsException,
  type OnGatewayDisconnect,
  type WsResponse,
} from '@nestjs/websockets';
import type { GatewayClientSocket, GatewayCluster } from '../../lib/index.js';
import { JoinDto, SayDto } from './nest-chat.dto.js';

/** What the Nest-style chat sends, by event (checked by the compiler in `emit()`). */
export interface NestChatEvents {
  'nest:joined': { id: string; name: string };
  'nest:said': { from: string; name: string; text: string };
  'nest:left': { id: string; name: string };
}

/** The room: only clients that joined get the Nest-style chat's messages. */
const ROOM = 'nest-chat';

/**
 * The same chat written as a Nest developer writes a `@nestjs/websockets` gateway: events
 * `nest:join` and `nest:say` (the `nest:` namespace keeps them apart from the PHP-style chat of
 * ChatEvents, which gets every message no gateway class routes), DTOs validated by
 * `ValidationPipe`, replies as `WsResponse`, broadcasts through `@WebSocketServer()` — the cluster.
 * Invalid input comes back to the client as an `exception` event naming the failed constraints.
 */
@WebSocketGateway()
@UsePipes(
  new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    exceptionFactory: (errors) => new WsException(errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; ')),
  }),
)
export class NestChatGateway implements OnGatewayDisconnect {
  @WebSocketServer()
  server!: GatewayCluster<NestChatEvents>;

  @SubscribeMessage('nest:join')
  async join(@ConnectedSocket() client: GatewayClientSocket<NestChatEvents>, @MessageBody() { name }: JoinDto): Promise<WsResponse<{ id: string; name: string }>> {
    client.session.nestName = name;
    await client.join(ROOM);
    await this.server.to(ROOM).emit('nest:joined', { id: client.id, name });
    return { event: 'nest:welcome', data: { id: client.id, name } };
  }

  @SubscribeMessage('nest:say')
  async say(@ConnectedSocket() client: GatewayClientSocket<NestChatEvents>, @MessageBody() { text }: SayDto): Promise<void> {
    const name = client.session.nestName as string | undefined;
    if (!name) throw new WsException('join first: {"event": "nest:join", "data": {"name": "..."}}');
    await this.server.to(ROOM).emit('nest:said', { from: client.id, name, text });
  }

  async handleDisconnect(client: GatewayClientSocket<NestChatEvents>): Promise<void> {
    const name = client.session.nestName as string | undefined;
    if (name) await this.server.to(ROOM).emit('nest:left', { id: client.id, name });
  }
}

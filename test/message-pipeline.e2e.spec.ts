import { Injectable, Module, Scope, UseGuards, ValidationPipe, type CanActivate, type ExecutionContext, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BusinessWorkerServer,
  ClientId,
  GatewayEvents,
  GatewayServer,
  GatewayService,
  GatewayWorkerModule,
  getGatewayEventContext,
  OnConnect,
  OnMessage,
  ParseJsonPipe,
  Payload,
} from '../lib/index.js';
import { boot, CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { sleep, TextClient, waitFor } from './support/net.js';

class SayDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(10)
  text!: string;
}

const ran: string[] = [];

/** Greets, so a test knows the worker has the client. */
@GatewayEvents()
class Greeter {
  constructor(private readonly gateway: GatewayService) {}
  @OnConnect()
  async hi(): Promise<void> {
    await this.gateway.sendToCurrentClient('hi');
  }
}

/** ValidationPipe on the parameter, after the JSON text is parsed. */
@GatewayEvents()
class ParamValidated {
  @OnMessage()
  said(@Payload(ParseJsonPipe, new ValidationPipe()) dto: SayDto): string {
    ran.push(`param ${dto.text}`);
    return `said ${dto.text}`;
  }
}

/** Only global pipes apply here. */
@GatewayEvents()
class GloballyValidated {
  @OnMessage()
  said(@Payload() dto: SayDto, @ClientId() id: string): { id: string; text: string; isDto: boolean } {
    ran.push(`global ${dto.text}`);
    return { id, text: dto.text, isDto: dto instanceof SayDto };
  }
}

/** Denies every message whose text is "deny". */
@Injectable()
class DenyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return getGatewayEventContext(context).message !== 'deny';
  }
}

@GatewayEvents()
@UseGuards(DenyGuard)
class GuardedFirst {
  @OnMessage()
  first(@Payload() text: string): void {
    if (text === 'throw') throw new Error('first failed');
    ran.push(`first ${text}`);
  }
}

@GatewayEvents()
class SecondClass {
  @OnMessage()
  async second(@Payload() text: string): Promise<string> {
    ran.push(`second ${text}`);
    return `second got ${text}`;
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {}

@GatewayEvents()
class ScopedEvents {
  constructor(readonly dep: PerRequest) {}
  @OnMessage()
  m(): void {}
}

/** Decorators of @nestjs/websockets where they do nothing. */
@GatewayEvents()
class Misdecorated {
  @SubscribeMessage('x')
  x(): void {}

  @OnMessage()
  m(@MessageBody() _body: unknown): void {}
}

/** A Nest-style gateway next to PHP-style handlers. */
@WebSocketGateway()
class RoutedGateway {
  @SubscribeMessage('ping')
  ping(@MessageBody() n: number): { event: string; data: number } {
    ran.push(`routed ${n}`);
    return { event: 'pong', data: n };
  }
}

@GatewayEvents()
class Unrouted {
  @OnMessage()
  m(@Payload() text: string): string {
    ran.push(`unrouted ${text}`);
    return `raw ${text}`;
  }
}

/** PHP-style: answers through GatewayService and returns what the send resolves to (true). */
@GatewayEvents()
class ReturnsSendResult {
  constructor(private readonly gateway: GatewayService) {}
  @OnMessage()
  echo(@Payload() text: string): Promise<boolean> {
    return this.gateway.sendToCurrentClient(`echo ${text}`);
  }
}

describe('Nest\'s pipeline for @OnMessage handlers', () => {
  const apps: INestMicroservice[] = [];
  const clients: TextClient[] = [];

  afterEach(async () => {
    ran.length = 0;
    for (const c of clients.splice(0)) c.close();
    for (const app of apps.splice(0).reverse()) await app.close();
  });

  async function cluster(providers: unknown[], configure?: (app: INestMicroservice) => void) {
    const logger = new CapturingLogger();
    const edge = await startGatewayOnly(logger);
    apps.push(...edge.apps);
    @Module({ imports: [GatewayWorkerModule.forRoot({ registerAddress: edge.registerAddress, businessWorker: { name: 'Pipeline' } })], providers: providers as never[] })
    class WorkerModule {}
    const app = await NestFactory.createMicroservice(WorkerModule, {
      inject: [BusinessWorkerServer],
      useFactory: (strategy: BusinessWorkerServer) => ({ strategy }),
      logger,
    });
    configure?.(app);
    await app.listen();
    apps.push(app);
    const gateway: GatewayServer = edge.gateway;
    await waitFor(() => gateway.workerKeys.length === 1, 'the worker to reach the gateway', 10_000);
    const client = await TextClient.connect(gateway.publicPorts[0]!);
    clients.push(client);
    expect(await client.next()).toBe('hi');
    return { client, logger };
  }

  it('ValidationPipe on @Payload() validates and transforms (no validateCustomDecorators needed); a rejection is logged with its constraints and the client gets nothing', async () => {
    const { client, logger } = await cluster([Greeter, ParamValidated]);
    client.send('{"text": ""}');
    client.send('{"text": "way too long a text"}');
    client.send('{"text": "ok"}');
    expect(await client.next()).toBe('said ok');
    expect(ran).toEqual(['param ok']);
    const errors = logger.find('error', 'ParamValidated.said').join('\n');
    expect(errors).toContain('text should not be empty');
    expect(errors).toContain('text must be shorter than or equal to 10 characters');
  });

  it('a global ValidationPipe (app.useGlobalPipes) validates @Payload() too, and an object return value goes to the client as JSON', async () => {
    const { client, logger } = await cluster([Greeter, GloballyValidated], (app) => app.useGlobalPipes(new ParseJsonPipe(), new ValidationPipe({ transform: true })));
    client.send('{"text": 5}');
    client.send('{"text": "fine"}');
    const reply = JSON.parse(await client.next()) as { id: string; text: string; isDto: boolean };
    expect(reply).toMatchObject({ text: 'fine', isDto: true });
    expect(reply.id).toMatch(/^[0-9a-f]{20}$/);
    expect(ran).toEqual(['global fine']);
    expect(logger.find('error', 'text must be a string')).toHaveLength(1);
  });

  it('a handler returning what a GatewayService send resolves to (a boolean) sends nothing more', async () => {
    const { client } = await cluster([Greeter, ReturnsSendResult]);
    client.send('a');
    client.send('b');
    expect(await client.next()).toBe('echo a');
    expect(await client.next()).toBe('echo b');
    await sleep(200);
    expect(client.drain()).toEqual([]);
  });

  it('a guard denial or an exception in one handler class never stops another class\'s handlers', async () => {
    const { client, logger } = await cluster([Greeter, DenyGuard, GuardedFirst, SecondClass]);
    client.send('deny');
    expect(await client.next()).toBe('second got deny');
    client.send('throw');
    expect(await client.next()).toBe('second got throw');
    client.send('fine');
    expect(await client.next()).toBe('second got fine');
    expect(ran).toEqual(['second deny', 'second throw', 'first fine', 'second fine']);
    expect(logger.find('warn', 'GuardedFirst.first was denied by a guard')).toHaveLength(1);
    expect(logger.find('error', 'GuardedFirst.first handler failed')).toHaveLength(1);
  });

  it('warns about a handler class with a request-scoped dependency instead of registering nothing silently', async () => {
    const { logger } = await cluster([Greeter, PerRequest, ScopedEvents]);
    expect(logger.find('warn', 'Cannot register the handlers of ScopedEvents')).toHaveLength(1);
  });

  it('warns about @SubscribeMessage outside a @WebSocketGateway class and @MessageBody() on an @OnMessage handler', async () => {
    const { logger } = await cluster([Greeter, Misdecorated]);
    expect(logger.find('warn', 'Misdecorated.x has @SubscribeMessage() but its class is not a @WebSocketGateway()')).toHaveLength(1);
    expect(logger.find('warn', 'Misdecorated.m has parameter decorators')).toHaveLength(1);
  });

  it('@OnMessage handlers get only the messages no @SubscribeMessage handler took', async () => {
    const { client } = await cluster([Greeter, RoutedGateway, Unrouted]);
    client.send('{"event": "ping", "data": 1}');
    expect(await client.next()).toBe('{"event":"pong","data":1}');
    client.send('plain text');
    expect(await client.next()).toBe('raw plain text');
    client.send('{"event": "unknown", "data": 2}');
    expect(await client.next()).toBe('raw {"event": "unknown", "data": 2}');
    await sleep(50);
    expect(client.drain()).toEqual([]);
    expect(ran).toEqual(['routed 1', 'unrouted plain text', 'unrouted {"event": "unknown", "data": 2}']);
  });
});

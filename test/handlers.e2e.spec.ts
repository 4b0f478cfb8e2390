import {
  Injectable,
  Module,
  UseGuards,
  UsePipes,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestMicroservice,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_GUARD, ExternalContextCreator, NestFactory } from '@nestjs/core';
import { map, timer, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createDirectCall } from '../lib/explorer/direct-call.factory.js';
import { GatewayParamsFactory } from '../lib/explorer/gateway-params.factory.js';
import {
  BusinessWorkerServer,
  ClientId,
  Ctx,
  GatewayEventContext,
  GatewayEvents,
  GatewayServer,
  GatewayService,
  GatewayWorkerModule,
  getGatewayEventContext,
  OnConnect,
  OnMessage,
  Payload,
  Session,
  type GatewaySession,
} from '../lib/index.js';
import { boot, CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { freePort, TextClient, waitFor } from './support/net.js';

/** Handlers with no guard, pipe, interceptor or filter: the worker calls them directly. */
@GatewayEvents()
class PlainEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  onConnect(@Session() session: GatewaySession): void {
    session.n = 0;
    void this.gateway.sendToCurrentClient('hi');
  }

  @OnMessage()
  onMessage(@Payload() message: string, @ClientId() id: string, @Session('n') n: number, @Session() session: GatewaySession, @Ctx() ctx: GatewayEventContext): unknown {
    if (message === 'throw') throw new Error('sync boom');
    if (message === 'obs') {
      // An Observable result: the event (and the client's queue) waits for it, as Nest's wrapper would.
      return timer(50).pipe(
        map(() => {
          session.obs = 'set';
          void this.gateway.sendToCurrentClient('obs done');
        }),
      );
    }
    session.n = n + 1;
    void this.gateway.sendToCurrentClient(`${message} n=${session.n} obs=${String(session.obs ?? '-')} same=${id === ctx.clientId}`);
    return undefined;
  }
}

/** A global guard (APP_GUARD): refuses the message "secret". */
@Injectable()
class NoSecretGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return getGatewayEventContext(context).message !== 'secret';
  }
}

/** A global interceptor (`app.useGlobalInterceptors()`): records what it wraps. */
class RecordingInterceptor implements NestInterceptor {
  readonly seen: string[] = [];
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.seen.push(getGatewayEventContext(context).event);
    return next.handle();
  }
}

class UpperPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    return value.toUpperCase();
  }
}

@GatewayEvents()
@UseGuards(NoSecretGuard)
class GuardedClass {
  @OnMessage() m(): void {}
}

@GatewayEvents()
class PipedParam {
  @OnMessage() m(@Payload(new UpperPipe()) _m: string): void {}
}

@GatewayEvents()
class PipedMethod {
  @OnMessage() @UsePipes(new UpperPipe()) m(@Payload() _m: string): void {}
}

describe('handler calls', () => {
  const apps: INestMicroservice[] = [];
  const clients: TextClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const app of apps.splice(0).reverse()) await app.close();
  });

  /** Register + gateway (text) in this process; returns what a worker needs. */
  async function edge(logger: CapturingLogger) {
    const g = await startGatewayOnly(logger);
    apps.push(...g.apps);
    return g;
  }

  async function connect(gateway: GatewayServer): Promise<TextClient> {
    await waitFor(() => gateway.workerKeys.length === 1, 'the worker to reach the gateway', 10_000);
    const client = await TextClient.connect(gateway.publicPorts[0]!);
    clients.push(client);
    expect(await client.next()).toBe('hi');
    return client;
  }

  it('calls a handler without enhancers directly: same arguments, sync throws logged, Observables awaited, sessions written back', async () => {
    const logger = new CapturingLogger();
    const { registerAddress, gateway } = await edge(logger);
    apps.push(await boot({ registerAddress, businessWorker: { name: 'Plain' } }, 'business-worker', logger, [PlainEvents]));
    const client = await connect(gateway);
    client.send('a');
    expect(await client.next()).toBe('a n=1 obs=- same=true');
    client.send('throw');
    client.send('b');
    expect(await client.next()).toBe('b n=2 obs=- same=true');
    expect(logger.find('error', 'PlainEvents.onMessage').join('\n')).toContain('sync boom');
    // "c" is queued behind the Observable's 50 ms: it must see the session the Observable set.
    client.send('obs');
    client.send('c');
    expect(await client.next()).toBe('obs done');
    expect(await client.next()).toBe('c n=3 obs=set same=true');
  });

  it('keeps Nest\'s wrapper when a global guard (APP_GUARD) applies to a class without enhancers of its own', async () => {
    const logger = new CapturingLogger();
    const { registerAddress, gateway } = await edge(logger);
    apps.push(await boot({ registerAddress, businessWorker: { name: 'Guarded' } }, 'business-worker', logger, [PlainEvents, { provide: APP_GUARD, useClass: NoSecretGuard }]));
    const client = await connect(gateway);
    client.send('secret');
    client.send('open');
    // The guard refused "secret": its handler never ran (n is still 0 for "open").
    expect(await client.next()).toBe('open n=1 obs=- same=true');
    expect(logger.find('warn', 'was denied by a guard')).toHaveLength(1);
  });

  it('keeps Nest\'s wrapper when app.useGlobalInterceptors() was called before listen()', async () => {
    const logger = new CapturingLogger();
    const { registerAddress, gateway } = await edge(logger);
    @Module({ imports: [GatewayWorkerModule.forRoot({ registerAddress, businessWorker: { name: 'Intercepted' } })], providers: [PlainEvents] })
    class WorkerModule {}
    const app = await NestFactory.createMicroservice(WorkerModule, {
      inject: [BusinessWorkerServer],
      useFactory: (strategy: BusinessWorkerServer) => ({ strategy }),
      logger,
    });
    const interceptor = new RecordingInterceptor();
    app.useGlobalInterceptors(interceptor);
    await app.listen();
    apps.push(app);
    const client = await connect(gateway);
    client.send('x');
    expect(await client.next()).toBe('x n=1 obs=- same=true');
    expect(interceptor.seen).toEqual(['connect', 'message']);
  });

  it('decides per handler: a guard on the class, a pipe on a parameter or on the method keep Nest\'s wrapper', async () => {
    const logger = new CapturingLogger();
    const registerAddress = `127.0.0.1:${await freePort()}`;
    const app = await boot({ registerAddress, businessWorker: { name: 'Decide' } }, 'business-worker', logger, [PlainEvents, GuardedClass, PipedParam, PipedMethod]);
    apps.push(app);
    const creator = app.get(ExternalContextCreator);
    const factory = new GatewayParamsFactory();
    const direct = (instance: object, name: string) => createDirectCall(creator, instance, (instance as Record<string, (...a: unknown[]) => unknown>)[name]!, name, factory);
    expect(direct(app.get(PlainEvents), 'onMessage')).toBeTypeOf('function');
    expect(direct(app.get(GuardedClass), 'm')).toBeNull();
    expect(direct(app.get(PipedParam), 'm')).toBeNull();
    expect(direct(app.get(PipedMethod), 'm')).toBeNull();
    // A global pipe added later changes the decision for handlers registered after it.
    app.useGlobalPipes(new UpperPipe());
    expect(direct(app.get(PlainEvents), 'onMessage')).toBeNull();
  });
});

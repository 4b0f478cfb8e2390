import {
  Catch,
  Injectable,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import {
  ClientId,
  Ctx,
  GatewayEventContext,
  GatewayEvents,
  GatewayService,
  getGatewayEventContext,
  isGatewayWorkerContext,
  OnClose,
  OnConnect,
  OnMessage,
  Payload,
  Session,
  type GatewaySession,
} from '../../lib/index.js';
import { sleep } from './net.js';

/** Connections to this public port are refused by the guard. */
export const denied = { port: -1 };
/** The (2,000) most recent events the interceptor saw: `<event> <clientId>`. */
export const seen: string[] = [];

/** Denies clients that connected to `denied.port`. */
@Injectable()
export class PortGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return getGatewayEventContext(context).gatewayPort !== denied.port;
  }
}

/** Records every event it wraps. */
@Injectable()
export class RecordingInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (isGatewayWorkerContext(context)) {
      const ctx = context.switchToRpc().getContext<GatewayEventContext>();
      seen.push(`${ctx.event} ${ctx.clientId}`);
      // The most recent events only: the churn test measures the heap.
      if (seen.length > 2000) seen.splice(0, seen.length - 2000);
    }
    return next.handle();
  }
}

export class BadCommandError extends Error {}

/** Tells the client what was wrong with its command. */
@Catch(BadCommandError)
@Injectable()
export class BadCommandFilter implements ExceptionFilter {
  constructor(private readonly gateway: GatewayService) {}
  async catch(error: BadCommandError, host: ArgumentsHost): Promise<void> {
    await this.gateway.sendToClient(getGatewayEventContext(host).clientId, `error: ${error.message}`);
  }
}

/** An instance pipe: trims the raw message. */
export class TrimPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    return value.trim();
  }
}

/** A class pipe (resolved through DI): `"op rest…"` → `{ op, rest }`. */
@Injectable()
export class CommandPipe implements PipeTransform<string, { op: string; rest: string }> {
  transform(value: string) {
    const i = value.indexOf(' ');
    return i < 0 ? { op: value, rest: '' } : { op: value.slice(0, i), rest: value.slice(i + 1) };
  }
}

/**
 * A command-driven handler for the cluster tests: each text command exercises one API call and
 * replies to the sender.
 */
@GatewayEvents()
@UseGuards(PortGuard)
@UseInterceptors(RecordingInterceptor)
@UseFilters(BadCommandFilter)
export class TestEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  async onConnect(@ClientId() id: string, @Session() session: GatewaySession): Promise<void> {
    session.n = 0;
    session.name = `client-${id.slice(-4)}`;
    await this.gateway.sendToCurrentClient(`Hello ${id}`);
  }

  @OnMessage()
  async onMessage(
    @Payload(new TrimPipe(), CommandPipe) cmd: { op: string; rest: string },
    @ClientId() id: string,
    @Session() session: GatewaySession,
    @Ctx() ctx: GatewayEventContext,
  ): Promise<void> {
    const reply = (text: string) => this.gateway.sendToCurrentClient(text);
    switch (cmd.op) {
      case 'echo':
        return void (await reply(cmd.rest));
      case 'inc':
        session.n++;
        return void (await reply(String(session.n)));
      case 'hang':
        // Never settles: eventTimeout must let the client's next events run.
        return new Promise<void>(() => undefined);
      case 'join':
        await this.gateway.bindUid(id, `u-${cmd.rest}`);
        await this.gateway.joinGroup(id, `g-${cmd.rest}`);
        session.joined = cmd.rest;
        return void (await reply('joined'));
      case 'mark':
        session.marked = cmd.rest;
        return void (await reply('marked'));
      case 'session':
        return void (await reply(JSON.stringify(session)));
      case 'update':
        await this.gateway.updateSession(id, JSON.parse(cmd.rest));
        return void (await reply('updated'));
      case 'seq':
        // Random async work: replies must still leave in the order the messages came.
        await sleep(Math.random() * 3);
        return void (await reply(`ack ${cmd.rest}`));
      case 'burst': {
        // Many sends in one turn: they must leave the gateway in one write to the client.
        const sends = [];
        for (let i = 0; i < Number(cmd.rest); i++) sends.push(this.gateway.sendToCurrentClient(`burst ${i}`));
        await Promise.all(sends);
        return;
      }
      case 'whoami':
        return void (await reply(`${ctx.remoteAddress} ${ctx.gatewayAddress} ${ctx.event}`));
      case 'throw':
        throw new Error('boom');
      case 'bad':
        throw new BadCommandError(`bad command "${cmd.rest}"`);
      default:
        return void (await reply(`unknown ${cmd.op}`));
    }
  }

  @OnClose()
  onClose(): void {
    // Recorded by the interceptor.
  }
}

export const testProviders = [TestEvents, CommandPipe, PortGuard, RecordingInterceptor, BadCommandFilter];

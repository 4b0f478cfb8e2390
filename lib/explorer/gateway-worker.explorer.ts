import { Inject, Injectable, Logger, type OnModuleInit, type PipeTransform, type Type } from '@nestjs/common';
import { DiscoveryService, ExternalContextCreator, MetadataScanner, ModuleRef } from '@nestjs/core';
import { GatewayHandlerRegistry } from '../business-worker/gateway-handler.registry.js';
import { GATEWAY_WORKER_CONTEXT_TYPE, GATEWAY_WORKER_OPTIONS, PARAM_ARGS_METADATA } from '../gateway-worker.constants.js';
import { foreignParamDecorators, requestScopedEventsClass, subscribeMessageOutsideGateway } from '../gateway-worker.messages.js';
import { GatewayService, type GatewayMessage } from '../gateway.service.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { createDirectCall } from './direct-call.factory.js';
import { GatewayMetadataAccessor } from './gateway-metadata.accessor.js';
import { GatewayParamsFactory } from './gateway-params.factory.js';
import { wrapMessageHandler } from './message-handler.wrapper.js';

/**
 * Finds `@GatewayEvents()` providers at `onModuleInit` and registers their `@OnConnect`,
 * `@OnMessage` and `@OnClose` methods, wrapped by Nest's ExternalContextCreator so guards, pipes,
 * interceptors and exception filters apply as they do to controllers — or, for a handler with none
 * of these (its own, its class's or global), called directly with the same arguments.
 * `@OnMessage` handlers are wrapped once more (see `wrapMessageHandler`): their return value goes
 * to the client, and their failures never stop the message's other handlers.
 */
@Injectable()
export class GatewayWorkerExplorer implements OnModuleInit {
  private readonly paramsFactory = new GatewayParamsFactory();
  private readonly logger: Logger;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: GatewayMetadataAccessor,
    private readonly contextCreator: ExternalContextCreator,
    private readonly moduleRef: ModuleRef,
    private readonly registry: GatewayHandlerRegistry,
    private readonly gateway: GatewayService,
    @Inject(GATEWAY_WORKER_OPTIONS) options: ResolvedGatewayWorkerOptions,
  ) {
    // The worker's own name, as the worker logs its events.
    this.logger = new Logger(options.businessWorker.name);
  }

  async onModuleInit(): Promise<void> {
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper;
      // A request-scoped class has no instance to call (events have no request): say so, as
      // @nestjs/schedule and @nestjs/bullmq do, instead of registering nothing silently.
      if (!wrapper.isDependencyTreeStatic()) {
        if (this.accessor.isEventsClass(metatype ?? undefined)) this.logger.warn(requestScopedEventsClass((metatype as Type).name));
        continue;
      }
      if (!instance || typeof instance !== 'object') continue;
      const type = instance.constructor as Type;
      if (!this.accessor.isEventsClass(type)) continue;
      for (const methodName of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const method = instance[methodName];
        const event = this.accessor.getEvent(method);
        if (!event) {
          // @SubscribeMessage on a PHP-style class would silently do nothing: say where it belongs.
          if (this.accessor.isSubscribeMessage(method) && !this.accessor.isWebSocketGateway(type)) this.logger.warn(subscribeMessageOutsideGateway(`${type.name}.${methodName}`));
          continue;
        }
        if (this.accessor.hasRouteArgs(type, methodName)) this.logger.warn(foreignParamDecorators(`${type.name}.${methodName}`));
        await this.resolvePipeClasses(type, methodName);
        // Nothing for Nest to apply: call the method directly (see createDirectCall for why).
        const direct = createDirectCall(this.contextCreator, instance, method, methodName, this.paramsFactory);
        // Pass the original method: Nest reads guard/interceptor metadata off the function object.
        const call = direct ?? this.contextCreator.create(
          instance,
          method,
          methodName,
          PARAM_ARGS_METADATA,
          this.paramsFactory,
          undefined,
          undefined,
          { guards: true, interceptors: true, filters: true },
          GATEWAY_WORKER_CONTEXT_TYPE,
        );
        const name = `${type.name}.${methodName}`;
        this.registry.register(event, { name, call: event === 'message' ? wrapMessageHandler(name, call, this.reply, this.logger) : call });
      }
    }
  }

  /** Sends an `@OnMessage` handler's return value to the client. */
  private readonly reply = (clientId: string, value: unknown): Promise<boolean> => this.gateway.sendToClient(clientId, value as GatewayMessage);

  /**
   * Nest instantiates pipe classes only under its HTTP route-args key, so `@Payload(MyPipe)` would
   * be silently ignored: replace pipe classes by instances (the provider if there is one,
   * otherwise one built with DI).
   */
  private async resolvePipeClasses(type: Type, methodName: string): Promise<void> {
    const args: Record<string, { pipes?: (Type<PipeTransform> | PipeTransform)[] }> | undefined = Reflect.getMetadata(PARAM_ARGS_METADATA, type, methodName);
    if (!args) return;
    for (const entry of Object.values(args)) {
      if (!entry.pipes?.some((p) => typeof p === 'function')) continue;
      entry.pipes = await Promise.all(entry.pipes.map((p) => (typeof p === 'function' ? this.pipeInstance(p) : p)));
    }
  }

  private async pipeInstance(pipe: Type<PipeTransform>): Promise<PipeTransform> {
    try {
      return this.moduleRef.get(pipe, { strict: false });
    } catch {
      return this.moduleRef.create(pipe);
    }
  }
}

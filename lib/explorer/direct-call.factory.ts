import type { ParamData } from '@nestjs/common';
import { EXCEPTION_FILTERS_METADATA, GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA } from '@nestjs/common/constants.js';
import type { ExternalContextCreator } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import type { GatewayEventContext } from '../business-worker/gateway-event-context.js';
import { PARAM_ARGS_METADATA } from '../gateway-worker.constants.js';
import { applicationConfigOf } from '../utils/application-config.util.js';
import type { GatewayParamsFactory } from './gateway-params.factory.js';

type HandlerCall = (payload: unknown, ctx: GatewayEventContext) => unknown;

interface ParamEntry {
  index: number;
  data?: ParamData;
  pipes?: unknown[];
}

/** What of Nest's ApplicationConfig this file reads: the app's global enhancers. */
interface GlobalEnhancers {
  getGlobalGuards(): unknown[];
  getGlobalInterceptors(): unknown[];
  getGlobalFilters(): unknown[];
  getGlobalPipes(): unknown[];
  getGlobalRequestGuards(): unknown[];
  getGlobalRequestInterceptors(): unknown[];
  getGlobalRequestFilters(): unknown[];
  getGlobalRequestPipes(): unknown[];
}

/**
 * A handler call without Nest's enhancer machinery, for a handler that has nothing for it to do:
 * no guard, interceptor, exception filter or pipe on the method, on its class, or global (from
 * `app.useGlobal*()` or `APP_GUARD`-style providers), and only our parameter decorators. It gives
 * the handler the same arguments as `ExternalContextCreator` would, and awaits an Observable the
 * same way, but creates no promise of its own: Nest's wrapper creates ~19 per call even when it
 * applies nothing, and with AsyncLocalStorage active each one costs promise hooks (the bench
 * profile of S3 showed this as the largest part of the worker's time per event).
 *
 * Returns null — use Nest's wrapper — when anything applies, or when the app's global enhancers
 * cannot be read. Decided when the handler is registered, as Nest's wrapper also reads the global
 * enhancers once, when it is created.
 */
export function createDirectCall(
  contextCreator: ExternalContextCreator,
  instance: object,
  method: (...args: unknown[]) => unknown,
  methodName: string,
  paramsFactory: GatewayParamsFactory,
): HandlerCall | null {
  const type = instance.constructor;
  for (const key of [GUARDS_METADATA, INTERCEPTORS_METADATA, EXCEPTION_FILTERS_METADATA, PIPES_METADATA]) {
    if (isNonEmpty(Reflect.getMetadata(key, method)) || isNonEmpty(Reflect.getMetadata(key, type))) return null;
  }
  const globals = globalEnhancersOf(contextCreator);
  if (!globals || hasGlobalEnhancers(globals)) return null;

  const metadata: Record<string, ParamEntry> = Reflect.getMetadata(PARAM_ARGS_METADATA, type, methodName) ?? {};
  const params: { index: number; type: number; data: ParamData | undefined }[] = [];
  for (const [key, entry] of Object.entries(metadata)) {
    const paramType = Number(key.split(':')[0]);
    // A pipe, or a parameter decorator that is not ours: Nest's wrapper knows what to do.
    if (!Number.isInteger(paramType) || entry.pipes?.length) return null;
    params.push({ index: entry.index, type: paramType, data: entry.data });
  }
  const argsLength = params.reduce((n, p) => Math.max(n, p.index + 1), 0);

  return (payload, ctx) => {
    const args = new Array<unknown>(argsLength);
    const source: [unknown, GatewayEventContext] = [payload, ctx];
    for (const p of params) args[p.index] = paramsFactory.exchangeKeyForValue(p.type, p.data, source);
    const result = method.apply(instance, args);
    return isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result;
  };
}

/** The app's global enhancers, or null when they cannot be read (every handler then keeps Nest's wrapper). */
function globalEnhancersOf(contextCreator: ExternalContextCreator): GlobalEnhancers | null {
  const config = applicationConfigOf(contextCreator) as Partial<GlobalEnhancers> | null;
  const getters: (keyof GlobalEnhancers)[] = [
    'getGlobalGuards',
    'getGlobalInterceptors',
    'getGlobalFilters',
    'getGlobalPipes',
    'getGlobalRequestGuards',
    'getGlobalRequestInterceptors',
    'getGlobalRequestFilters',
    'getGlobalRequestPipes',
  ];
  return config && getters.every((g) => typeof config[g] === 'function') ? (config as GlobalEnhancers) : null;
}

function hasGlobalEnhancers(g: GlobalEnhancers): boolean {
  return [
    g.getGlobalGuards(),
    g.getGlobalInterceptors(),
    g.getGlobalFilters(),
    g.getGlobalPipes(),
    g.getGlobalRequestGuards(),
    g.getGlobalRequestInterceptors(),
    g.getGlobalRequestFilters(),
    g.getGlobalRequestPipes(),
  ].some(isNonEmpty);
}

function isNonEmpty(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

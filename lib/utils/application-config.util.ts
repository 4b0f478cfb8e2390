import type { ExternalContextCreator } from '@nestjs/core';

/**
 * Nest's ApplicationConfig of this app (global enhancers, websocket adapter), or null. Nest does
 * not provide it for injection; the context creator's enhancer factories hold it. Read
 * defensively: callers check every method they use, so a change in Nest's internals makes them
 * fall back (keep Nest's wrapper, leave the websocket adapter to the app) instead of failing.
 */
export function applicationConfigOf(contextCreator: ExternalContextCreator): Record<string, unknown> | null {
  const config = (contextCreator as unknown as { guardsContextCreator?: { config?: unknown } }).guardsContextCreator?.config;
  return config !== null && typeof config === 'object' ? (config as Record<string, unknown>) : null;
}

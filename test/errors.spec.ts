/**
 * Every error class of the package belongs to one family (GatewayWorkerError), so users can catch
 * them with one `instanceof`; each names itself. The classes are read from lib/errors/, so a new
 * error class that forgets the base class fails here (add a sample below for it); the ones users
 * meet are exported from the package root.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../lib/index.js';
import { GatewayWorkerError } from '../lib/index.js';
import { CliUsageError } from '../lib/errors/cli-usage.error.js';
import * as sdk from '../lib/sdk/client.js';

const ERRORS_DIR = fileURLToPath(new URL('../lib/errors/', import.meta.url));

/** One instance of each error class, built with realistic arguments. */
const samples: Record<string, () => Error> = {
  GatewayProtocolError: () => new api.GatewayProtocolError('Packet length 3 is below the 28-byte header.'),
  GatewayUnreachableError: () => new api.GatewayUnreachableError('127.0.0.1:2900', 'ECONNREFUSED'),
  GatewayWorkerOptionsError: () => new api.GatewayWorkerOptionsError(['gateway.startPort must be a port']),
  InvalidClientIdError: () => new api.InvalidClientIdError('nope'),
  NoCurrentClientError: () => new api.NoCurrentClientError('sendToCurrentClient'),
  NoGatewayError: () => new api.NoGatewayError('getAllClientCount'),
  PartialResultError: () => new api.PartialResultError('getAllClientCount', 3, [{ address: '127.0.0.1:2901', error: new Error('timeout') }]),
  PhpSerializeError: () => new api.PhpSerializeError('a Date', 'session.birthday'),
  PhpUnserializeError: () => new api.PhpUnserializeError('expected a value, found the end of input', 0),
  QueryTimeoutError: () => new api.QueryTimeoutError('127.0.0.1:2900', 5000),
  RegisterUnavailableError: () => new api.RegisterUnavailableError(['127.0.0.1:1236: ECONNREFUSED']),
  TlsCertificateError: () => new api.TlsCertificateError('gateway.tls.cert', '/missing.pem', 'ENOENT'),
  PacketTooLargeError: () => new api.PacketTooLargeError('sendToAll', 12_000_000, 11_534_336),
  CliUsageError: () => new CliUsageError('Unknown command "bogus".'),
  RequestTimeoutError: () => new sdk.RequestTimeoutError('say', 5000),
  ClientDisconnectedError: () => new sdk.ClientDisconnectedError('say'),
  RequestFailedError: () => new sdk.RequestFailedError('say', { status: 'error', message: 'join first' }),
};

/** Error classes the package throws and catches itself (e.g. inside the CLI): not exported. */
const NOT_EXPORTED = new Set<string>(['CliUsageError']);
/** The client SDK's errors: exported from `nestjs-gateway-worker/client` (lib/sdk/client.ts), not the root. */
const SDK_ERRORS = new Set<string>(['RequestTimeoutError', 'ClientDisconnectedError', 'RequestFailedError']);

/** `foo-bar.error.ts` → `FooBarError`. */
const className = (file: string): string =>
  file
    .replace(/\.error\.ts$/, '')
    .split('-')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('') + 'Error';

const errorFiles = readdirSync(ERRORS_DIR).filter((f) => f.endsWith('.error.ts') && f !== 'gateway-worker.error.ts');

describe('GatewayWorkerError family', () => {
  it('lib/errors/ holds the classes this test knows', () => {
    expect(errorFiles.map(className).sort()).toEqual(Object.keys(samples).sort());
  });

  for (const file of errorFiles) {
    const name = className(file);
    // The path is computed, so Vite cannot resolve it ahead of time: load the source file itself.
    const load = async () => ((await import(/* @vite-ignore */ pathToFileURL(ERRORS_DIR + file).href)) as Record<string, unknown>)[name];
    it(`${name} extends GatewayWorkerError`, async () => {
      const cls = await load();
      expect(typeof cls).toBe('function');
      expect((cls as { prototype: unknown }).prototype).toBeInstanceOf(GatewayWorkerError);
    });
    it(`${name} instances: instanceof GatewayWorkerError and Error, name "${name}", a message`, async () => {
      const err = samples[name]!();
      expect(err).toBeInstanceOf(GatewayWorkerError);
      expect(err).toBeInstanceOf(Error);
      expect(err).toBeInstanceOf((await load()) as new () => Error);
      expect(err.name).toBe(name);
      expect(err.message.length).toBeGreaterThan(0);
      expect(String(err)).toBe(`${name}: ${err.message}`);
    });
  }

  it('the errors a GatewayService or options user meets are exported from the package root', () => {
    for (const name of Object.keys(samples).filter((n) => !NOT_EXPORTED.has(n) && !SDK_ERRORS.has(n))) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    }
    for (const name of SDK_ERRORS) expect(typeof (sdk as Record<string, unknown>)[name], name).toBe('function');
  });

  it('every Error subclass exported from the package root is a GatewayWorkerError', () => {
    const errorClasses = Object.entries(api).filter(
      ([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Error,
    );
    expect(errorClasses.length).toBeGreaterThanOrEqual(errorFiles.length - SDK_ERRORS.size);
    for (const [name, cls] of errorClasses) {
      if (cls === GatewayWorkerError) continue;
      expect({ name, family: (cls as { prototype: unknown }).prototype instanceof GatewayWorkerError }).toEqual({ name, family: true });
    }
  });

  it('the base class carries a cause', () => {
    const cause = new Error('ECONNRESET');
    class Probe extends GatewayWorkerError {
      override readonly name = 'Probe';
    }
    expect(new Probe('wrapped', { cause }).cause).toBe(cause);
  });
});

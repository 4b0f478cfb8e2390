import { readFileSync } from 'node:fs';
import { createSecureContext, type TlsOptions } from 'node:tls';
import { TlsCertificateError } from '../errors/tls-certificate.error.js';
import type { GatewayTlsOptions } from '../interfaces/gateway-worker-options.interface.js';

/** PEM material given inline rather than as a path. */
const isPemText = (s: string) => s.includes('-----BEGIN ');

/** Reads one PEM/PFX source: Buffers and PEM text are contents, any other string is a file path. */
function load(option: string, source: string | Buffer, pem: boolean): string | Buffer {
  if (Buffer.isBuffer(source) || (pem && isPemText(source))) return source;
  try {
    return readFileSync(source);
  } catch (err) {
    throw new TlsCertificateError(option, source, (err as Error).message);
  }
}

function loadAll(option: string, source: GatewayTlsOptions['cert']): string | Buffer | (string | Buffer)[] | undefined {
  if (source === undefined) return undefined;
  return Array.isArray(source) ? source.map((s, i) => load(`${option}[${i}]`, s, true)) : load(option, source, true);
}

/**
 * Turns `gateway.tls` into Node TLS server options (Workerman's `transport = 'ssl'` context):
 * `cert`, `key`, `ca` and `pfx` may be file paths or contents; everything else is passed through.
 * Builds the secure context once, so a key that does not match its certificate or a wrong
 * passphrase stops the gateway at startup rather than failing every handshake.
 * @throws TlsCertificateError naming the unreadable file, or the reason the material is unusable
 */
export function loadTlsOptions(tls: GatewayTlsOptions): TlsOptions {
  const options: TlsOptions = {
    ...tls,
    cert: loadAll('gateway.tls.cert', tls.cert),
    key: loadAll('gateway.tls.key', tls.key),
    ca: loadAll('gateway.tls.ca', tls.ca),
    pfx: tls.pfx === undefined ? undefined : load('gateway.tls.pfx', tls.pfx, false),
  };
  for (const k of ['cert', 'key', 'ca', 'pfx'] as const) if (options[k] === undefined) delete options[k];
  try {
    createSecureContext(options);
  } catch (err) {
    const files = [tls.cert, tls.key, tls.pfx].flat().filter((s): s is string => typeof s === 'string' && !isPemText(s));
    throw new TlsCertificateError('gateway.tls', null, `${(err as Error).message}${files.length ? ` (files: ${files.join(', ')})` : ''}`);
  }
  return options;
}

import { GatewayWorkerError } from './gateway-worker.error.js';
import { tlsCertificateUnusable, tlsFileUnreadable } from '../gateway-worker.messages.js';

/**
 * The gateway's TLS certificate, key or CA (`gateway.tls`) cannot be read or used; thrown when the
 * gateway starts, so the process stops with the file named instead of serving without TLS.
 *
 * @publicApi
 */
export class TlsCertificateError extends GatewayWorkerError {
  override readonly name = 'TlsCertificateError';
  /**
   * @param option the option at fault, e.g. `gateway.tls.cert`
   * @param path the file that could not be read, or null when the contents were given inline
   * @param reason the operating system's or OpenSSL's error message
   */
  constructor(
    readonly option: string,
    readonly path: string | null,
    readonly reason: string,
  ) {
    super(path !== null ? tlsFileUnreadable(option, path, reason) : tlsCertificateUnusable(option, reason));
  }
}

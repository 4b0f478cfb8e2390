import { GatewayWorkerError } from './gateway-worker.error.js';

/**
 * The `gateway-worker` command line is wrong (unknown command or option, missing value): the
 * message says what and shows the usage; the CLI exits with `exitCode` (2, as usage errors do).
 */
export class CliUsageError extends GatewayWorkerError {
  override readonly name = 'CliUsageError';
  /** The process exit code for a usage error. */
  readonly exitCode = 2;
}

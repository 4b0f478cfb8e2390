import { BadRequestException, Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { invalidJsonPayload } from '../gateway-worker.messages.js';

/**
 * Parses a JSON text message into a value, for `@Payload()` of a PHP-style `@OnMessage` handler:
 * `@Payload(ParseJsonPipe, ValidationPipe) dto: SayDto`. A Buffer (binary frame) is read as
 * UTF-8; values that are not text (already parsed) pass through; a parameter declared as `string`
 * is left as it is. Invalid JSON is a `BadRequestException`.
 *
 * @publicApi
 */
@Injectable()
export class ParseJsonPipe implements PipeTransform<unknown, unknown> {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.metatype === String) return value;
    const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString() : null;
    if (text === null) return value;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new BadRequestException(invalidJsonPayload((err as Error).message));
    }
  }
}

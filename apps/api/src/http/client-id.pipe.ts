import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { isValidClientId } from '@purple/contracts';

/** A `{id}` path parameter that must be a client id. */
@Injectable()
export class ClientIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isValidClientId(value)) {
      throw new BadRequestException('the client id in the path must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen');
    }
    return value;
  }
}

import { ForbiddenException } from '@nestjs/common';
import { ClientPrincipal, hasScope } from '@purple/auth';

/** The admin may act on any client; any other caller only on itself (403, whether or not the other exists). */
export function assertAdminOrSelf(caller: ClientPrincipal, clientId: string): void {
  if (hasScope(caller, 'admin') || caller.clientId === clientId) return;
  throw new ForbiddenException(`client ${caller.clientId} may not act on client ${clientId}`);
}

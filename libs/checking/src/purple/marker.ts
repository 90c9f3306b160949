import { randomBytes } from 'node:crypto';

/** A link id safe to put verbatim in a query, a command line, a file name or a user agent. */
const USABLE_LINK_ID = /^[A-Za-z0-9._-]{6,64}$/;

/**
 * An execution's marker, for `{{marker}}`: Caldera's link id when it is short and plain (stable, and what workers
 * always used), else generated once (`pm-` and 12 hex digits) and stored with the execution, so a redelivery or a
 * re-check searches for the same one.
 */
export function markerFor(linkId: string | null, random: (bytes: number) => Buffer = randomBytes): string {
  if (linkId !== null && USABLE_LINK_ID.test(linkId)) return linkId;
  return `pm-${random(6).toString('hex')}`;
}

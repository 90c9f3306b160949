import type { MatchQuality } from '@purple/contracts';

export interface MatchFactsInput {
  markerFound: boolean;
  hostScoped: boolean;
}

/**
 * How surely a detection belongs to its execution: `exact` when its marker was found in the matched event,
 * `scoped` when the search was limited to the execution's host (and, as every search, its time window),
 * `heuristic` otherwise — also when the worker said nothing about it (an older worker, another producer).
 * Only detections have a quality.
 */
export function gradeMatch(detected: boolean, facts: MatchFactsInput | undefined): MatchQuality | null {
  if (!detected) return null;
  if (facts?.markerFound) return 'exact';
  if (facts?.hostScoped) return 'scoped';
  return 'heuristic';
}

/** exact beats scoped beats heuristic: an execution is as surely detected as its best match. */
export const QUALITY_RANK: Record<MatchQuality, number> = { exact: 0, scoped: 1, heuristic: 2 };

export function bestQuality(qualities: Array<MatchQuality | null>): MatchQuality | null {
  const known = qualities.filter((q): q is MatchQuality => q !== null);
  return known.length === 0 ? null : known.reduce((best, q) => (QUALITY_RANK[q] < QUALITY_RANK[best] ? q : best));
}

import type { InitialDelaySource } from '@purple/contracts';

export interface LearnedDelayBounds {
  /** learning is off when false: the default applies */
  enabled: boolean;
  minSeconds: number;
  maxSeconds: number;
}

/**
 * A task's initial delay: the ability's own when it set one; else the source's learned ingestion delay (its p90,
 * rounded up to whole seconds, within the configured bounds) when there is one; else the default.
 */
export function chooseInitialDelay(input: {
  abilitySeconds: number | undefined;
  learnedP90Ms: number | undefined;
  defaultSeconds: number;
  bounds: LearnedDelayBounds;
}): { seconds: number; source: InitialDelaySource } {
  if (input.abilitySeconds !== undefined) return { seconds: input.abilitySeconds, source: 'ability' };
  if (input.bounds.enabled && input.learnedP90Ms !== undefined) {
    const seconds = Math.ceil(input.learnedP90Ms / 1000);
    return { seconds: Math.min(input.bounds.maxSeconds, Math.max(input.bounds.minSeconds, seconds)), source: 'learned' };
  }
  return { seconds: input.defaultSeconds, source: 'default' };
}

/** The ability's initial delay when its detection config sets one (as the task's `initial_delay_seconds`). */
export function abilityInitialDelay(config: Record<string, unknown>): number | undefined {
  const value = config['initial_delay_seconds'];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** Linear-interpolated percentile (as PostgreSQL's percentile_cont) of unsorted values; undefined when empty. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

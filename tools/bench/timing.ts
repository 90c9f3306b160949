import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with PostgreSQL's clock on this host. */
export const now = (): number => performance.timeOrigin + performance.now();

/** When each message of a batch was sent and when it arrived (NaN: not yet). Index = the message's number. */
export interface BatchTimes {
  sentAt: Float64Array;
  arrivedAt: Float64Array;
}

/** Collects the arrivals of one batch: when each message arrived, and a promise per message for the sender. */
export class Arrivals {
  readonly arrivedAt: Float64Array;
  private arrived = 0;
  /** the same message seen again (a redelivery); counted once */
  duplicates = 0;
  private readonly waiting = new Map<number, () => void>();

  constructor(readonly expected: number) {
    this.arrivedAt = new Float64Array(expected).fill(Number.NaN);
  }

  get count(): number {
    return this.arrived;
  }

  /** Notes that message `index` arrived at `at`; anything outside the batch is ignored. */
  arrive(index: number, at: number = now()): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.expected) return;
    if (!Number.isNaN(this.arrivedAt[index])) {
      this.duplicates++;
      return;
    }
    this.arrivedAt[index] = at;
    this.arrived++;
    this.waiting.get(index)?.();
    this.waiting.delete(index);
  }

  has(index: number): boolean {
    return !Number.isNaN(this.arrivedAt[index]);
  }

  /** Resolves once message `index` has arrived. */
  when(index: number): Promise<void> {
    if (this.has(index)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(index, resolve));
  }
}

export interface ClosedLoop {
  count: number;
  /** messages in the system at once: sent and not yet arrived */
  concurrency: number;
  arrivals: Arrivals;
  /** sends message `index`; resolves once the broker confirmed it (or the api answered 202) */
  send: (index: number) => Promise<void>;
  /** names the path in a timeout's message */
  what: string;
}

/**
 * Drives a batch as a closed loop: `concurrency` senders, each sending a message, waiting until it has arrived at
 * the far end, then sending the next. Every path is driven the same way with the same number of messages in the
 * system, so throughput is what the path sustains at that load and latency is end to end, not time spent queued
 * behind a publisher that outruns the consumer (which would grow with the batch size).
 */
export async function runClosedLoop(loop: ClosedLoop): Promise<Float64Array> {
  const sentAt = new Float64Array(loop.count);
  let next = 0;
  const sender = async () => {
    while (next < loop.count) {
      const index = next++;
      sentAt[index] = now();
      await Promise.all([loop.send(index), loop.arrivals.when(index)]);
    }
  };
  const senders = Promise.all(Array.from({ length: Math.max(1, Math.min(loop.concurrency, loop.count)) }, sender));
  const timeoutMs = arrivalTimeoutMs(loop.count);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${loop.what}: only ${loop.arrivals.count} of ${loop.count} messages arrived within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([senders, timedOut]);
  } finally {
    clearTimeout(timer);
  }
  return sentAt;
}

/** How long a batch may take: generous, since a slow path is a result, not a failure. */
export const arrivalTimeoutMs = (count: number) => 60_000 + count * 100;

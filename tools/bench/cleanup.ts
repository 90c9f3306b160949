/**
 * What a run has to undo (processes, connections, the broker namespace, the database), undone latest first, once:
 * by the run's own `finally`, and by Ctrl-C or SIGTERM while the run is still going.
 */
export class Cleanup {
  private readonly steps: Array<{ what: string; undo: () => Promise<unknown> }> = [];
  private running: Promise<string[]> | undefined;
  /** steps added after cleanup began, being undone at once; run() waits for them too */
  private readonly late: Array<Promise<string | undefined>> = [];
  private readonly interrupt = new AbortController();

  /** Aborted when cleanup begins: whatever is still starting (an app waiting to be ready) gives up. */
  get signal(): AbortSignal {
    return this.interrupt.signal;
  }

  /**
   * A step added once cleanup has begun (something still starting when Ctrl-C came) is undone at once, and the
   * caller is stopped with an error so the run sets nothing more up. Queued instead, the step would wait behind (and
   * run after) the removal of what it depends on, e.g. a connection to a database that is being dropped.
   */
  add(what: string, undo: () => Promise<unknown>): void {
    if (this.running) {
      this.late.push(Promise.resolve().then(undo).then(
        () => undefined,
        (error) => `${what}: ${error instanceof Error ? error.message : String(error)}`,
      ));
      throw new InterruptedError(what);
    }
    this.steps.push({ what, undo });
  }

  /** Undoes everything; resolves with what could not be undone (never rejects). */
  run(): Promise<string[]> {
    if (!this.running) {
      this.running = this.undoAll();
      this.interrupt.abort();
    }
    return this.running;
  }

  private async undoAll(): Promise<string[]> {
    const failed: string[] = [];
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.undo();
      } catch (error) {
        failed.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    // what was set up meanwhile (and undone at once) is gone too before the run counts as cleaned up
    for (const outcome of await Promise.all(this.late)) if (outcome) failed.push(outcome);
    return failed;
  }
}

export class InterruptedError extends Error {
  constructor(what: string) {
    super(`interrupted: cleanup had begun when ${what} was set up (undone at once)`);
  }
}

/**
 * What a run has to undo (processes, connections, the broker namespace, the database), undone latest first, once:
 * by the run's own `finally`, and by Ctrl-C or SIGTERM while the run is still going.
 */
export class Cleanup {
  private readonly steps: Array<{ what: string; undo: () => Promise<unknown> }> = [];
  private running: Promise<string[]> | undefined;
  private done = false;

  /** A step added once cleanup has finished (something still starting when Ctrl-C came) is undone at once. */
  add(what: string, undo: () => Promise<unknown>): void {
    if (this.done) {
      void undo().catch(() => undefined);
      return;
    }
    this.steps.push({ what, undo });
  }

  /** Undoes everything; resolves with what could not be undone (never rejects). */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const failed: string[] = [];
      for (let step = this.steps.pop(); step; step = this.steps.pop()) {
        try {
          await step.undo();
        } catch (error) {
          failed.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      this.done = true;
      return failed;
    })();
    return this.running;
  }
}

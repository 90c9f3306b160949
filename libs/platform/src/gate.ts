/**
 * Open or closed, with a reason, and waitable both ways. Consumers take messages only while their dependency's
 * gate is open (see @purple/messaging's QueueConsumer); the owner of the dependency opens and closes it.
 */
export class Gate {
  private closedFor: string | null;
  private waiters = new Set<() => void>();

  constructor(initiallyClosedFor: string | null = null) {
    this.closedFor = initiallyClosedFor;
  }

  get isOpen(): boolean {
    return this.closedFor === null;
  }

  /** why it is closed; null while open */
  get reason(): string | null {
    return this.closedFor;
  }

  open(): void {
    if (this.closedFor === null) return;
    this.closedFor = null;
    this.wake();
  }

  close(reason: string): void {
    if (this.closedFor !== null) return;
    this.closedFor = reason;
    this.wake();
  }

  /** Resolves true once open, or false as soon as `signal` aborts. */
  waitOpen(signal: AbortSignal): Promise<boolean> {
    return this.waitFor(() => this.isOpen, signal);
  }

  /** Resolves true once closed, or false as soon as `signal` aborts. */
  waitClosed(signal: AbortSignal): Promise<boolean> {
    return this.waitFor(() => !this.isOpen, signal);
  }

  private waitFor(condition: () => boolean, signal: AbortSignal): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const check = () => {
        if (!condition() && !signal.aborted) return;
        this.waiters.delete(check);
        signal.removeEventListener('abort', check);
        resolve(condition());
      };
      this.waiters.add(check);
      signal.addEventListener('abort', check, { once: true });
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

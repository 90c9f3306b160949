import { LoginFailureKind, LoginFailureStore } from '../src/auth/login-failure.repository';

/** The failed-login store in memory on a clock of the test's own, for the limiter's unit tests. */
export class MemoryLoginFailures implements LoginFailureStore {
  private readonly rows = new Map<string, { kind: LoginFailureKind; key: string; at: number }>();
  private nextId = 1;

  constructor(readonly clock: () => number = Date.now) {}

  async waitMs(kind: LoginFailureKind, key: string, limit: number, windowMs: number): Promise<number> {
    const now = this.clock();
    const times = [...this.rows.values()]
      .filter((r) => r.kind === kind && r.key === key && r.at > now - windowMs)
      .map((r) => r.at)
      .sort((a, b) => b - a)
      .slice(0, limit);
    return times.length >= limit ? Math.max(1, times[times.length - 1] + windowMs - now) : 0;
  }

  async add(kind: LoginFailureKind, key: string): Promise<string> {
    const id = String(this.nextId++);
    this.rows.set(id, { kind, key, at: this.clock() });
    return id;
  }

  async remove(id: string): Promise<void> {
    this.rows.delete(id);
  }

  async clear(kind: LoginFailureKind, key: string): Promise<void> {
    for (const [id, row] of this.rows) if (row.kind === kind && row.key === key) this.rows.delete(id);
  }

  keys(kind: LoginFailureKind): string[] {
    return [...new Set([...this.rows.values()].filter((r) => r.kind === kind).map((r) => r.key))];
  }
}

import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export type LoginFailureKind = 'client' | 'address';

/** Where failed logins are counted: shared by every api replica, so the limits hold across them. */
export interface LoginFailureStore {
  /** 0 when fewer than `limit` failures of `key` fall in the window, else the milliseconds until one leaves it */
  waitMs(kind: LoginFailureKind, key: string, limit: number, windowMs: number): Promise<number>;
  /** @returns the failure's id */
  add(kind: LoginFailureKind, key: string, windowMs: number): Promise<string>;
  remove(id: string): Promise<void>;
  clear(kind: LoginFailureKind, key: string): Promise<void>;
}

/** `login_failure` in PostgreSQL, on the database's clock. */
@Injectable()
export class LoginFailureRepository implements LoginFailureStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async waitMs(kind: LoginFailureKind, key: string, limit: number, windowMs: number): Promise<number> {
    const [row] = (await this.db().query(
      `SELECT count(*)::int AS n, GREATEST(0, EXTRACT(EPOCH FROM (min(at) + make_interval(secs => $3::float8 / 1000) - now())) * 1000)::float8 AS wait
         FROM (SELECT at FROM login_failure
                WHERE kind = $1 AND key = $2 AND at > now() - make_interval(secs => $3::float8 / 1000)
                ORDER BY at DESC LIMIT $4) recent`,
      [kind, key, windowMs, limit],
    )) as Array<{ n: number; wait: number | null }>;
    return row.n >= limit ? Math.max(1, Math.ceil(row.wait ?? 0)) : 0;
  }

  async add(kind: LoginFailureKind, key: string, windowMs: number): Promise<string> {
    const db = this.db();
    // what has left every window is of no use: the table stays as small as the failures of one window
    await db.query(`DELETE FROM login_failure WHERE at < now() - make_interval(secs => $1::float8 / 1000)`, [windowMs]);
    const [row] = (await db.query(`INSERT INTO login_failure (kind, key) VALUES ($1, $2) RETURNING id::text`, [kind, key])) as Array<{ id: string }>;
    return row.id;
  }

  async remove(id: string): Promise<void> {
    await this.db().query(`DELETE FROM login_failure WHERE id = $1`, [id]);
  }

  async clear(kind: LoginFailureKind, key: string): Promise<void> {
    await this.db().query(`DELETE FROM login_failure WHERE kind = $1 AND key = $2`, [kind, key]);
  }

  private db(): DataSource {
    if (!this.dataSource.isInitialized) throw new ServiceUnavailableException('the database is not available yet');
    return this.dataSource;
  }
}

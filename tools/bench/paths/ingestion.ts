import { databaseEnv } from '@purple/testing';
import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import type { Client } from 'pg';
import { executionResult } from '../messages';
import { Arrivals, runClosedLoop } from '../timing';
import { connection, publishConfirmed } from './amqp';
import { BenchContext, BenchPath, meanLength, startApp } from './path';
import { sqlConnection } from './sql';

/** The database's notice that a detection task was stored (the dispatcher's wake-up call; its payload is the task id). */
const TASK_STORED = 'detection_task_pending';
/** Backstop for a missed notice: look for the batch's rows this often anyway. */
const BACKSTOP_MS = 1000;

/**
 * The checking engine's front door: Caldera's `link_result` published as `caldera_publisher` to
 * `caldera.execution.result` → the real caldera-consumer, in a process of its own → one transaction per message
 * (operation, execution, four detection tasks). A message has arrived when its execution row exists, and it arrived
 * at the row's `created_at` (PostgreSQL's clock, on this same host). The bench hears of new rows through the
 * NOTIFY each stored task sends at commit, so the next message goes out without polling.
 */
export async function startIngestionPath(ctx: BenchContext): Promise<BenchPath> {
  const app = await startApp(ctx, 'caldera-consumer', { ...ctx.broker.env(), ...databaseEnv(ctx.db.url), LOG_LEVEL: ctx.options.logLevel });
  const publishing = await connection(ctx.broker.amqpUrl('caldera_publisher', CHECKING_VHOST), 'caldera_publisher connection', ctx.cleanup);
  const publisher = await publishing.createConfirmChannel();
  const listening = await sqlConnection(ctx.db.url, 'LISTEN connection', ctx.cleanup, ctx.log);
  await listening.query(`LISTEN ${TASK_STORED}`);
  ctx.log('ingestion: caldera-consumer ready, publisher and listener connected');

  return {
    name: 'ingestion',
    title: 'ingestion: caldera_publisher → caldera-consumer → PostgreSQL',
    async runBatch(batch, count) {
      const prefix = `${ctx.runId}-ingest-${batch}-`;
      const bodies = Array.from({ length: count }, (_, i) => executionResult(`${ctx.runId}-ingest`, `${prefix}${i}`, ctx.options.size));
      const arrivals = new Arrivals(count);
      const watcher = new StoredExecutions(ctx, listening, prefix, arrivals);
      try {
        const sentAt = await runClosedLoop({
          count,
          concurrency: ctx.options.concurrency,
          arrivals,
          send: (i) =>
            publishConfirmed(publisher, CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, bodies[i], {
              messageId: `${prefix}${i}`,
              correlationId: `${prefix}${i}`,
            }),
          what: 'ingestion',
        });
        return { times: { sentAt, arrivedAt: arrivals.arrivedAt }, duplicates: arrivals.duplicates, messageBytes: meanLength(bodies) };
      } finally {
        watcher.stop();
      }
    },
    async stop() {
      await publishing.close().catch(() => undefined);
      await listening.end().catch(() => undefined);
      await app.stop();
    },
  };
}

/**
 * Turns the tasks' notices into arrivals: the stored tasks' executions, looked up in one query per burst of notices
 * (never two queries at once), plus a slow sweep of the whole batch as a backstop.
 */
class StoredExecutions {
  private readonly taskIds = new Set<string>();
  private sweep = false;
  private reading = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onNotice = (notice: { channel: string; payload?: string }) => {
    if (notice.channel !== TASK_STORED || !notice.payload) return;
    this.taskIds.add(notice.payload);
    void this.read();
  };

  constructor(
    private readonly ctx: BenchContext,
    private readonly listening: Client,
    private readonly prefix: string,
    private readonly arrivals: Arrivals,
  ) {
    listening.on('notification', this.onNotice);
    this.timer = setInterval(() => {
      this.sweep = true;
      void this.read();
    }, BACKSTOP_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.listening.off('notification', this.onNotice);
  }

  private async read(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (this.taskIds.size > 0 || this.sweep) {
        const ids = [...this.taskIds];
        this.taskIds.clear();
        const sweep = this.sweep;
        this.sweep = false;
        const { rows } = sweep
          ? await this.ctx.sql.query<{ caldera_link_id: string; created_ms: number }>(
              `SELECT caldera_link_id, extract(epoch FROM created_at)::float8 * 1000 AS created_ms
                 FROM execution WHERE left(caldera_link_id, $2) = $1`,
              [this.prefix, this.prefix.length],
            )
          : await this.ctx.sql.query<{ caldera_link_id: string; created_ms: number }>(
              `SELECT DISTINCT e.caldera_link_id, extract(epoch FROM e.created_at)::float8 * 1000 AS created_ms
                 FROM detection_task t JOIN execution e ON e.id = t.execution_id
                WHERE t.id = ANY($1::uuid[]) AND left(e.caldera_link_id, $3) = $2`,
              [ids, this.prefix, this.prefix.length],
            );
        for (const row of rows) {
          const index = Number(row.caldera_link_id.slice(this.prefix.length));
          // the sweep sees every stored row again: only new ones are arrivals
          if (!this.arrivals.has(index)) this.arrivals.arrive(index, row.created_ms);
        }
      }
    } catch (error) {
      // the database went away (the run is being cleaned up); the batch's timeout reports what is missing
      this.ctx.log(`ingestion: reading stored executions failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.reading = false;
    }
  }
}

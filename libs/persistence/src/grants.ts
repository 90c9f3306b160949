import { DatabaseApp } from './database-roles';

export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * What each app may do to each table: the one place database privileges are declared. `npm run migrate` applies it
 * after the migrations (see applyGrants): every listed privilege is granted, everything else revoked, so the
 * database always holds exactly this. A table an app does not appear under is invisible to it; `{}` is a table only
 * the owner (migrations) touches. The sequence behind a serial column follows its table: USAGE for an app that may
 * INSERT. Note: `SELECT … FOR UPDATE` needs UPDATE too, and `INSERT … ON CONFLICT DO UPDATE` needs UPDATE.
 *
 * A migration that adds a table must add its entry here: `tools/security/grants.spec.ts` fails until it does,
 * and `npm run migrate` refuses a schema with a table this map does not name.
 */
export const TABLE_GRANTS: Readonly<Record<string, Readonly<Partial<Record<DatabaseApp, readonly TablePrivilege[]>>>>> = {
  // TypeORM's record of applied migrations
  schema_migrations: {},

  // the checking engine. The api writes these only for checking:admin's replay of a dead letter (which ingests an
  // execution result or records a response exactly as their consumers would) and for redispatching a task.
  operation: {
    'caldera-consumer': ['SELECT', 'INSERT', 'UPDATE'],
    dispatcher: ['SELECT'],
    api: ['SELECT', 'INSERT', 'UPDATE'],
  },
  execution: {
    'caldera-consumer': ['SELECT', 'INSERT'],
    dispatcher: ['SELECT', 'UPDATE'],
    'result-consumer': ['SELECT', 'UPDATE'],
    api: ['SELECT', 'INSERT', 'UPDATE'],
  },
  // the result-consumer inserts re-check tasks (one more search after not_detected, issue 15)
  detection_task: {
    'caldera-consumer': ['SELECT', 'INSERT'],
    dispatcher: ['SELECT', 'UPDATE'],
    'result-consumer': ['SELECT', 'INSERT', 'UPDATE'],
    api: ['SELECT', 'INSERT', 'UPDATE'],
  },
  detection_result: {
    dispatcher: ['SELECT'],
    'result-consumer': ['SELECT', 'INSERT'],
    api: ['SELECT', 'INSERT'],
  },
  // every verdict change of an execution (issue 15): written by whoever rolls a verdict up, read by the api
  execution_verdict_change: {
    dispatcher: ['INSERT'],
    'result-consumer': ['INSERT'],
    api: ['SELECT', 'INSERT'],
  },
  // drained from the dead-letter queues by the result-consumer; listed and marked replayed by the api
  dead_letter: {
    'result-consumer': ['SELECT', 'INSERT'],
    api: ['SELECT', 'UPDATE'],
  },
  caldera_bridge_sent_link: {
    'caldera-bridge': ['SELECT', 'INSERT'],
  },

  // the communications backbone: the api owns the registry; the router reads it and disables a gone webhook
  bus_client: {
    api: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    'bus-router': ['SELECT', 'UPDATE'],
  },
  bus_idempotency_key: {
    api: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  },
  bus_delivered_message: {
    api: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  },
  login_failure: {
    api: ['SELECT', 'INSERT', 'DELETE'],
  },
};

/** The grants of one app, table by table (tables it may not touch are absent). */
export function grantsOf(app: DatabaseApp): Record<string, readonly TablePrivilege[]> {
  const out: Record<string, readonly TablePrivilege[]> = {};
  for (const [table, byApp] of Object.entries(TABLE_GRANTS)) {
    const privileges = byApp[app];
    if (privileges && privileges.length > 0) out[table] = privileges;
  }
  return out;
}

/** What to add to TABLE_GRANTS for tables it does not name (the message the test and `npm run migrate` give). */
export function missingGrantsMessage(tables: string[]): string {
  return (
    `table(s) ${tables.join(', ')} have no entry in TABLE_GRANTS (libs/persistence/src/grants.ts). ` +
    `Add one per table, naming each app that uses it and what it does, e.g. ` +
    tables.map((t) => `${t}: { api: ['SELECT', 'INSERT'] }`).join(', ') +
    ` — or ${tables.map((t) => `${t}: {}`).join(', ')} if only migrations touch it. Apps: api, bus-router, caldera-consumer, dispatcher, result-consumer, caldera-bridge.`
  );
}

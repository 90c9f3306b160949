import { ExecutionRow } from './checking-read.repository';

export const CSV_COLUMNS: Array<keyof ExecutionRow> = [
  'id',
  'operation_id',
  'caldera_link_id',
  'agent_host',
  'agent_paw',
  'command',
  'executed_at',
  'tactic',
  'technique_id',
  'technique_name',
  'verdict',
  'detection_latency_ms',
  'verdict_at',
  'correlation_id',
];

/**
 * RFC 4180 cell. A cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) is prefixed with `'` so a
 * spreadsheet shows a red-team command as text instead of running it.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function executionsCsv(rows: ExecutionRow[]): string {
  const lines = [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((c) => csvCell(row[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

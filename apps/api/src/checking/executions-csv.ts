import { ExecutionRow } from '@purple/checking';

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
 * A formula character anywhere in a cell (spreadsheets skip leading blanks and quotes, and split on embedded line
 * breaks, so a leading-only check misses `" =cmd"` and `"x\r=cmd"`); `-` counts only at the start (after blanks),
 * so host names, ids and dates stay as they are.
 */
const FORMULA = /[=+@|\t\r\n]|^[\s"']*-/;

/**
 * RFC 4180 cell, always quoted. A text cell holding a formula character is prefixed with `'`, so a spreadsheet
 * shows a red-team command as text instead of running it.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '""';
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (typeof value === 'string' && FORMULA.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export function executionsCsv(rows: ExecutionRow[]): string {
  const lines = [CSV_COLUMNS.map(csvCell).join(','), ...rows.map((row) => CSV_COLUMNS.map((c) => csvCell(row[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

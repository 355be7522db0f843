/** What `elt verify` prints: one line per table, then the differing rows of each (pure). */
import type { VerifyReport } from './run-verify.js';

const SHOWN_ROWS = 20;

export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  for (const t of report.tables) {
    const name = `${t.schema}.${t.table}`;
    if (t.outcome === 'equal') lines.push(`${name}: equal (${t.rowsChecked} rows compared)`);
    else if (t.outcome === 'differs') {
      lines.push(
        `${name}: ${t.rowsDiffering} rows differ (${t.rowsChecked} rows compared)${t.repairJobId !== null ? `; resync job ${t.repairJobId} queued to repair it` : ''}`,
      );
      for (const d of t.differences.slice(0, SHOWN_ROWS)) {
        const key = Object.entries(d.key)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
        lines.push(`  ${d.kind.padEnd(7)} ${key}${d.rows > 1 ? ` (${d.rows} copies)` : ''}`);
      }
      if (t.differences.length > SHOWN_ROWS)
        lines.push(
          `  … and ${t.rowsDiffering - SHOWN_ROWS} more (elt verify --json lists up to ${t.differences.length})`,
        );
    } else lines.push(`${name}: ${t.outcome}: ${t.reason ?? ''}`);
  }
  const differing = report.tables.filter((t) => t.outcome === 'differs').length;
  lines.push(
    report.tables.length === 0
      ? 'No table to verify.'
      : differing === 0
        ? `The replica equals the source (${report.tables.length} tables).`
        : `${differing} of ${report.tables.length} tables differ.`,
  );
  return lines.join('\n') + '\n';
}

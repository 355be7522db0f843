/** Markdown tables and the number formats of the bench's reports. */

export const MB = 1024 * 1024;

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

export function table(header: string[], rows: string[][]): string {
  const lines = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

/** A number with `digits` decimals, or – when there is none. */
export function num(value: number | null, digits = 2): string {
  if (value === null || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
}

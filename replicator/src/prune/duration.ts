/**
 * Durations as people write them in settings and API requests: `30d`, `12h`, `90m`, `45s`
 * (a whole number and one unit), as whole seconds; and back to that text.
 */

const UNITS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** Seconds in `text` (`30d`, `12h`, `90m`, `45s`), or null when it is not such a duration. */
export function parseDuration(text: string): number | null {
  const match = /^\s*(\d{1,9})\s*([smhd])\s*$/i.exec(text);
  if (!match) return null;
  return Number(match[1]) * UNITS[match[2]!.toLowerCase() as keyof typeof UNITS];
}

/** The largest unit that divides the seconds exactly: 2592000 -> `30d`, 90 -> `90s`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (seconds > 0 && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

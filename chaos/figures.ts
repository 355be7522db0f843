/**
 * The figures a chaos run measures (kills, catch-up times, faults tried), kept beside the
 * run in .elt/chaos/figures.jsonl so that `make chaos` can print them at the end as one
 * table (chaos/report.ts), and the README's reliability section can quote them.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../harness/replication.js';

export const FIGURES_FILE = process.env.ELT_CHAOS_FIGURES ?? join(REPO_ROOT, '.elt', 'chaos', 'figures.jsonl');

export interface Figure {
  /** The fault or check, e.g. "kill -9 while streaming". */
  fault: string;
  /** What was measured, e.g. "worst catch-up". */
  measure: string;
  value: string | number;
  unit?: string;
}

/** Record one figure of this run (also printed, so a plain vitest run shows it). */
export function recordFigure(figure: Figure): void {
  mkdirSync(dirname(FIGURES_FILE), { recursive: true });
  appendFileSync(FIGURES_FILE, `${JSON.stringify({ ...figure, at: new Date().toISOString() })}\n`);
  console.log(`[chaos] ${figure.fault}: ${figure.measure} = ${figure.value}${figure.unit ? ` ${figure.unit}` : ''}`);
}

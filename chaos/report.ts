/**
 * Print the figures of a chaos run (.elt/chaos/figures.jsonl, written by chaos/figures.ts)
 * as one Markdown table: what the README's "Reliability" section quotes.
 *
 *   npx tsx chaos/report.ts [.elt/chaos/figures.jsonl]
 */
import { readFileSync } from 'node:fs';
import { FIGURES_FILE, type Figure } from './figures.js';

const file = process.argv[2] ?? FIGURES_FILE;
const figures = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Figure);

const lines = ['| fault or check | measure | value |', '|---|---|---|'];
for (const f of figures) lines.push(`| ${f.fault} | ${f.measure} | ${f.value}${f.unit ? ` ${f.unit}` : ''} |`);
process.stdout.write(`${lines.join('\n')}\n`);

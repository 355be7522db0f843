/**
 * Reading the queries out of the dashboard and the alert rules, and the small PromQL
 * surgery the monitoring tests need: which metrics a query reads, Grafana template
 * variables in and out, and an alert's expression with its threshold taken off (so that a
 * healthy system, where the alert cannot fire, still shows the query finds its series).
 * Pure: no I/O.
 */

/** Grafana's built-in variables: used in queries, never defined in `templating`. */
export const GRAFANA_BUILTINS = new Set([
  '__rate_interval',
  '__interval',
  '__interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__from',
  '__to',
  '__dashboard',
  '__org',
  '__user',
  '__name',
  '__all',
  'timeFilter',
  '__timeFilter',
]);

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface DashboardTarget {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: DatasourceRef | string | null;
}

export interface DashboardPanel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  gridPos?: GridPos;
  datasource?: DatasourceRef | string | null;
  targets?: DashboardTarget[];
  /** A row's panels (when collapsed). */
  panels?: DashboardPanel[];
  collapsed?: boolean;
}

export interface TemplateVariable {
  name: string;
  type: string;
  label?: string;
  datasource?: DatasourceRef | string | null;
  query?: string | { query?: string };
  definition?: string;
  allValue?: string;
  includeAll?: boolean;
}

export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: DashboardPanel[];
  templating?: { list?: TemplateVariable[] };
}

/** Every panel, a row's nested panels included, in order. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  for (const panel of dashboard.panels ?? []) {
    out.push(panel);
    for (const nested of panel.panels ?? []) out.push(nested);
  }
  return out;
}

export interface PanelQuery {
  panelId: number | undefined;
  panel: string;
  refId: string;
  expr: string;
}

/** The PromQL of every target of every panel. */
export function dashboardQueries(dashboard: Dashboard): PanelQuery[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panelId: panel.id,
      panel: panel.title ?? '(untitled)',
      refId: target.refId ?? '?',
      expr: target.expr ?? '',
    })),
  );
}

/** The text of a template variable's query. */
export function variableQuery(variable: TemplateVariable): string {
  return typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
}

const VARIABLE_PATTERN = /\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]|\$([A-Za-z0-9_]+)/g;

/** Names of the template variables a text uses ($name, ${name}, ${name:format}, [[name]]). */
export function usedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(VARIABLE_PATTERN)) names.add((m[1] ?? m[2] ?? m[3])!);
  return [...names];
}

/** Replace template variables by values; a variable without a value is an error. */
export function substituteVariables(text: string, values: Record<string, string>): string {
  return text.replace(VARIABLE_PATTERN, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for the template variable ${name} in ${JSON.stringify(text)}`);
    return value;
  });
}

// ------------------------------------------------------------------ PromQL scanning

type Token = {
  kind: 'ident' | 'number' | 'string' | 'op' | 'open' | 'close' | 'other';
  text: string;
  start: number;
  end: number;
};

const OPERATORS = ['==', '!=', '>=', '<=', '=~', '!~', '>', '<', '+', '-', '*', '/', '%', '^', '=', ','];

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < expr.length && expr[i] !== c) i += expr[i] === '\\' && c !== '`' ? 2 : 1;
      i++;
      tokens.push({ kind: 'string', text: expr.slice(start, i), start, end: i });
      continue;
    }
    if ('([{'.includes(c)) {
      tokens.push({ kind: 'open', text: c, start, end: ++i });
      continue;
    }
    if (')]}'.includes(c)) {
      tokens.push({ kind: 'close', text: c, start, end: ++i });
      continue;
    }
    if (/[0-9.]/.test(c)) {
      // Numbers, and durations such as 5m or 1h30m (inside [...]).
      while (i < expr.length && /[0-9a-zA-Z._+]/.test(expr[i]!) && !(expr[i] === '+' && !/[eE]/.test(expr[i - 1]!)))
        i++;
      tokens.push({ kind: 'number', text: expr.slice(start, i), start, end: i });
      continue;
    }
    if (/[A-Za-z_:]/.test(c)) {
      while (i < expr.length && /[A-Za-z0-9_:]/.test(expr[i]!)) i++;
      tokens.push({ kind: 'ident', text: expr.slice(start, i), start, end: i });
      continue;
    }
    const op = OPERATORS.find((o) => expr.startsWith(o, i));
    if (op) {
      i += op.length;
      tokens.push({ kind: 'op', text: op, start, end: i });
      continue;
    }
    i++;
    tokens.push({ kind: 'other', text: c, start, end: i });
  }
  return tokens;
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
  'Inf',
  'NaN',
]);
const LABEL_LIST_OPENERS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric names a PromQL expression reads: identifiers that are not functions,
 * keywords, label names (inside {} or a by/on/... list) or durations.
 */
export function metricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names = new Set<string>();
  const stack: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'open') {
      const previous = tokens[i - 1];
      stack.push(
        t.text === '(' && previous?.kind === 'ident' && LABEL_LIST_OPENERS.has(previous.text) ? 'labels' : t.text,
      );
      continue;
    }
    if (t.kind === 'close') {
      stack.pop();
      continue;
    }
    if (t.kind !== 'ident') continue;
    const inside = stack[stack.length - 1];
    if (inside === '{' || inside === '[' || inside === 'labels') continue;
    if (KEYWORDS.has(t.text)) continue;
    const next = tokens[i + 1];
    if (next?.text === '(') continue;
    // An aggregation with its grouping first: sum by (x) (...)
    if (next?.kind === 'ident' && (next.text === 'by' || next.text === 'without')) continue;
    names.add(t.text);
  }
  return [...names];
}

/** The top-level operands of and/or/unless, with their on()/ignoring() modifiers dropped. */
export function splitSetOperands(expr: string): string[] {
  const tokens = tokenize(expr);
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'open') depth++;
    else if (t.kind === 'close') depth--;
    else if (depth === 0 && t.kind === 'ident' && (t.text === 'and' || t.text === 'or' || t.text === 'unless')) {
      parts.push(expr.slice(from, t.start));
      let j = i + 1;
      // on (...) / ignoring (...) after the operator
      while (tokens[j]?.kind === 'ident' && ['on', 'ignoring', 'group_left', 'group_right'].includes(tokens[j]!.text)) {
        j++;
        if (tokens[j]?.text === '(') {
          while (tokens[j] && tokens[j]!.text !== ')') j++;
          j++;
        }
      }
      from = tokens[j]?.start ?? expr.length;
      i = j - 1;
    }
  }
  parts.push(expr.slice(from));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Drop a top-level trailing comparison with a number (`x > 300`, `x == bool 1`); else unchanged. */
export function stripThreshold(expr: string): string {
  const tokens = tokenize(expr);
  let depth = 0;
  let cut: number | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'open') depth++;
    else if (t.kind === 'close') depth--;
    else if (depth === 0 && t.kind === 'op' && ['==', '!=', '>', '<', '>=', '<='].includes(t.text)) {
      let j = i + 1;
      if (tokens[j]?.text === 'bool') j++;
      if (tokens[j]?.text === '-' || tokens[j]?.text === '+') j++;
      if (tokens[j]?.kind === 'number' && j === tokens.length - 1) cut = t.start;
    }
  }
  return (cut === null ? expr : expr.slice(0, cut)).trim();
}

/** `absent(x)` / `absent_over_time(x[5m])` → `x`; anything else unchanged. */
export function unwrapAbsent(expr: string): string {
  const m = /^\s*absent(_over_time)?\s*\(([\s\S]*)\)\s*$/.exec(expr);
  if (!m) return expr.trim();
  const inner = m[2]!.trim();
  return m[1] ? inner.replace(/\[[^\]]*\]\s*$/, '').trim() : inner;
}

function stripOuterParens(expr: string): string {
  let e = expr.trim();
  for (;;) {
    if (!e.startsWith('(') || !e.endsWith(')')) return e;
    const tokens = tokenize(e);
    let depth = 0;
    let closesAtEnd = true;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'open') depth++;
      else if (t.kind === 'close') {
        depth--;
        if (depth === 0 && i !== tokens.length - 1) closesAtEnd = false;
      }
    }
    if (!closesAtEnd) return e;
    e = e.slice(1, -1).trim();
  }
}

/**
 * An alert expression with its thresholds taken off: each top-level and/or/unless operand,
 * without its trailing comparison with a number, absent(x) as x. On a healthy system each
 * of these returns series even though the alert itself returns nothing.
 */
export function alertProbes(expr: string): string[] {
  return splitSetOperands(stripOuterParens(expr)).map((part) => unwrapAbsent(stripThreshold(stripOuterParens(part))));
}

/** Sample names in a Prometheus text exposition (`# HELP`/`# TYPE` lines skipped). */
export function exposedSampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/**
 * Sample names a Prometheus text exposition declares (`# TYPE` lines), with or without
 * series: a histogram or summary declares its _bucket, _sum and _count samples.
 */
export function declaredSampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)/.exec(line);
    if (!m) continue;
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

/**
 * Seeded random migrations for the randomized schema-change test: each step runs one to
 * three DDL operations on the source's tables, each followed by writes, without waiting
 * for the replica in between (so the stream is behind the catalog, as in real migrations).
 */

type Run = (sql: string) => Promise<Record<string, unknown>[]>;
type ColumnType = 'int' | 'bigint' | 'text';

interface Column {
  name: string;
  type: ColumnType;
  notNull: boolean;
}

const TABLES = ['t1', 't2', 't3'];
const TYPES: ColumnType[] = ['int', 'bigint', 'text'];

/** mulberry32: a small seeded generator, enough to replay a run from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Migrations {
  #names = 0;
  #ids = 1000;
  /** Statements run so far (DDL and writes). */
  statements = 0;

  constructor(
    private readonly random: () => number,
    private readonly run: Run,
  ) {}

  async createTables(): Promise<void> {
    for (const table of TABLES) {
      await this.#exec(`CREATE TABLE ${table} (id int PRIMARY KEY, a int, b text, c bigint)`);
      await this.#exec(`INSERT INTO ${table} SELECT i, i, 'b' || i, i * 10 FROM generate_series(1, 50) i`);
    }
  }

  /** One step: one to three operations, each followed by writes. Returns what it did. */
  async step(): Promise<string[]> {
    const done: string[] = [];
    const count = 1 + this.#int(3);
    const inOneTransaction = this.random() < 0.3;
    if (inOneTransaction) await this.#exec('BEGIN');
    for (let i = 0; i < count; i++) {
      const table = this.#pick(TABLES);
      const operation = this.#pick(inOneTransaction ? COLUMN_OPERATIONS : [...COLUMN_OPERATIONS, ...TABLE_OPERATIONS]);
      const did = await operation(this, table);
      done.push(`${table}: ${did}`);
      await this.write(table);
    }
    if (inOneTransaction) await this.#exec('COMMIT');
    return inOneTransaction ? [`BEGIN; ${done.join('; ')}; COMMIT`] : done;
  }

  /** A few inserts, updates and deletes on every live column of the table. */
  async write(table: string): Promise<void> {
    if (!(await this.exists(table))) return;
    const columns = await this.columns(table);
    const rows = Array.from(
      { length: 1 + this.#int(4) },
      () => `(${[String(this.#ids++), ...columns.map((c) => this.#value(c.type, c.notNull))].join(', ')})`,
    );
    await this.#exec(
      `INSERT INTO ${table} (${['id', ...columns.map((c) => `"${c.name}"`)].join(', ')}) VALUES ${rows.join(', ')}`,
    );
    const column = columns.length > 0 ? this.#pick(columns) : null;
    if (column)
      await this.#exec(
        `UPDATE ${table} SET "${column.name}" = ${this.#value(column.type, column.notNull)} WHERE id % 7 = ${this.#int(7)}`,
      );
    await this.#exec(
      `DELETE FROM ${table} WHERE id = (SELECT id FROM ${table} ORDER BY id OFFSET ${this.#int(20)} LIMIT 1)`,
    );
  }

  /** The table's columns other than id, or [] when the table does not exist now. */
  async columns(table: string): Promise<Column[]> {
    const rows = await this.run(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null FROM pg_attribute
       WHERE attrelid = to_regclass('public.${table}') AND attnum > 0 AND NOT attisdropped AND attname <> 'id' ORDER BY attnum`,
    );
    return rows.map((r) => ({
      name: r.name as string,
      type: (r.type === 'integer' ? 'int' : r.type) as ColumnType,
      notNull: r.not_null === true,
    }));
  }

  async exists(table: string): Promise<boolean> {
    return (await this.run(`SELECT to_regclass('public.${table}') IS NOT NULL AS ok`))[0]?.ok === true;
  }

  newName(prefix: string): string {
    return `${prefix}${++this.#names}`;
  }

  type(): ColumnType {
    return this.#pick(TYPES);
  }

  value(type: ColumnType, notNull = false): string {
    return this.#value(type, notNull);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: T[]): T {
    return this.#pick(items);
  }

  async exec(sql: string): Promise<void> {
    await this.#exec(sql);
  }

  async #exec(sql: string): Promise<void> {
    this.statements++;
    await this.run(sql);
  }

  #int(n: number): number {
    return Math.floor(this.random() * n);
  }

  #pick<T>(items: T[]): T {
    return items[this.#int(items.length)]!;
  }

  #value(type: ColumnType, notNull = false): string {
    if (!notNull && this.random() < 0.1) return 'NULL';
    const n = this.#int(100_000) - 50_000;
    return type === 'text' ? `'v${n}'` : String(n);
  }
}

type Operation = (m: Migrations, table: string) => Promise<string>;

/** Operations that may run inside a transaction with others. */
const COLUMN_OPERATIONS: Operation[] = [
  async (m, table) => {
    const type = m.type();
    const name = m.newName('n');
    const defaults = [
      '',
      ` DEFAULT ${m.value(type)}`,
      ` NOT NULL DEFAULT ${m.value(type, true)}`,
      type === 'text' ? ` DEFAULT md5(random()::text)` : ` DEFAULT (random() * 1000)::int`,
    ];
    const sql = `ALTER TABLE ${table} ADD COLUMN ${name} ${type}${m.pick(defaults)}`;
    await ifExists(m, table, sql);
    return sql;
  },
  async (m, table) => {
    const column = await someColumn(m, table);
    if (!column) return 'no column to drop';
    const sql = `ALTER TABLE ${table} DROP COLUMN "${column.name}"`;
    await m.exec(sql);
    return sql;
  },
  async (m, table) => {
    const column = await someColumn(m, table);
    if (!column) return 'no column to rename';
    const sql = `ALTER TABLE ${table} RENAME COLUMN "${column.name}" TO ${m.newName('r')}`;
    await m.exec(sql);
    return sql;
  },
  async (m, table) => {
    const columns = await m.columns(table);
    if (columns.length < 2) return 'no columns to swap';
    const [p, q] = [columns[0]!.name, columns[columns.length - 1]!.name];
    const sql = `ALTER TABLE ${table} RENAME "${p}" TO swap_tmp; ALTER TABLE ${table} RENAME "${q}" TO "${p}"; ALTER TABLE ${table} RENAME swap_tmp TO "${q}"`;
    await m.exec(sql);
    return sql;
  },
  async (m, table) => {
    const column = await someColumn(m, table);
    if (!column) return 'no column to retype';
    const using =
      column.type === 'text'
        ? { type: 'int', expr: `length("${column.name}")` }
        : m.chance(0.5)
          ? { type: 'text', expr: `"${column.name}"::text || 'x'` }
          : {
              type: column.type === 'int' ? 'bigint' : 'int',
              expr: `("${column.name}" % 1000)::${column.type === 'int' ? 'bigint' : 'int'}`,
            };
    const sql = `ALTER TABLE ${table} ALTER COLUMN "${column.name}" DROP DEFAULT, ALTER COLUMN "${column.name}" TYPE ${using.type} USING ${using.expr}`;
    await m.exec(sql);
    return sql;
  },
  async (m, table) => {
    const column = await someColumn(m, table);
    if (!column) return 'no column to re-add';
    const sql = `ALTER TABLE ${table} DROP COLUMN "${column.name}"; ALTER TABLE ${table} ADD COLUMN "${column.name}" ${column.type} DEFAULT ${m.value(column.type)}`;
    await m.exec(sql);
    return sql;
  },
  async (m, table) => {
    const column = await someColumn(m, table);
    if (!column) return 'no column to replace';
    const sql = `ALTER TABLE ${table} DROP COLUMN "${column.name}"; ALTER TABLE ${table} ADD COLUMN ${m.newName('d')} ${column.type}`;
    await m.exec(sql);
    return sql;
  },
];

/** Operations that cannot run inside a transaction block, or that replace whole tables. */
const TABLE_OPERATIONS: Operation[] = [
  async (m, table) => {
    const name = m.newName('k');
    const sql = `ALTER TABLE ${table} ADD COLUMN ${name} int NOT NULL DEFAULT 7; ALTER TABLE ${table} ALTER COLUMN ${name} DROP DEFAULT`;
    await ifExists(m, table, sql);
    await ifExists(m, table, `VACUUM FULL ${table}`);
    return `${sql}; VACUUM FULL`;
  },
  async (m, table) => {
    const sql = `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id int PRIMARY KEY, a int, b text); INSERT INTO ${table} SELECT i, -i, 'new' || i FROM generate_series(1, 30) i`;
    await m.exec(sql);
    return sql;
  },
  async (m, table) => {
    if (!(await m.exists(table))) return 'no table to swap';
    const sql = `CREATE TABLE ${table}_new (LIKE ${table} INCLUDING ALL); INSERT INTO ${table}_new SELECT * FROM ${table};
      BEGIN; ALTER TABLE ${table} RENAME TO ${table}_old; ALTER TABLE ${table}_new RENAME TO ${table}; COMMIT;
      UPDATE ${table}_old SET id = -id WHERE id % 2 = 0;`;
    await m.exec(sql);
    await m.write(`${table}_old`);
    await m.exec(`DROP TABLE ${table}_old`);
    return 'swapped with a copy (t to t_old, t_new to t), wrote to both, dropped t_old';
  },
  async (m, table) => {
    if (!(await m.exists(table))) return 'no table to rename';
    const other = `${table}_renamed`;
    await m.exec(`ALTER TABLE ${table} RENAME TO ${other}`);
    await m.write(other);
    await m.exec(`ALTER TABLE ${other} RENAME TO ${table}`);
    return 'renamed the table away and back, writing in between';
  },
];

async function someColumn(m: Migrations, table: string): Promise<Column | undefined> {
  const columns = await m.columns(table);
  return columns.length > 0 ? m.pick(columns) : undefined;
}

async function ifExists(m: Migrations, table: string, sql: string): Promise<void> {
  if (await m.exists(table)) await m.exec(sql);
}

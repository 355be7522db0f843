/**
 * Checks the source before anything is created on it, so a misconfigured server ends in
 * one sentence that says what to do rather than a failure halfway through a snapshot.
 */
import type { ClientBase } from 'pg';
import { EltError } from '../errors.js';

export async function checkSourceServer(db: ClientBase, schemas: string[]): Promise<void> {
  const walLevel = (await db.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
  if (walLevel !== 'logical') {
    throw new EltError(
      `The source server runs with wal_level=${walLevel}; logical replication needs wal_level=logical.`,
      'Run ALTER SYSTEM SET wal_level = logical on the source as a superuser and restart it.',
    );
  }
  const { rows } = await db.query<{ rolname: string; ok: boolean }>(
    'SELECT rolname, rolreplication OR rolsuper AS ok FROM pg_roles WHERE rolname = current_user',
  );
  const role = rows[0];
  if (!role?.ok) {
    throw new EltError(
      `The source role ${role?.rolname ?? '(unknown)'} lacks the REPLICATION attribute.`,
      `Run ALTER ROLE ${role?.rolname ?? '<role>'} REPLICATION on the source as a superuser.`,
    );
  }
  const present = await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)', [
    schemas,
  ]);
  const missing = schemas.filter((s) => !present.rows.some((r) => r.nspname === s));
  if (missing.length > 0) {
    throw new EltError(`The source database has no schema ${missing.join(', ')}.`, 'Fix ELT_SOURCE_SCHEMAS.');
  }
}

/** Every published table must be readable by the replication role, or the snapshot fails. */
export async function checkSelectPrivileges(db: ClientBase, tables: { schema: string; name: string }[]): Promise<void> {
  // pg_dump also reads the sequences a table owns (serial and identity columns).
  const { rows } = await db.query<{ role: string; missing: string[] }>(
    `WITH wanted AS (
       SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
       UNION ALL
       SELECT s.oid, format('%I.%I', sn.nspname, s.relname), s.relkind
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
       JOIN pg_depend d ON d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
     )
     SELECT current_user AS role, coalesce(array_agg(name ORDER BY name) FILTER (WHERE NOT CASE WHEN relkind = 'S'
       THEN has_sequence_privilege(oid, 'SELECT') ELSE has_table_privilege(oid, 'SELECT') END), '{}') AS missing
     FROM wanted`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const { role, missing } = rows[0]!;
  if (missing.length > 0) {
    throw new EltError(
      `The source role ${role} cannot SELECT from ${missing.join(', ')}.`,
      `Run GRANT SELECT ON ${missing.join(', ')} TO ${role} on the source (or GRANT SELECT ON ALL TABLES / ALL SEQUENCES IN SCHEMA ...).`,
    );
  }
}

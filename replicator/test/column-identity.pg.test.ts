/**
 * Columns and tables are followed by identity (attnum, relation OID), never by name or
 * position: migrations that look alike by name leave the replica equal to the source, row
 * by row; a change the replica cannot follow stops that table alone.
 */
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query } from '../../harness/replication.js';
import { waitForApplied, waitForSettled } from './settled.js';

const SCHEMA = `
CREATE TABLE people (id int PRIMARY KEY, first_name text, last_name text, age int);
INSERT INTO people SELECT i, 'first ' || i, 'last ' || i, i FROM generate_series(1, 200) i;
CREATE TABLE contacts (id int PRIMARY KEY, phone text, fax text, email text);
INSERT INTO contacts SELECT i, 'p' || i, 'f' || i, 'e' || i FROM generate_series(1, 200) i;
CREATE TABLE prices (id int PRIMARY KEY, name text, price int);
INSERT INTO prices SELECT i, 'n' || i, i * 10 FROM generate_series(1, 200) i;
CREATE TABLE measures (id int PRIMARY KEY, c int);
INSERT INTO measures SELECT i, i FROM generate_series(1, 200) i;
CREATE TABLE pairs (id int PRIMARY KEY, p int, q int);
INSERT INTO pairs SELECT i, i, -i FROM generate_series(1, 200) i;
CREATE TABLE recreated (id int PRIMARY KEY, v text);
INSERT INTO recreated SELECT i, 'old ' || i FROM generate_series(1, 200) i;
CREATE TABLE accounts (id int PRIMARY KEY, v text);
INSERT INTO accounts SELECT i, 'old ' || i FROM generate_series(1, 200) i;
CREATE TABLE defaults (id int PRIMARY KEY, v text);
INSERT INTO defaults SELECT i, 'v' || i FROM generate_series(1, 200) i;
CREATE TABLE words (id int PRIMARY KEY, c text);
INSERT INTO words SELECT i, repeat('w', i % 7) FROM generate_series(1, 200) i;
CREATE TABLE viewed (id int PRIMARY KEY, c text);
INSERT INTO viewed SELECT i, repeat('v', i % 5) FROM generate_series(1, 200) i;
CREATE TABLE bystander (id int PRIMARY KEY, v int);
`;

describe('columns and tables by identity', () => {
  const pair = replicationSuite({ sourceSql: SCHEMA });

  const settled = () => waitForSettled(pair.sourceUrl, pair.destinationUrl, pair.replicator);
  /** The tables among `tables` whose replica differs from the source. */
  const differing = async (...tables: string[]) =>
    (await compareReplica(pair.sourceUrl, pair.destinationUrl)).filter((d) => tables.includes(d.table));
  const tableState = (table: string) => pair.tableState(table);

  it('keeps the values of two columns renamed in one migration', async () => {
    await query(
      pair.sourceUrl,
      'BEGIN; ALTER TABLE people RENAME first_name TO given_name; ALTER TABLE people RENAME last_name TO family_name; UPDATE people SET age = 0 WHERE id = 1; COMMIT',
    );
    await settled();
    expect(await differing('people')).toEqual([]);
  });

  it('keeps the values of a renamed column when another is dropped in the same migration', async () => {
    await query(
      pair.sourceUrl,
      "BEGIN; ALTER TABLE contacts RENAME phone TO mobile; ALTER TABLE contacts DROP COLUMN fax; UPDATE contacts SET email = 'x' WHERE id = 1; COMMIT",
    );
    await settled();
    expect(await differing('contacts')).toEqual([]);
  });

  it('gives a column dropped and added again under its name the new default, not the old values', async () => {
    await query(
      pair.sourceUrl,
      "BEGIN; ALTER TABLE prices DROP COLUMN price; ALTER TABLE prices ADD COLUMN price int DEFAULT 0; UPDATE prices SET name = 'x' WHERE id = 1; COMMIT",
    );
    await settled();
    expect(await differing('prices')).toEqual([]);
  });

  it('does not give a new column the values of a dropped one of the same type at the same place', async () => {
    await query(
      pair.sourceUrl,
      'BEGIN; ALTER TABLE measures DROP COLUMN c; ALTER TABLE measures ADD COLUMN d int; UPDATE measures SET d = 1 WHERE id = 1; COMMIT',
    );
    await settled();
    expect(await differing('measures')).toEqual([]);
  });

  it('follows two columns swapping their names', async () => {
    await query(
      pair.sourceUrl,
      'BEGIN; ALTER TABLE pairs RENAME p TO tmp; ALTER TABLE pairs RENAME q TO p; ALTER TABLE pairs RENAME tmp TO q; UPDATE pairs SET p = 0 WHERE id = 1; COMMIT',
    );
    await settled();
    expect(await differing('pairs')).toEqual([]);
  });

  it('replaces a table dropped and created again under the same name', async () => {
    await query(
      pair.sourceUrl,
      "BEGIN; DROP TABLE recreated; CREATE TABLE recreated (id int PRIMARY KEY, v text); INSERT INTO recreated SELECT i, 'new ' || i FROM generate_series(1, 5) i; COMMIT",
    );
    await settled();
    expect(await differing('recreated')).toEqual([]);
  });

  it('follows the table swap of online migration tools (t to t_old, t_new to t)', async () => {
    await query(
      pair.sourceUrl,
      "CREATE TABLE accounts_new (id int PRIMARY KEY, v text); INSERT INTO accounts_new SELECT i, 'new ' || i FROM generate_series(1, 300) i",
    );
    await settled();
    await query(
      pair.sourceUrl,
      'BEGIN; ALTER TABLE accounts RENAME TO accounts_old; ALTER TABLE accounts_new RENAME TO accounts; COMMIT',
    );
    await query(
      pair.sourceUrl,
      "UPDATE accounts SET v = 'changed' WHERE id = 1; UPDATE accounts_old SET v = 'changed' WHERE id = 2",
    );
    await settled();
    expect(await differing('accounts', 'accounts_old')).toEqual([]);
  });

  it('fills a column added with a default that was dropped and rewritten away before the next change', async () => {
    await query(pair.sourceUrl, 'ALTER TABLE defaults ADD COLUMN c int NOT NULL DEFAULT 5');
    await query(pair.sourceUrl, 'ALTER TABLE defaults ALTER COLUMN c DROP DEFAULT');
    await query(pair.sourceUrl, 'VACUUM FULL defaults');
    await query(pair.sourceUrl, "UPDATE defaults SET v = 'x' WHERE id = 1");
    await settled();
    expect(await differing('defaults')).toEqual([]);
  });

  it('follows a type change whose USING expression a cast cannot redo, and keeps every table streaming', async () => {
    await query(
      pair.sourceUrl,
      'ALTER TABLE words ALTER COLUMN c TYPE int USING length(c); UPDATE words SET c = 100 WHERE id = 1; INSERT INTO bystander VALUES (1, 1)',
    );
    await settled();
    expect(await differing('words', 'bystander')).toEqual([]);
    const states = await query<{ state: string }>(
      pair.destinationUrl,
      "SELECT DISTINCT state FROM elt.tables WHERE source_table IN ('words', 'bystander')",
    );
    expect(states).toEqual([{ state: 'streaming' }]);
  });

  it('stops only the table whose change the replica refuses, with the reason, and the others go on', async () => {
    await query(pair.destinationUrl, 'CREATE VIEW public.viewed_c AS SELECT c FROM staging.viewed');
    await query(
      pair.sourceUrl,
      'ALTER TABLE viewed ALTER COLUMN c TYPE int USING length(c); UPDATE viewed SET c = 100 WHERE id = 1; INSERT INTO bystander VALUES (2, 2)',
    );
    await waitForApplied(pair.sourceUrl, pair.destinationUrl, pair.replicator);
    const viewed = await tableState('viewed');
    expect(viewed?.state).toBe('error');
    expect(viewed?.last_error).toMatch(/viewed.*view/s);
    expect(await differing('bystander')).toEqual([]);
    await query(pair.sourceUrl, 'INSERT INTO bystander VALUES (3, 3)');
    await waitForApplied(pair.sourceUrl, pair.destinationUrl, pair.replicator);
    expect(await differing('bystander')).toEqual([]);
    expect((await tableState('bystander'))?.state).toBe('streaming');
  });
});

-- The least-privilege role the replicator logs in as, and the publication it reads.
--
-- Run as a superuser on the source database, after schema.sql, with the password as a
-- psql variable:
--
--     psql -v ON_ERROR_STOP=1 -v elt_password='…' -d "$SOURCE_URL" -f roles.sql
--
-- Safe to run again: the role is created once and then only has its password and
-- attributes reset; grants are idempotent; the publication is created only if missing.
--
-- elt_replicator may: log in, open replication connections (slot + pgoutput), read every
-- table in schema public (pg_dump of the initial snapshot). No other grant: no superuser,
-- no INSERT/UPDATE/DELETE, no DDL. It cannot create a FOR TABLES IN SCHEMA publication
-- itself (that needs superuser), so this script creates elt_pub for it.
--
-- REPLICATION itself cannot be narrowed by grants: it also allows a base backup of the whole
-- cluster (password hashes included) and dropping any slot. Allow this role only from the
-- replicator's host in pg_hba.conf (hostssl, scram-sha-256) and keep its password secret.

\if :{?elt_password}
\else
    do $$ begin
        raise exception 'roles.sql needs the replicator password: run psql with -v elt_password=...';
    end $$;
\endif

select format('create role %I', 'elt_replicator')
where not exists (select from pg_roles where rolname = 'elt_replicator')
\gexec

alter role elt_replicator with login replication nosuperuser nocreatedb nocreaterole nobypassrls
    password :'elt_password';

grant usage on schema public to elt_replicator;
grant select on all tables in schema public to elt_replicator;
-- pg_dump reads the sequences owned by the tables it copies.
grant select on all sequences in schema public to elt_replicator;
-- Tables created later in public by the role running this script are readable too.
alter default privileges in schema public grant select on tables to elt_replicator;
alter default privileges in schema public grant select on sequences to elt_replicator;

select 'create publication elt_pub for tables in schema public with (publish_via_partition_root = true)'
where not exists (select from pg_publication where pubname = 'elt_pub')
\gexec

-- events has no primary key: without a replica identity a published table rejects
-- UPDATE and DELETE, and the replicator could not find the old row.
alter table events replica identity full;

-- The read-only role Grafana logs in as (docs/dashboards.md). Run by the compose service
-- grafana-reader as the database owner on every `docker compose --profile dashboards up`:
--   psql -v ON_ERROR_STOP=1 -f reader-role.sql
-- with GRAFANA_DB_USER (the role), GRAFANA_DB_PASSWORD and PGDATABASE in the environment.
-- Idempotent: creates the role once, then sets its password and grants again. The role
-- may only SELECT the tables of schema public (now and those later migrations create),
-- and its sessions are read-only with a 30 s statement timeout.
\getenv reader GRAFANA_DB_USER
\getenv password GRAFANA_DB_PASSWORD
\getenv database PGDATABASE

SELECT format('CREATE ROLE %I LOGIN', :'reader')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec

ALTER ROLE :"reader" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'password';
ALTER ROLE :"reader" SET default_transaction_read_only = on;
ALTER ROLE :"reader" SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE :"database" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";

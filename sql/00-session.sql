-- Session set-up for bootstrap.sql. Runs first; everything after BEGIN is one transaction,
-- so a failed run leaves the database exactly as it was.
-- Expects the psql variable asky_database (set by the generated header).

\set ON_ERROR_STOP on
\set QUIET on
\encoding UTF8
-- Secrets travel inside statements below (ALTER ROLE ... PASSWORD, crypt()). First of all, this
-- session stops reporting its statements: pg_stat_activity shows a session's current and last
-- statement to every member of pg_read_all_stats (asky_monitor, through pg_monitor).
SET track_activities = off;
-- Then every way the server could log a statement's text, for the whole session and before the
-- transaction starts (whether a transaction is sampled is decided when it begins).
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET log_min_duration_sample = -1;
SET log_transaction_sample_rate = 0;
SET log_min_error_statement = 'panic';
SET debug_print_parse = off;
SET debug_print_rewritten = off;
SET debug_print_plan = off;
-- Extensions that keep statement texts or plans, if the server loads them.
SET pg_stat_statements.track = 'none';
SET pg_stat_statements.track_utility = off;
SET auto_explain.log_min_duration = -1;
SET client_min_messages = warning;
SET standard_conforming_strings = on;

BEGIN;

SET LOCAL password_encryption = 'scram-sha-256';
SET LOCAL search_path = pg_catalog, public;
-- ALTER TABLE waits for the services' open transactions: fail the Job rather than stall them.
SET LOCAL lock_timeout = '30s';

-- Two overlapping deploys must not race on CREATE ... IF NOT EXISTS.
SELECT pg_advisory_xact_lock(hashtext('asky-bootstrap')) IS NOT NULL AS asky_locked \gset

CREATE FUNCTION pg_temp.asky_assert(ok boolean, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION 'asky bootstrap: %', message;
  END IF;
END
$$;

-- Returns a secret read with \getenv, or fails naming the variable (never the value).
CREATE FUNCTION pg_temp.asky_secret(env_name text, value text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  IF value IS NULL OR value = '' THEN
    RAISE EXCEPTION 'asky bootstrap: environment variable % is not set or empty', env_name;
  END IF;
  RETURN value;
END
$$;

-- Rendered for one database: refuse to seed another one by mistake (e.g. PGDATABASE=postgres).
SELECT pg_temp.asky_assert(
  current_database() = :'asky_database',
  format('rendered for database %s but connected to %s', :'asky_database', current_database())
) IS NULL AS asky_database_checked \gset

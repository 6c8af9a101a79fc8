-- The monitoring role postgres-exporter logs in as: the statistics views and settings
-- (pg_monitor), no table or sequence of any schema. Expects the psql variables
--   asky_monitor_role          login role name (asky_monitor)
--   asky_monitor_password_env  environment variable holding its password

\echo 'asky bootstrap: role' :asky_monitor_role

\set asky_password ''
\getenv asky_password :asky_monitor_password_env

SELECT format('CREATE ROLE %I', :'asky_monitor_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'asky_monitor_role') \gexec

-- INHERIT, unlike the service roles: pg_monitor's rights apply only through inheritance.
ALTER ROLE :"asky_monitor_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 3;
SELECT format('ALTER ROLE %I PASSWORD %L', :'asky_monitor_role', pg_temp.asky_secret(:'asky_monitor_password_env', :'asky_password')) \gexec
\unset asky_password
-- Its sessions cannot write, and a slow statistics query cannot hold a backend for long.
ALTER ROLE :"asky_monitor_role" SET default_transaction_read_only = on;
ALTER ROLE :"asky_monitor_role" SET statement_timeout = '10s';

-- Re-applied every run: membership in anything but pg_monitor is taken back.
SELECT format('REVOKE %I FROM %I', r.rolname, :'asky_monitor_role')
FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = :'asky_monitor_role') AND r.rolname <> 'pg_monitor' \gexec
GRANT pg_monitor TO :"asky_monitor_role";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"asky_monitor_role";

-- Nothing in the data schemas, whatever a hand may have granted.
REVOKE ALL ON ALL TABLES IN SCHEMA pyxis, requests, auth, asky_bootstrap FROM :"asky_monitor_role";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pyxis, requests, auth, asky_bootstrap FROM :"asky_monitor_role";
REVOKE ALL ON SCHEMA pyxis, requests, auth, asky_bootstrap FROM :"asky_monitor_role";

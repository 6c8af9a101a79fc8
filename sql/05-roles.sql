-- One login role per service, applied once per service with these psql variables set:
--   asky_role          login role name (e.g. asky_pyxis)
--   asky_schema        the only schema it may use (e.g. pyxis)
--   asky_password_env  environment variable holding its password
-- psql does not interpolate variables inside DO $$ blocks, hence SELECT ... \gexec.

\echo 'asky bootstrap: role' :asky_role

\set asky_password ''
\getenv asky_password :asky_password_env

SELECT format('CREATE ROLE %I', :'asky_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'asky_role') \gexec

-- Re-applied every run, so a role altered by hand converges back.
ALTER ROLE :"asky_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;

-- (Re)set from the secret on every run: rotating the secret rotates the password.
SELECT format('ALTER ROLE %I PASSWORD %L', :'asky_role', pg_temp.asky_secret(:'asky_password_env', :'asky_password')) \gexec
\unset asky_password

-- Start from nothing on all three schemas, then grant the role's own schema back.
REVOKE ALL ON ALL TABLES IN SCHEMA pyxis, requests, auth FROM :"asky_role";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pyxis, requests, auth FROM :"asky_role";
REVOKE ALL ON SCHEMA pyxis, requests, auth FROM :"asky_role";

GRANT CONNECT ON DATABASE :"DBNAME" TO :"asky_role";
GRANT USAGE ON SCHEMA :"asky_schema" TO :"asky_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"asky_schema" TO :"asky_role";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA :"asky_schema" TO :"asky_role";

-- Tables created later in this schema by the role running this script get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA :"asky_schema" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"asky_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA :"asky_schema" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"asky_role";

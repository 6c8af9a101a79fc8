-- One group role per service, holding its grants, and the login role its pods connect as; applied
-- once per service with these psql variables set:
--   asky_role          group role name (e.g. asky_pyxis): the grants, never a login
--   asky_schema        the only schema it may use (e.g. pyxis)
--   asky_password_env  environment variable holding the service's password
--   asky_previous_password_minutes
--                      how long the service's earlier logins keep accepting new connections
-- The login role is named after its password (asky_pyxis_ and 10 hex digits of SHA-256 of
-- 'asky login ' || password; sql/render.ts serviceLoginRole computes the same for DATABASE_URL), so a
-- rotated password is a new login beside the old one: the pods still running with the old Secret open
-- new connections with the old password until the rolled pods have replaced them, and the old login
-- stops accepting connections once asky_previous_password_minutes have passed (VALID UNTIL) and is
-- dropped by the next run after that. PostgreSQL keeps one password per role, so a rotation in place
-- (ALTER ROLE ... PASSWORD) would refuse every new connection of the old pods until they are gone.
-- psql does not interpolate variables inside DO $$ blocks, hence SELECT ... \gexec.

\echo 'asky bootstrap: role' :asky_role

\set asky_password ''
\getenv asky_password :asky_password_env

SELECT format('CREATE ROLE %I', :'asky_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'asky_role') \gexec

-- Re-applied every run, so a role altered by hand converges back. LOGIN is left as it is: a group
-- role that was itself the login (before logins were per password) is closed like an earlier login.
ALTER ROLE :"asky_role" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;

-- The login for this password. The statement carries the password: track_activities is off and
-- nothing is logged in this session (00-session.sql).
SELECT :'asky_role' || '_' || left(encode(sha256(convert_to('asky login ' || pg_temp.asky_secret(:'asky_password_env', :'asky_password'), 'UTF8')), 'hex'), 10) AS asky_login \gset
SELECT format('CREATE ROLE %I', :'asky_login')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'asky_login') \gexec
ALTER ROLE :"asky_login" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS VALID UNTIL 'infinity';
SELECT format('ALTER ROLE %I PASSWORD %L', :'asky_login', pg_temp.asky_secret(:'asky_password_env', :'asky_password')) \gexec
\unset asky_password
GRANT :"asky_role" TO :"asky_login";

-- The service's earlier logins (its logins of other passwords, and the group role if it still logs in):
-- each gets its deadline the first time a run finds it open, and one past its deadline is closed: a
-- per-password login is dropped (it owns nothing and holds no grant of its own; if someone gave it one,
-- it is only closed, with a warning), the group role loses its login and password.
SELECT format('ALTER ROLE %I VALID UNTIL %L', r.rolname, now() + make_interval(mins => :asky_previous_password_minutes))
FROM pg_roles r
WHERE r.rolcanlogin AND r.rolname <> :'asky_login'
  AND (r.rolname = :'asky_role' OR r.rolname ~ ('^' || :'asky_role' || '_[0-9a-f]{10}$'))
  AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity') \gexec
SELECT CASE WHEN r.rolname = :'asky_role'
         THEN format('ALTER ROLE %I NOLOGIN PASSWORD NULL VALID UNTIL %L', r.rolname, 'infinity')
         ELSE format('DO $asky$ BEGIN EXECUTE %L; EXCEPTION WHEN dependent_objects_still_exist THEN RAISE WARNING %L; EXECUTE %L; END $asky$',
                     format('DROP ROLE %I', r.rolname),
                     format('asky bootstrap: %s has objects or grants of its own: closed, not dropped', r.rolname),
                     format('ALTER ROLE %I NOLOGIN PASSWORD NULL', r.rolname))
       END
FROM pg_roles r
WHERE r.rolcanlogin AND r.rolname <> :'asky_login'
  AND (r.rolname = :'asky_role' OR r.rolname ~ ('^' || :'asky_role' || '_[0-9a-f]{10}$'))
  AND r.rolvaliduntil <= now() \gexec

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

-- The role the backup CronJob dumps as: reads every table and sequence (pg_read_all_data), writes
-- nothing, owns nothing, and is no superuser: a leaked backup credential reads the data the dump
-- holds anyway, and can change nothing. Expects the psql variables
--   asky_backup_role          login role name (asky_backup)
--   asky_backup_password_env  environment variable holding its password

\echo 'asky bootstrap: role' :asky_backup_role

\set asky_password ''
\getenv asky_password :asky_backup_password_env

SELECT format('CREATE ROLE %I', :'asky_backup_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'asky_backup_role') \gexec

-- INHERIT: pg_read_all_data's rights apply only through inheritance. One dump at a time, plus a spare.
ALTER ROLE :"asky_backup_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 2;
SELECT format('ALTER ROLE %I PASSWORD %L', :'asky_backup_role', pg_temp.asky_secret(:'asky_backup_password_env', :'asky_password')) \gexec
\unset asky_password
ALTER ROLE :"asky_backup_role" SET default_transaction_read_only = on;

-- Re-applied every run: membership in anything but pg_read_all_data is taken back.
SELECT format('REVOKE %I FROM %I', r.rolname, :'asky_backup_role')
FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = :'asky_backup_role') AND r.rolname <> 'pg_read_all_data' \gexec
GRANT pg_read_all_data TO :"asky_backup_role";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"asky_backup_role";

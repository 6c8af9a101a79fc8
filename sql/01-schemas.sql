-- Schemas, extensions and database-wide privileges.

\echo 'asky bootstrap: schemas'

CREATE SCHEMA IF NOT EXISTS pyxis;
CREATE SCHEMA IF NOT EXISTS requests;
CREATE SCHEMA IF NOT EXISTS auth;

-- bcrypt for auth.users.password_hash (crypt/gen_salt); used only by this script.
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

-- Nobody reaches the database or a schema unless granted below (05-roles.sql).
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA pyxis, requests, auth FROM PUBLIC;

-- Every later session in this database hashes new passwords with SCRAM, whatever the server default.
ALTER DATABASE :"DBNAME" SET password_encryption = 'scram-sha-256';

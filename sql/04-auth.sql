-- auth service: users and their bcrypt password hashes (pgcrypto writes the 2a variant; passlib reads it).

\echo 'asky bootstrap: auth tables'

CREATE TABLE IF NOT EXISTS auth.users (
    id            serial PRIMARY KEY,
    name          varchar(255),
    phone_number  varchar(32),
    email         varchar(255) NOT NULL UNIQUE,
    password_hash varchar(255) NOT NULL,
    role          varchar(32) NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    mobile_token  text
);

-- Columns added after the first release (see the note in 03-requests.sql).
ALTER TABLE auth.users ADD COLUMN IF NOT EXISTS updated_at timestamptz;
ALTER TABLE auth.users ADD COLUMN IF NOT EXISTS mobile_token text;

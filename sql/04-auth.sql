-- auth service: users and their bcrypt password hashes (pgcrypto writes the 2a variant; passlib reads it).
-- Nullability and uniqueness are the original service's: a row without a name is unusable
-- (the services' response models require it), so the database refuses it.

\echo 'asky bootstrap: auth tables'

CREATE TABLE IF NOT EXISTS auth.users (
    id            serial PRIMARY KEY,
    name          varchar(255) NOT NULL,
    phone_number  varchar(32) UNIQUE,
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

-- A table from an older release (name nullable, phone_number not unique) converges here. Rows
-- in the way are never guessed at or deleted: the run fails naming them, and changes nothing.
DO $$
DECLARE
  col text;
  ids text;
BEGIN
  FOREACH col IN ARRAY ARRAY['name', 'email', 'password_hash', 'role'] LOOP
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'auth.users'::regclass AND attname = col AND NOT attnotnull) THEN
      EXECUTE format('SELECT string_agg(id::text, '', '' ORDER BY id) FROM auth.users WHERE %I IS NULL', col) INTO ids;
      IF ids IS NOT NULL THEN
        RAISE EXCEPTION 'asky bootstrap: auth.users.% must not be NULL, but is in the rows with id %', col, ids
          USING HINT = format('Set %1$s in those rows (UPDATE auth.users SET %1$s = ... WHERE id = ...) or delete them, then run pulumi up again.', col);
      END IF;
      EXECUTE format('ALTER TABLE auth.users ALTER COLUMN %I SET NOT NULL', col);
    END IF;
  END LOOP;

  FOREACH col IN ARRAY ARRAY['email', 'phone_number'] LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = 'auth.users'::regclass AND i.indisunique AND i.indnkeyatts = 1
        AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = col
    ) THEN
      EXECUTE format(
        'SELECT string_agg(d.ids, ''; '') FROM (SELECT string_agg(id::text, '', '' ORDER BY id) AS ids FROM auth.users WHERE %1$I IS NOT NULL GROUP BY %1$I HAVING count(*) > 1) d',
        col) INTO ids;
      IF ids IS NOT NULL THEN
        RAISE EXCEPTION 'asky bootstrap: auth.users.% must be unique, but rows share one (ids: %)', col, ids
          USING HINT = format('Give each of those rows its own %s (or delete the extra ones), then run pulumi up again.', col);
      END IF;
      EXECUTE format('ALTER TABLE auth.users ADD CONSTRAINT %I UNIQUE (%I)', 'users_' || col || '_key', col);
    END IF;
  END LOOP;
END
$$;

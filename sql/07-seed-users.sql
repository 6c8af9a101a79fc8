-- Seeded users (asky:database.users). The generated part after this file calls
-- pg_temp.asky_seed_user once per user, with the password read from its Secret by \getenv.
--
-- The password in the stack output initialUserPasswords must be the one that works. A new
-- Secret value (dev destroy -> up on the retained volume, or a rotation) re-sets the hash,
-- unless the user changed the password since we set it: asky_bootstrap.seeded_users keeps a
-- digest of the last hash this script wrote, so a different hash means the user changed it.

\echo 'asky bootstrap: seeded users'

-- Ours alone: no service role is granted anything here.
CREATE SCHEMA IF NOT EXISTS asky_bootstrap;
REVOKE ALL ON SCHEMA asky_bootstrap FROM PUBLIC;

CREATE TABLE IF NOT EXISTS asky_bootstrap.seeded_users (
    email         varchar(255) PRIMARY KEY,
    -- sha256 of auth.users.password_hash as this script last wrote it (not the hash itself).
    hash_digest   bytea NOT NULL,
    set_at        timestamptz NOT NULL DEFAULT now()
);

-- Creates the user, or brings an existing one in step; returns what it did (never a secret).
CREATE FUNCTION pg_temp.asky_seed_user(p_name text, p_email text, p_phone text, p_role text, p_password text, p_cost integer)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  current_hash text;
  current_phone text;
  recorded bytea;
  other_id integer;
  new_hash text;
  matches boolean;
  is_new boolean;
  outcome text;
BEGIN
  SELECT password_hash, phone_number INTO current_hash, current_phone FROM auth.users WHERE email = p_email FOR UPDATE;
  is_new := NOT FOUND;
  -- The number is written only to a new user or one without a number: only then can it clash.
  IF current_phone IS NULL THEN
    SELECT id INTO other_id FROM auth.users WHERE phone_number = p_phone AND email <> p_email;
    IF FOUND THEN
      RAISE EXCEPTION 'asky bootstrap: seed user %: phone number % already belongs to auth.users id %', p_email, p_phone, other_id
        USING HINT = 'Give the seed user another asky:database.users[].phoneNumber, or change that user''s number.';
    END IF;
  END IF;

  IF is_new THEN
    new_hash := public.crypt(p_password, public.gen_salt('bf', p_cost));
    INSERT INTO auth.users (name, email, phone_number, role, password_hash) VALUES (p_name, p_email, p_phone, p_role, new_hash);
    outcome := 'created';
  ELSE
    -- A number the user set is theirs; only a missing one (older releases seeded none) is filled in.
    IF current_phone IS NULL THEN
      UPDATE auth.users SET phone_number = p_phone, updated_at = now() WHERE email = p_email;
    END IF;
    SELECT hash_digest INTO recorded FROM asky_bootstrap.seeded_users WHERE email = p_email;
    -- CASE: crypt() refuses a hash that is not one, so it only sees a bcrypt-shaped value.
    matches := CASE WHEN current_hash ~ '^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$' THEN public.crypt(p_password, current_hash) = current_hash ELSE false END;
    IF matches THEN
      new_hash := current_hash;
      outcome := 'password unchanged';
    ELSIF recorded IS NULL OR recorded = public.digest(current_hash, 'sha256') THEN
      -- Still the hash we wrote (or a database from before this bookkeeping): the Secret is the truth.
      new_hash := public.crypt(p_password, public.gen_salt('bf', p_cost));
      UPDATE auth.users SET password_hash = new_hash, updated_at = now() WHERE email = p_email;
      outcome := 'password set from its Secret';
    ELSE
      RETURN format('%s: password kept (the user changed it; initialUserPasswords no longer applies)', p_email);
    END IF;
  END IF;

  INSERT INTO asky_bootstrap.seeded_users AS s (email, hash_digest) VALUES (p_email, public.digest(new_hash, 'sha256'))
  ON CONFLICT (email) DO UPDATE SET hash_digest = EXCLUDED.hash_digest, set_at = now()
  WHERE s.hash_digest IS DISTINCT FROM EXCLUDED.hash_digest;
  RETURN format('%s: %s', p_email, outcome);
END
$$;

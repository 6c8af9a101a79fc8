-- request-management service: requests made at a dispenser and their status history.
-- dispenser_id, medicine_id, material_id, requested_by and assign_to point into other
-- services' schemas; this service cannot read those, so they are plain integers, not foreign keys.
-- Every created_at is `timestamp` without time zone, the type the service's models declare
-- (SQLAlchemy's DateTime): the service writes UTC and returns the values as read, and the mobile
-- app shows them so. The default is UTC's wall time too, whatever the session's TimeZone.

\echo 'asky bootstrap: requests tables'

CREATE TABLE IF NOT EXISTS requests.medicine_requests (
    id           serial PRIMARY KEY,
    dispenser_id integer,
    requested_by integer,
    medicine_id  integer,
    emergency    boolean NOT NULL DEFAULT false,
    created_at   timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    batch_number varchar(255),
    feedback     text DEFAULT 'Nenhum feedback disponível.',
    status       varchar(32) NOT NULL DEFAULT 'pending',
    assign_to    integer
);

CREATE TABLE IF NOT EXISTS requests.material_requests (
    id           serial PRIMARY KEY,
    dispenser_id integer,
    requested_by integer,
    material_id  integer,
    created_at   timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    feedback     text DEFAULT 'Nenhum feedback disponível.',
    status       varchar(32) NOT NULL DEFAULT 'pending',
    assign_to    integer
);

CREATE TABLE IF NOT EXISTS requests.assistance_requests (
    id              serial PRIMARY KEY,
    dispenser_id    integer,
    requested_by    integer,
    assistance_type varchar(255),
    details         text,
    created_at      timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    feedback        text DEFAULT 'Nenhum feedback disponível.',
    status          varchar(32) NOT NULL DEFAULT 'pending',
    assign_to       integer
);

-- request_id stays nullable: the ORM nulls it before deleting a request.
CREATE TABLE IF NOT EXISTS requests.medicine_status_changes (
    id         serial PRIMARY KEY,
    status     varchar(32) NOT NULL DEFAULT 'pending',
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    request_id integer REFERENCES requests.medicine_requests (id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS requests.material_status_change (
    id         serial PRIMARY KEY,
    status     varchar(32) NOT NULL DEFAULT 'pending',
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    request_id integer REFERENCES requests.material_requests (id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS requests.assistance_status_change (
    id         serial PRIMARY KEY,
    status     varchar(32) NOT NULL DEFAULT 'pending',
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    request_id integer REFERENCES requests.assistance_requests (id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS medicine_status_changes_request_id_idx ON requests.medicine_status_changes (request_id);
CREATE INDEX IF NOT EXISTS material_status_change_request_id_idx ON requests.material_status_change (request_id);
CREATE INDEX IF NOT EXISTS assistance_status_change_request_id_idx ON requests.assistance_status_change (request_id);

-- CREATE TABLE IF NOT EXISTS leaves an existing table alone: a column added to a table
-- that already shipped must also be listed here, so it reaches existing databases.
ALTER TABLE requests.medicine_requests ADD COLUMN IF NOT EXISTS assign_to integer;
ALTER TABLE requests.material_requests ADD COLUMN IF NOT EXISTS assign_to integer;
ALTER TABLE requests.assistance_requests ADD COLUMN IF NOT EXISTS assign_to integer;

-- Releases up to 947e647 created these columns as timestamptz. Convert each once, in place, to the
-- UTC wall time it holds (what the service wrote: UTC); a column already converted is left alone.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['medicine_requests', 'material_requests', 'assistance_requests',
                           'medicine_status_changes', 'material_status_change', 'assistance_status_change'] LOOP
    IF (SELECT atttypid = 'timestamptz'::regtype FROM pg_attribute
        WHERE attrelid = format('requests.%I', t)::regclass AND attname = 'created_at' AND NOT attisdropped) THEN
      EXECUTE format('ALTER TABLE requests.%I ALTER COLUMN created_at DROP DEFAULT, '
                     'ALTER COLUMN created_at TYPE timestamp USING created_at AT TIME ZONE ''UTC'', '
                     'ALTER COLUMN created_at SET DEFAULT (now() AT TIME ZONE ''UTC'')', t);
    END IF;
  END LOOP;
END
$$;

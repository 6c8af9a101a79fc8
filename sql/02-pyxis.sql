-- pyxis service: dispensers and what each one offers.

\echo 'asky bootstrap: pyxis tables'

CREATE TABLE IF NOT EXISTS pyxis.dispenser (
    id    serial PRIMARY KEY,
    code  varchar(5) NOT NULL UNIQUE,
    floor integer NOT NULL
);

CREATE TABLE IF NOT EXISTS pyxis.medicine (
    id     serial PRIMARY KEY,
    name   varchar(255) NOT NULL UNIQUE,
    dosage varchar(255) NOT NULL
);

CREATE TABLE IF NOT EXISTS pyxis.material (
    id   serial PRIMARY KEY,
    name varchar(255) NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS pyxis.assistance (
    id          serial PRIMARY KEY,
    description varchar(255) NOT NULL UNIQUE
);

-- Link rows have no life of their own: they go with either side.
CREATE TABLE IF NOT EXISTS pyxis.dispenser_medicine (
    dispenser_id integer NOT NULL REFERENCES pyxis.dispenser (id) ON DELETE CASCADE,
    medicine_id  integer NOT NULL REFERENCES pyxis.medicine (id) ON DELETE CASCADE,
    PRIMARY KEY (dispenser_id, medicine_id)
);

CREATE TABLE IF NOT EXISTS pyxis.dispenser_material (
    dispenser_id integer NOT NULL REFERENCES pyxis.dispenser (id) ON DELETE CASCADE,
    material_id  integer NOT NULL REFERENCES pyxis.material (id) ON DELETE CASCADE,
    PRIMARY KEY (dispenser_id, material_id)
);

CREATE TABLE IF NOT EXISTS pyxis.dispenser_assistance (
    dispenser_id  integer NOT NULL REFERENCES pyxis.dispenser (id) ON DELETE CASCADE,
    assistance_id integer NOT NULL REFERENCES pyxis.assistance (id) ON DELETE CASCADE,
    PRIMARY KEY (dispenser_id, assistance_id)
);

-- The primary keys already index dispenser_id; index the other side of each link.
CREATE INDEX IF NOT EXISTS dispenser_medicine_medicine_id_idx ON pyxis.dispenser_medicine (medicine_id);
CREATE INDEX IF NOT EXISTS dispenser_material_material_id_idx ON pyxis.dispenser_material (material_id);
CREATE INDEX IF NOT EXISTS dispenser_assistance_assistance_id_idx ON pyxis.dispenser_assistance (assistance_id);

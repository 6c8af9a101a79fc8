/**
 * sql/render.ts against a real PostgreSQL: the script the bootstrap Job applies.
 * The cluster runs with password_encryption = md5, so SCRAM verifiers prove the script's own settings.
 */
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { DATABASE_LOGIN_ROLES, renderDatabaseSql, SeedUser, SERVICE_DATABASE_ROLES, serviceLoginRole, userPasswordEnv } from "../sql/render";
import { Credentials, quoteIdent, quoteLiteral, TestPostgres } from "./support/postgres";
import { BCRYPT_COST, USERS, rolePasswords, secret, secretEnv, userPasswords } from "./support/sqlUsers";

const SCHEMAS = ["pyxis", "requests", "auth"] as const;
/** The services' schemas plus the bootstrap's own bookkeeping (07-seed-users.sql). */
const SCHEMA_LIST = [...SCHEMAS, "asky_bootstrap"].map(quoteLiteral).join(", ");
/** What a service's DATABASE_URL holds: the login of its current password (components/database.ts). */
function roleCredentials(service: keyof typeof SERVICE_DATABASE_ROLES): Credentials {
    const { role, passwordEnv } = SERVICE_DATABASE_ROLES[service];
    return { user: serviceLoginRole(role, rolePasswords[passwordEnv]), password: rolePasswords[passwordEnv] };
}

/** One table per schema that each role exercises with DML. */
const PROBES: Record<(typeof SCHEMAS)[number], { table: string; insert: string; update: string }> = {
    pyxis: { table: "pyxis.material", insert: "INSERT INTO pyxis.material (name) VALUES ('probe') RETURNING id", update: "name = 'probe 2'" },
    requests: {
        table: "requests.material_requests",
        insert: "INSERT INTO requests.material_requests (dispenser_id, requested_by, material_id) VALUES (1, 1, 1) RETURNING id",
        update: "status = 'accepted'",
    },
    auth: {
        table: "auth.users",
        insert: "INSERT INTO auth.users (name, email, password_hash, role) VALUES ('p', 'probe@asky.local', 'x', 'nurse') RETURNING id",
        update: "name = 'probe 2'",
    },
};

describe("database bootstrap SQL (sql/render.ts) on a real PostgreSQL", () => {
    let pg: TestPostgres;
    const DB = "asky_sql_test";
    let rendered: string;

    async function apply(sql: string, database: string, env: Record<string, string> = secretEnv()): Promise<{ code: number; stderr: string; stdout: string }> {
        const file = path.join(pg.workDir, `${database}-${randomBytes(4).toString("hex")}.sql`);
        fs.writeFileSync(file, sql);
        return pg.psqlFile(file, { database, env });
    }

    async function applyOk(sql: string, database: string, env?: Record<string, string>): Promise<void> {
        const result = await apply(sql, database, env);
        assert.equal(result.code, 0, `bootstrap failed:\n${result.stderr}\n${pg.serverLog()}`);
        assert.equal(result.stderr, "", "bootstrap printed warnings or errors");
    }

    /** Row count + checksum of every table, sequence positions, and a digest of structure and privileges. */
    async function snapshot(database: string): Promise<Map<string, string>> {
        const tables = await pg.query(
            `SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN (${SCHEMA_LIST}) AND table_type = 'BASE TABLE' ORDER BY 1, 2`,
            { database },
        );
        assert.ok(tables.length >= 11, `expected the tables of ARCHITECTURE.md, got ${tables.length}`);
        const parts = tables.map(
            ([schema, table]) =>
                `SELECT ${quoteLiteral(`${schema}.${table}`)}, count(*) || ' rows ' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '-') FROM ${quoteIdent(schema)}.${quoteIdent(table)} x`,
        );
        parts.push(
            `SELECT 'sequence ' || schemaname || '.' || sequencename, coalesce(last_value::text, 'unused') FROM pg_sequences WHERE schemaname IN (${SCHEMA_LIST})`,
            `SELECT 'columns', md5(string_agg(concat_ws(' ', table_schema, table_name, column_name, data_type, character_maximum_length, is_nullable, column_default), ',' ORDER BY table_schema, table_name, ordinal_position)) FROM information_schema.columns WHERE table_schema IN (${SCHEMA_LIST})`,
            `SELECT 'constraints', md5(string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), ',' ORDER BY conrelid::regclass::text, conname)) FROM pg_constraint WHERE connamespace::regnamespace::text IN (${SCHEMA_LIST})`,
            `SELECT 'indexes', md5(string_agg(indexdef, ',' ORDER BY indexdef)) FROM pg_indexes WHERE schemaname IN (${SCHEMA_LIST})`,
            `SELECT 'privileges', md5(string_agg(c.oid::regclass || coalesce(c.relacl::text, '-'), ',' ORDER BY c.oid::regclass::text)) FROM pg_class c WHERE c.relnamespace::regnamespace::text IN (${SCHEMA_LIST})`,
            `SELECT 'schema privileges', string_agg(nspname || coalesce(nspacl::text, '-'), ',' ORDER BY nspname) FROM pg_namespace WHERE nspname IN (${SCHEMA_LIST}, 'public')`,
            `SELECT 'database privileges', datacl::text FROM pg_database WHERE datname = current_database()`,
        );
        const rows = await pg.query(parts.join("\nUNION ALL\n"), { database });
        return new Map(rows.map(([k, v]) => [k, v] as [string, string]));
    }

    before(async () => {
        pg = await TestPostgres.start({ database: DB, serverSettings: { password_encryption: "md5" } });
        rendered = renderDatabaseSql({ databaseName: DB, users: USERS, bcryptCost: BCRYPT_COST });
        await applyOk(rendered, DB);
    });

    after(async () => {
        await pg?.stop();
    });

    describe("schema and seed data", () => {
        it("DATA-3 applies cleanly to an empty database: schemas pyxis/requests/auth and every table of ARCHITECTURE.md", async () => {
            const tables = await pg.query(
                `SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN (${SCHEMA_LIST}) ORDER BY 1`,
                { database: DB },
            );
            assert.deepEqual(
                tables.map((r) => r[0]),
                [
                    "asky_bootstrap.seeded_users",
                    "auth.users",
                    "pyxis.assistance",
                    "pyxis.dispenser",
                    "pyxis.dispenser_assistance",
                    "pyxis.dispenser_material",
                    "pyxis.dispenser_medicine",
                    "pyxis.material",
                    "pyxis.medicine",
                    "requests.assistance_requests",
                    "requests.assistance_status_change",
                    "requests.material_requests",
                    "requests.material_status_change",
                    "requests.medicine_requests",
                    "requests.medicine_status_changes",
                ],
            );
        });

        it("DATA-3 columns have the types the services' ORM expects", async () => {
            const columns = new Map(
                (
                    await pg.query(
                        `SELECT table_schema || '.' || table_name || '.' || column_name, data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END || coalesce(' default ' || column_default, '') FROM information_schema.columns WHERE table_schema IN (${SCHEMA_LIST})`,
                        { database: DB },
                    )
                ).map(([k, v]) => [k, v] as [string, string]),
            );
            const expect = (column: string, pattern: RegExp): void => {
                const actual = columns.get(column);
                assert.ok(actual !== undefined, `${column} is missing`);
                assert.match(actual, pattern, column);
            };
            expect("pyxis.dispenser.id", /^integer not null default nextval/);
            expect("pyxis.dispenser.code", /^character varying not null$/);
            expect("pyxis.dispenser.floor", /^integer not null$/);
            expect("pyxis.medicine.dosage", /^character varying/);
            expect("pyxis.dispenser_assistance.assistance_id", /^integer not null$/);
            expect("auth.users.name", /^character varying not null$/);
            expect("auth.users.email", /^character varying not null$/);
            expect("auth.users.password_hash", /^character varying not null$/);
            expect("auth.users.role", /^character varying not null$/);
            expect("auth.users.phone_number", /^character varying$/);
            expect("auth.users.created_at", /^timestamp with time zone not null default now\(\)$/);
            expect("auth.users.updated_at", /^timestamp with time zone$/);
            expect("auth.users.mobile_token", /^text$/);
            expect("requests.medicine_requests.emergency", /^boolean not null default false$/);
            expect("requests.medicine_requests.batch_number", /^character varying$/);
            expect("requests.medicine_requests.feedback", /^text default 'Nenhum feedback disponível\.'/);
            expect("requests.medicine_requests.status", /^character varying not null default 'pending'/);
            expect("requests.medicine_requests.assign_to", /^integer$/);
            expect("requests.material_requests.material_id", /^integer$/);
            expect("requests.assistance_requests.assistance_type", /^character varying$/);
            expect("requests.assistance_requests.details", /^text$/);
            expect("requests.material_status_change.request_id", /^integer$/);
            // The request service's models declare DateTime (no time zone); auth's DateTime(timezone=True).
            for (const table of ["medicine_requests", "material_requests", "assistance_requests", "medicine_status_changes", "material_status_change", "assistance_status_change"]) {
                expect(`requests.${table}.created_at`, /^timestamp without time zone not null default \(now\(\) AT TIME ZONE 'UTC'::text\)$/);
            }
            assert.ok(!columns.has("requests.material_requests.emergency"), "material requests have no emergency flag");
        });

        it("DATA-3 foreign keys exist and are indexed on their referencing columns", async () => {
            const unindexed = await pg.query(
                `SELECT c.conrelid::regclass || ' ' || c.conname FROM pg_constraint c
                 WHERE c.contype = 'f' AND c.connamespace::regnamespace::text IN (${SCHEMA_LIST})
                   AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])`,
                { database: DB },
            );
            assert.deepEqual(unindexed, []);
            const fks = await pg.scalar(`SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace::regnamespace::text IN (${SCHEMA_LIST})`, { database: DB });
            assert.equal(fks, "9");
        });

        it("DATA-3 seeds the pyxis reference data and its links", async () => {
            const rows = async (sql: string): Promise<string[]> => (await pg.query(sql, { database: DB })).map((r) => r.join(" "));
            assert.deepEqual(await rows("SELECT code, floor FROM pyxis.dispenser ORDER BY code"), ["A1B2C 5", "D3E4F 11", "G5H6I 19", "J7K8L 1", "M9N0O 8"]);
            assert.deepEqual(await rows("SELECT name, dosage FROM pyxis.medicine ORDER BY id"), [
                "Paracetamol 500 mg",
                "Ibuprofeno 200 mg",
                "Amoxicilina 500 mg",
                "Dipirona 500 mg",
                "Captopril 25 mg",
                "Losartana 50 mg",
                "Metformina 500 mg",
                "Atorvastatina 20 mg",
                "Sertralina 50 mg",
                "Omeprazol 20 mg",
            ]);
            assert.equal((await rows("SELECT name FROM pyxis.material")).length, 5);
            assert.deepEqual(await rows("SELECT description FROM pyxis.assistance ORDER BY id"), ["Manutenção", "Dúvidas", "Divergência"]);
            assert.deepEqual(
                await rows(
                    "SELECT (SELECT count(*) FROM pyxis.dispenser_medicine) || '/' || (SELECT count(*) FROM pyxis.dispenser_material) || '/' || (SELECT count(*) FROM pyxis.dispenser_assistance)",
                ),
                ["12/7/9"],
            );
            assert.deepEqual(await rows("SELECT m.name FROM pyxis.dispenser_medicine l JOIN pyxis.dispenser d ON d.id = l.dispenser_id JOIN pyxis.medicine m ON m.id = l.medicine_id WHERE d.code = 'M9N0O'"), ["Paracetamol"]);
        });

        it("DATA-3 seeds auth.users from the configured users, names and emails verbatim", async () => {
            const rows = await pg.query("SELECT name, email, role, coalesce(phone_number, '-') FROM auth.users ORDER BY id", { database: DB });
            assert.deepEqual(
                rows,
                USERS.map((u) => [u.name, u.email, u.role, u.phoneNumber]),
            );
        });

        it("foreign keys reject orphan rows", async () => {
            const orphans = [
                "INSERT INTO pyxis.dispenser_medicine (dispenser_id, medicine_id) VALUES (9999, 1)",
                "INSERT INTO pyxis.dispenser_material (dispenser_id, material_id) VALUES (1, 9999)",
                "INSERT INTO pyxis.dispenser_assistance (dispenser_id, assistance_id) VALUES (9999, 1)",
                "INSERT INTO requests.medicine_status_changes (status, request_id) VALUES ('pending', 9999)",
                "INSERT INTO requests.material_status_change (status, request_id) VALUES ('pending', 9999)",
                "INSERT INTO requests.assistance_status_change (status, request_id) VALUES ('pending', 9999)",
            ];
            for (const sql of orphans) {
                const result = await pg.psql(sql, { database: DB });
                assert.notEqual(result.code, 0, `accepted an orphan: ${sql}`);
                assert.match(result.stderr, /violates foreign key constraint/, sql);
            }
        });
    });

    describe("idempotence and upgrades", () => {
        it("DATA-3 a second application is a no-op: same row counts, data checksums (password_hash included), sequences, structure and grants", async () => {
            const before = await snapshot(DB);
            assert.match(before.get("auth.users") ?? "", /^3 rows /);
            await applyOk(rendered, DB);
            const after = await snapshot(DB);
            assert.deepEqual([...after.entries()], [...before.entries()]);
        });

        it("DATA-3 a failed run changes nothing: the whole script is one transaction", async () => {
            await pg.createDatabase("asky_failed_run");
            const env = secretEnv();
            delete env[userPasswordEnv("agent+1@asky.local")];
            const result = await apply(renderDatabaseSql({ databaseName: "asky_failed_run", users: USERS, bcryptCost: 10 }), "asky_failed_run", env);
            assert.notEqual(result.code, 0);
            assert.match(result.stderr, /ASKY_USER_PASSWORD_AGENT_1_ASKY_LOCAL is not set or empty/);
            assert.ok(!result.stderr.includes(userPasswords[userPasswordEnv("admin@asky.local")]), "error output leaks a secret");
            const schemas = await pg.scalar(`SELECT count(*) FROM pg_namespace WHERE nspname IN (${SCHEMA_LIST})`, { database: "asky_failed_run" });
            assert.equal(schemas, "0");
        });

        it("DATA-3 the script refuses a database it was not rendered for", async () => {
            const result = await apply(renderDatabaseSql({ databaseName: "some_other_db", users: USERS, bcryptCost: 10 }), DB);
            assert.notEqual(result.code, 0);
            assert.match(result.stderr, /rendered for database some_other_db but connected to asky_sql_test/);
        });

        it("DATA-4 a changed SQL (new column, new table, new seed row, new user) reaches an existing database without losing service rows", async () => {
            const db = "asky_upgrade";
            await pg.createDatabase(db);
            await applyOk(renderDatabaseSql({ databaseName: db, users: USERS, bcryptCost: 10 }), db);

            // What the services write between two deploys.
            const pyxis = roleCredentials("pyxis");
            const requests = roleCredentials("request-management");
            await pg.query("INSERT INTO pyxis.medicine (name, dosage) VALUES ('Insulina', '100 UI/ml')", { database: db, as: pyxis });
            const requestId = await pg.scalar("INSERT INTO requests.medicine_requests (dispenser_id, requested_by, medicine_id, emergency) VALUES (1, 2, 3, true) RETURNING id", { database: db, as: requests });
            await pg.query(`INSERT INTO requests.medicine_status_changes (status, request_id) VALUES ('accepted', ${requestId})`, { database: db, as: requests });
            await pg.query("UPDATE auth.users SET password_hash = 'changed-by-the-user', updated_at = now() WHERE email = 'admin@asky.local'", { database: db, as: roleCredentials("auth") });
            const before = await snapshot(db);

            const newUser: SeedUser = { name: "Nova Enfermeira", email: "nova@asky.local", phoneNumber: "+5511990010004", role: "nurse" };
            const v2 = renderDatabaseSql({ databaseName: db, users: [...USERS, newUser], bcryptCost: 10 })
                .replace(
                    "-- ---- 03-requests.sql ----",
                    "ALTER TABLE pyxis.medicine ADD COLUMN IF NOT EXISTS controlled boolean NOT NULL DEFAULT false;\n" +
                        "CREATE TABLE IF NOT EXISTS pyxis.stock (id serial PRIMARY KEY, medicine_id integer NOT NULL REFERENCES pyxis.medicine (id));\n" +
                        "-- ---- 03-requests.sql ----",
                )
                .replace("    ('Omeprazol', '20 mg')\n", "    ('Omeprazol', '20 mg'),\n    ('Dexametasona', '4 mg')\n");
            assert.ok(v2.includes("Dexametasona") && v2.includes("pyxis.stock"), "test could not modify the SQL");
            await applyOk(v2, db, { ...secretEnv(), [userPasswordEnv(newUser.email)]: "nova-senha" });

            const after = await snapshot(db);
            assert.match(after.get("pyxis.medicine") ?? "", /^12 rows /, "10 seeds + Insulina + Dexametasona");
            assert.equal(await pg.scalar("SELECT string_agg(name || ':' || controlled, ',' ORDER BY id) FROM pyxis.medicine WHERE name IN ('Insulina', 'Dexametasona')", { database: db }), "Insulina:false,Dexametasona:false");
            for (const table of ["requests.medicine_requests", "requests.medicine_status_changes", "pyxis.dispenser", "pyxis.dispenser_medicine"]) {
                assert.equal(after.get(table), before.get(table), `${table} changed`);
            }
            assert.equal(await pg.scalar("SELECT password_hash FROM auth.users WHERE email = 'admin@asky.local'", { database: db }), "changed-by-the-user");
            assert.equal(await pg.scalar("SELECT count(*) FROM auth.users", { database: db }), "4");
            assert.equal(await pg.scalar("SELECT public.crypt('nova-senha', password_hash) = password_hash FROM auth.users WHERE email = 'nova@asky.local'", { database: db }), "t");
            // The new column and the new table are usable by the owning service, and only by it.
            await pg.query("INSERT INTO pyxis.stock (medicine_id) SELECT id FROM pyxis.medicine WHERE controlled = false LIMIT 1", { database: db, as: pyxis });
            const denied = await pg.psql("SELECT count(*) FROM pyxis.stock", { database: db, as: requests });
            assert.match(denied.stderr, /permission denied for schema pyxis/);
        });
    });

    describe("auth.users as the services need it, upgrades from older releases, and honest initial passwords", () => {
        /** The stack files' users: what release d21b0a2 seeded, without phone numbers. */
        const STACK_USERS: SeedUser[] = [
            { name: "Administrador", email: "admin@asky.local", phoneNumber: "+5511990010001", role: "admin" },
            { name: "Enfermeira", email: "nurse@asky.local", phoneNumber: "+5511990010002", role: "nurse" },
            { name: "Agente", email: "agent@asky.local", phoneNumber: "+5511990010003", role: "agent" },
        ];
        const FIXTURE = fs.readFileSync(path.join(__dirname, "fixtures", "bootstrap-d21b0a2.sql"), "utf8");
        /** The bootstrap script of release d21b0a2, as its Job would apply it to `database`. */
        const releaseD21b0a2 = (database: string) => FIXTURE.replace("\\set asky_database asky_v1\n", `\\set asky_database ${database}\n`);
        /** The bootstrap script of release 947e647 (request timestamps as timestamptz), for `database`. */
        const release947e647 = (database: string) =>
            fs.readFileSync(path.join(__dirname, "fixtures", "bootstrap-947e647.sql"), "utf8").replace("\\set asky_database asky_v1\n", `\\set asky_database ${database}\n`);
        const current = (database: string, users = STACK_USERS) => renderDatabaseSql({ databaseName: database, users, bcryptCost: 10 });
        /** Secrets as the Job gets them, with the given password for every seeded user. */
        const envWith = (users: readonly SeedUser[], password: (u: SeedUser) => string) => ({
            ...rolePasswords,
            ...Object.fromEntries(users.map((u) => [userPasswordEnv(u.email), password(u)])),
        });
        const verifies = async (database: string, email: string, password: string) =>
            (await pg.scalar(`SELECT public.crypt(${quoteLiteral(password)}, password_hash) = password_hash FROM auth.users WHERE email = ${quoteLiteral(email)}`, { database })) === "t";
        const applyNamed = async (sql: string, database: string, env: Record<string, string>) => {
            const result = await apply(sql, database, env);
            assert.equal(result.code, 0, `bootstrap failed:\n${result.stderr}`);
            assert.equal(result.stderr, "");
            return result.stdout;
        };

        it("DATA-3 name, email, password_hash and role are NOT NULL; email and phone_number are unique (as in the original)", async () => {
            const as = roleCredentials("auth");
            const attempts: [string, RegExp][] = [
                ["INSERT INTO auth.users (email, password_hash, role, phone_number) VALUES ('noname@asky.local', 'x', 'nurse', '+5511990019999')", /null value in column "name"/],
                ["INSERT INTO auth.users (name, password_hash, role) VALUES ('x', 'x', 'nurse')", /null value in column "email"/],
                ["INSERT INTO auth.users (name, email, role) VALUES ('x', 'x@asky.local', 'nurse')", /null value in column "password_hash"/],
                ["INSERT INTO auth.users (name, email, password_hash) VALUES ('x', 'x@asky.local', 'x')", /null value in column "role"/],
                ["INSERT INTO auth.users (name, email, password_hash, role) VALUES ('x', 'admin@asky.local', 'x', 'nurse')", /users_email_key/],
                ["INSERT INTO auth.users (name, email, password_hash, role, phone_number) VALUES ('x', 'y@asky.local', 'x', 'nurse', '+5511990010001')", /users_phone_number_key/],
            ];
            for (const [sql, error] of attempts) {
                const result = await pg.psql(sql, { database: DB, as });
                assert.notEqual(result.code, 0, `accepted: ${sql}`);
                assert.match(result.stderr, error, sql);
            }
            // A registration without a phone number is still possible (nullable, as in the original).
            const id = await pg.scalar("INSERT INTO auth.users (name, email, password_hash, role) VALUES ('Sem Telefone', 'nophone@asky.local', 'x', 'nurse') RETURNING id", { database: DB, as });
            await pg.query(`DELETE FROM auth.users WHERE id = ${id}`, { database: DB, as });
        });

        it("DATA-4 upgrades a database of release d21b0a2: refuses (changing nothing) while a row has no name, then adds NOT NULL and UNIQUE, fills the seeded phones and keeps every row and hash", async () => {
            const db = "asky_from_d21b0a2";
            await pg.createDatabase(db);
            const secrets = envWith(STACK_USERS, (u) => `old-${u.role}-password`);
            await applyNamed(releaseD21b0a2(db), db, secrets);
            assert.equal(await pg.scalar("SELECT count(*) FROM auth.users WHERE phone_number IS NULL", { database: db }), "3", "premise: d21b0a2 seeded no phones");
            // What the auth service wrote meanwhile: a registration, and a failed one without a name.
            const as = roleCredentials("auth");
            await pg.query("INSERT INTO auth.users (name, email, password_hash, role) VALUES ('Registrada', 'registrada@asky.local', 'h1', 'nurse')", { database: db, as });
            const nameless = await pg.scalar("INSERT INTO auth.users (email, password_hash, role) VALUES ('falhou@asky.local', 'h2', 'nurse') RETURNING id", { database: db, as });
            const hashes = await pg.query("SELECT email, password_hash FROM auth.users ORDER BY id", { database: db });

            const refused = await apply(current(db), db, secrets);
            assert.notEqual(refused.code, 0);
            assert.match(refused.stderr, new RegExp(`auth\\.users\\.name must not be NULL, but is in the rows with id ${nameless}`));
            assert.match(refused.stderr, /HINT: +Set name in those rows .* or delete them, then run pulumi up again/);
            assert.equal(await pg.scalar("SELECT is_nullable FROM information_schema.columns WHERE table_schema = 'auth' AND table_name = 'users' AND column_name = 'name'", { database: db }), "YES", "the failed run changed nothing");
            assert.equal(await pg.scalar("SELECT count(*) FROM auth.users WHERE phone_number IS NOT NULL", { database: db }), "0");

            await pg.query(`UPDATE auth.users SET name = 'Falhou' WHERE id = ${nameless}`, { database: db, as });
            const out = await applyNamed(current(db), db, secrets);
            assert.match(out, /seed user admin@asky\.local: password unchanged/);
            const columns = await pg.query("SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'auth' AND table_name = 'users' AND column_name IN ('name', 'email', 'password_hash', 'role', 'phone_number') ORDER BY 1", { database: db });
            assert.deepEqual(columns, [["email", "NO"], ["name", "NO"], ["password_hash", "NO"], ["phone_number", "YES"], ["role", "NO"]]);
            assert.equal(await pg.scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'auth.users'::regclass AND conname = 'users_phone_number_key'", { database: db }), "UNIQUE (phone_number)");
            assert.deepEqual(await pg.query("SELECT email, coalesce(phone_number, '-') FROM auth.users ORDER BY id", { database: db }), [
                ["admin@asky.local", "+5511990010001"], ["nurse@asky.local", "+5511990010002"], ["agent@asky.local", "+5511990010003"],
                ["registrada@asky.local", "-"], ["falhou@asky.local", "-"],
            ]);
            assert.deepEqual(await pg.query("SELECT email, password_hash FROM auth.users ORDER BY id", { database: db }), hashes, "no hash changed: the Secrets are the same");
            for (const u of STACK_USERS) assert.ok(await verifies(db, u.email, `old-${u.role}-password`), u.email);

            const before = await snapshot(db);
            await applyNamed(current(db), db, secrets);
            assert.deepEqual([...(await snapshot(db)).entries()], [...before.entries()], "DATA-3: applying it again changes nothing");
        });

        it("DATA-4 upgrades a database of release 947e647: the request and status-change timestamps become `timestamp` with the same UTC wall time, no row lost; auth.users keeps timestamptz", async () => {
            const db = "asky_from_947e647";
            const REQUEST_TABLES = ["medicine_requests", "material_requests", "assistance_requests"];
            const STATUS_TABLES = ["medicine_status_changes", "material_status_change", "assistance_status_change"];
            await pg.createDatabase(db);
            const secrets = envWith(STACK_USERS, (u) => `pw-${u.role}`);
            await applyNamed(release947e647(db), db, secrets);
            const types = () => pg.query(
                `SELECT table_name || '.' || column_name, data_type FROM information_schema.columns
                 WHERE table_schema IN ('requests', 'auth') AND data_type LIKE 'timestamp%' ORDER BY 1`, { database: db });
            assert.ok((await types()).every(([, t]) => t === "timestamp with time zone"), "premise: 947e647 made every timestamp timestamptz");

            // What request-management wrote meanwhile, from a session in São Paulo (UTC-3): explicit instants
            // around midnight and the DST-free offset, and defaults; 200 requests with a status change each.
            const as = roleCredentials("request-management");
            const brt = "SET TIME ZONE 'America/Sao_Paulo'; ";
            await pg.query(brt + REQUEST_TABLES.map((t) =>
                `INSERT INTO requests.${t} (dispenser_id, requested_by, created_at) SELECT i % 5 + 1, 2, timestamptz '2026-03-08 22:30:00-03' + i * interval '7 minutes' FROM generate_series(1, 200) i;` +
                `INSERT INTO requests.${t} (dispenser_id, requested_by) VALUES (1, 2);`).join(" "), { database: db, as });
            await pg.query(brt + STATUS_TABLES.map((t, i) =>
                `INSERT INTO requests.${t} (status, request_id, created_at) SELECT 'accepted', id, created_at + interval '90 seconds' FROM requests.${REQUEST_TABLES[i]};`).join(" "), { database: db, as });
            /** Per table: row count and a digest of every id with its created_at as UTC wall time (`utc` reads a timestamptz so). */
            const utcWallTimes = async (utc: string) => Object.fromEntries(await Promise.all([...REQUEST_TABLES, ...STATUS_TABLES].map(async (t) => [t,
                await pg.scalar(`SELECT count(*) || ' rows ' || md5(string_agg(id || ' ' || to_char(created_at${utc}, 'YYYY-MM-DD HH24:MI:SS.US'), ',' ORDER BY id)) FROM requests.${t}`, { database: db })])));
            const before = await utcWallTimes(" AT TIME ZONE 'UTC'");
            assert.equal(before.medicine_requests.split(" ")[0], "201");
            const firstUtc = await pg.scalar("SELECT (created_at AT TIME ZONE 'UTC')::text FROM requests.medicine_requests ORDER BY id LIMIT 1", { database: db });
            assert.equal(firstUtc, "2026-03-09 01:37:00", "premise: 22:37 in São Paulo is 01:37 UTC the next day");
            const users = await pg.query("SELECT id, created_at::text, coalesce(updated_at::text, '-') FROM auth.users ORDER BY id", { database: db });

            // The Job's session in yet another zone: the conversion reads the instant, not the session's view of it.
            await applyNamed(current(db), db, { ...secrets, PGTZ: "Asia/Tokyo" });
            assert.deepEqual(Object.fromEntries(await types()), {
                "assistance_requests.created_at": "timestamp without time zone",
                "assistance_status_change.created_at": "timestamp without time zone",
                "material_requests.created_at": "timestamp without time zone",
                "material_status_change.created_at": "timestamp without time zone",
                "medicine_requests.created_at": "timestamp without time zone",
                "medicine_status_changes.created_at": "timestamp without time zone",
                "users.created_at": "timestamp with time zone",
                "users.updated_at": "timestamp with time zone",
            });
            assert.deepEqual(await utcWallTimes(""), before, "every row kept, each created_at the same UTC wall time");
            assert.equal(await pg.scalar("SELECT created_at::text FROM requests.medicine_requests ORDER BY id LIMIT 1", { database: db }), "2026-03-09 01:37:00");
            assert.deepEqual(await pg.query("SELECT id, created_at::text, coalesce(updated_at::text, '-') FROM auth.users ORDER BY id", { database: db }), users, "auth.users untouched");

            // A row the service inserts now, from a non-UTC session, gets UTC's wall time by default.
            const drift = await pg.scalar(brt + "INSERT INTO requests.material_requests (dispenser_id) VALUES (3) RETURNING abs(extract(epoch FROM created_at - (now() AT TIME ZONE 'UTC')))", { database: db, as });
            assert.ok(Number(drift) < 1, `default is UTC wall time (off by ${drift} s)`);
            const snap = await snapshot(db);
            await applyNamed(current(db), db, secrets);
            assert.deepEqual([...(await snapshot(db)).entries()], [...snap.entries()], "DATA-3: applying it again changes nothing");
        });

        it("DATA-4 refuses, naming the rows, an older database where two users share a phone number", async () => {
            const db = "asky_shared_phone";
            await pg.createDatabase(db);
            const secrets = envWith(STACK_USERS, (u) => `pw-${u.role}`);
            await applyNamed(releaseD21b0a2(db), db, secrets);
            const as = roleCredentials("auth");
            const ids = await pg.query("INSERT INTO auth.users (name, email, password_hash, role, phone_number) VALUES ('A', 'a@asky.local', 'x', 'nurse', '+5511990017777'), ('B', 'b@asky.local', 'x', 'nurse', '+5511990017777') RETURNING id", { database: db, as });
            const refused = await apply(current(db), db, secrets);
            assert.notEqual(refused.code, 0);
            assert.match(refused.stderr, new RegExp(`auth\\.users\\.phone_number must be unique, but rows share one \\(ids: ${ids[0][0]}, ${ids[1][0]}\\)`));
        });

        it("refuses a seeded phone number that another user already has, naming both", async () => {
            const db = "asky_phone_taken";
            await pg.createDatabase(db);
            const secrets = envWith(STACK_USERS, (u) => `pw-${u.role}`);
            await applyNamed(current(db), db, secrets);
            const id = await pg.scalar("INSERT INTO auth.users (name, email, password_hash, role, phone_number) VALUES ('Outra', 'outra@asky.local', 'x', 'nurse', '+5511990018888') RETURNING id", { database: db, as: roleCredentials("auth") });
            const extra: SeedUser = { name: "Farmácia", email: "farmacia@asky.local", phoneNumber: "+5511990018888", role: "agent" };
            const refused = await apply(current(db, [...STACK_USERS, extra]), db, envWith([...STACK_USERS, extra], (u) => `pw-${u.role}`));
            assert.notEqual(refused.code, 0);
            assert.match(refused.stderr, new RegExp(`seed user farmacia@asky\\.local: phone number \\+5511990018888 already belongs to auth\\.users id ${id}`));

            // A seeded user who changed their number keeps it, and someone else may then have the configured one.
            const auth = roleCredentials("auth");
            await pg.query("UPDATE auth.users SET phone_number = '+5511990016666' WHERE email = 'admin@asky.local'", { database: db, as: auth });
            await pg.query("UPDATE auth.users SET phone_number = '+5511990010001' WHERE email = 'outra@asky.local'", { database: db, as: auth });
            await applyNamed(current(db), db, secrets);
            assert.equal(await pg.scalar("SELECT phone_number FROM auth.users WHERE email = 'admin@asky.local'", { database: db }), "+5511990016666");
        });

        it("initialUserPasswords never lies: a new Secret (dev destroy -> up on the retained data) re-sets the seeded hash; a password the user changed is kept", async () => {
            const db = "asky_passwords";
            await pg.createDatabase(db);
            await applyNamed(current(db), db, envWith(STACK_USERS, (u) => `first-${u.role}`));

            // destroy -> up: @pulumi/random makes new passwords; the data (and its hashes) survived.
            const out = await applyNamed(current(db), db, envWith(STACK_USERS, (u) => `second-${u.role}`));
            for (const u of STACK_USERS) {
                assert.match(out, new RegExp(`seed user ${u.email.replace(/\./g, "\\.")}: password set from its Secret`));
                assert.ok(await verifies(db, u.email, `second-${u.role}`), `${u.email}: the output's password works`);
                assert.ok(!(await verifies(db, u.email, `first-${u.role}`)), `${u.email}: the old password no longer works`);
            }

            // The admin changes the password through the auth service; then another destroy -> up.
            const mine = await pg.scalar("SELECT public.crypt('minha-senha', public.gen_salt('bf', 10))", { database: db });
            await pg.query(`UPDATE auth.users SET password_hash = ${quoteLiteral(mine)}, updated_at = now() WHERE email = 'admin@asky.local'`, { database: db, as: roleCredentials("auth") });
            const third = await applyNamed(current(db), db, envWith(STACK_USERS, (u) => `third-${u.role}`));
            assert.match(third, /seed user admin@asky\.local: password kept \(the user changed it; initialUserPasswords no longer applies\)/);
            assert.ok(await verifies(db, "admin@asky.local", "minha-senha"), "the user's own password is never overwritten");
            assert.ok(await verifies(db, "nurse@asky.local", "third-nurse"));

            // The same Secrets again: nothing changes, and the output says so.
            const before = await snapshot(db);
            const again = await applyNamed(current(db), db, envWith(STACK_USERS, (u) => `third-${u.role}`));
            assert.match(again, /seed user nurse@asky\.local: password unchanged/);
            assert.deepEqual([...(await snapshot(db)).entries()], [...before.entries()]);
        });

        it("an older release's database whose hash is not its Secret's (no bookkeeping yet) is set from the Secret once", async () => {
            const db = "asky_legacy_passwords";
            await pg.createDatabase(db);
            await applyNamed(releaseD21b0a2(db), db, envWith(STACK_USERS, (u) => `d21b0a2-${u.role}`));
            await applyNamed(current(db), db, envWith(STACK_USERS, (u) => `now-${u.role}`));
            for (const u of STACK_USERS) assert.ok(await verifies(db, u.email, `now-${u.role}`), u.email);
        });

        it("SEC-3 the bookkeeping schema asky_bootstrap is reachable by no service role", async () => {
            for (const service of Object.keys(SERVICE_DATABASE_ROLES) as (keyof typeof SERVICE_DATABASE_ROLES)[]) {
                const result = await pg.psql("SELECT count(*) FROM asky_bootstrap.seeded_users", { database: DB, as: roleCredentials(service) });
                assert.match(result.stderr, /permission denied for schema asky_bootstrap/, service);
            }
        });
    });

    describe("service roles and privileges", () => {
        for (const [service, { role, schema }] of Object.entries(SERVICE_DATABASE_ROLES)) {
            it(`SEC-3 ${role} (${service}) logs in over TCP and can SELECT/INSERT/UPDATE/DELETE in ${schema}, and is refused on the other schemas`, async () => {
                const as = roleCredentials(service as keyof typeof SERVICE_DATABASE_ROLES);
                const own = PROBES[schema as (typeof SCHEMAS)[number]];
                const id = await pg.scalar(own.insert, { database: DB, as });
                await pg.query(`UPDATE ${own.table} SET ${own.update} WHERE id = ${id}`, { database: DB, as });
                assert.equal(await pg.scalar(`SELECT count(*) FROM ${own.table} WHERE id = ${id}`, { database: DB, as }), "1");
                await pg.query(`DELETE FROM ${own.table} WHERE id = ${id}`, { database: DB, as });
                assert.equal(await pg.scalar(`SELECT count(*) FROM ${own.table} WHERE id = ${id}`, { database: DB }), "0");

                for (const other of SCHEMAS.filter((s) => s !== schema)) {
                    for (const sql of [`SELECT count(*) FROM ${PROBES[other].table}`, PROBES[other].insert]) {
                        const result = await pg.psql(sql, { database: DB, as });
                        assert.notEqual(result.code, 0, `${role} ran: ${sql}`);
                        assert.match(result.stderr, new RegExp(`permission denied for schema ${other}`), sql);
                    }
                }
                // No DDL anywhere and no temporary tables: the schema belongs to the bootstrap.
                for (const sql of [`CREATE TABLE ${schema}.evil (id int)`, "CREATE TABLE public.evil (id int)", "CREATE TEMP TABLE evil (id int)"]) {
                    const result = await pg.psql(sql, { database: DB, as });
                    assert.notEqual(result.code, 0, `${role} ran: ${sql}`);
                    assert.match(result.stderr, /permission denied/, sql);
                }
            });
        }

        it("SEC-3 tables created later in a schema by the bootstrap user get the same grants (default privileges)", async () => {
            await pg.query("CREATE TABLE pyxis.later_table (id serial PRIMARY KEY, note text)", { database: DB });
            try {
                const as = roleCredentials("pyxis");
                await pg.query("INSERT INTO pyxis.later_table (note) VALUES ('x'); UPDATE pyxis.later_table SET note = 'y'; DELETE FROM pyxis.later_table", { database: DB, as });
                const denied = await pg.psql("SELECT * FROM pyxis.later_table", { database: DB, as: roleCredentials("auth") });
                assert.match(denied.stderr, /permission denied for schema pyxis/);
            } finally {
                await pg.query("DROP TABLE pyxis.later_table", { database: DB });
            }
        });

        it("SEC-3 no service role is superuser, createdb, createrole, replication or bypassrls; the group roles cannot log in; none owns a schema or table", async () => {
            const groups = Object.values(SERVICE_DATABASE_ROLES).map((r) => r.role);
            const logins = (Object.keys(SERVICE_DATABASE_ROLES) as (keyof typeof SERVICE_DATABASE_ROLES)[]).map((svc) => roleCredentials(svc).user);
            const list = [...groups, ...logins].map(quoteLiteral).join(", ");
            const attrs = await pg.query(`SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname IN (${list}) ORDER BY rolname`, { database: DB });
            // (A group role an earlier release's run made a login in this cluster may still log in until its deadline: last test below.)
            assert.deepEqual(attrs.map((a) => groups.includes(a[0]) ? a.slice(0, -1) : a), [
                ...groups.map((r) => [r, "f", "f", "f", "f", "f", "f"]),
                ...logins.map((r) => [r, "f", "f", "f", "t", "f", "f", "t"]),
            ].sort((a, b) => a[0].localeCompare(b[0])));
            const open = await pg.query(`SELECT rolname FROM pg_roles WHERE rolname IN (${groups.map(quoteLiteral).join(", ")}) AND rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil = 'infinity')`, { database: DB });
            assert.deepEqual(open, [], "no group role logs in without a deadline");
            // Each login is a member of its own group role only, and the groups of none.
            const members = await pg.query(`SELECT r.rolname, g.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid WHERE r.rolname IN (${list}) OR g.rolname IN (${list}) ORDER BY 1`, { database: DB });
            assert.deepEqual(members, logins.map((l, i) => [l, groups[i]]).sort((a, b) => a[0].localeCompare(b[0])));
            const owned = await pg.scalar(
                `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE pg_get_userbyid(c.relowner) IN (${list}) OR pg_get_userbyid(n.nspowner) IN (${list})`,
                { database: DB },
            );
            assert.equal(owned, "0");
        });

        it("SEC-3 PUBLIC cannot connect to the database nor create in schema public", async () => {
            const outsider: Credentials = { user: "asky_outsider", password: "outsider-password" };
            await pg.query(`CREATE ROLE asky_outsider LOGIN PASSWORD ${quoteLiteral(outsider.password)}`, { database: DB });
            try {
                const connect = await pg.psql("SELECT 1", { database: DB, as: outsider });
                assert.notEqual(connect.code, 0);
                assert.match(connect.stderr, /permission denied for database|does not have CONNECT privilege/);

                await pg.query(`GRANT CONNECT ON DATABASE ${DB} TO asky_outsider`, { database: DB });
                for (const sql of ["CREATE TABLE public.evil (id int)", "SELECT count(*) FROM pyxis.dispenser", "SELECT count(*) FROM auth.users", "SELECT count(*) FROM requests.medicine_requests"]) {
                    const result = await pg.psql(sql, { database: DB, as: outsider });
                    assert.notEqual(result.code, 0, `a role with only CONNECT ran: ${sql}`);
                    assert.match(result.stderr, /permission denied/, sql);
                }
            } finally {
                await pg.query(`REVOKE ALL ON DATABASE ${DB} FROM asky_outsider; DROP ROLE asky_outsider`, { database: DB });
            }
        });

        it("SEC-4 sessions in the database use password_encryption = scram-sha-256 and role passwords are SCRAM verifiers (server default here is md5)", async () => {
            assert.equal(await pg.scalar("SHOW password_encryption", { database: "postgres" }), "md5", "test premise: the server default is md5");
            assert.equal(await pg.scalar("SHOW password_encryption", { database: DB }), "scram-sha-256");
            const roles = (Object.keys(SERVICE_DATABASE_ROLES) as (keyof typeof SERVICE_DATABASE_ROLES)[]).map((svc) => quoteLiteral(roleCredentials(svc).user)).join(", ");
            const hashes = await pg.query(`SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN (${roles})`, { database: DB });
            assert.equal(hashes.length, 3);
            for (const [role, hash] of hashes) {
                assert.match(hash, /^SCRAM-SHA-256\$/, role);
            }
            const weakRules = await pg.query("SELECT line_number, auth_method FROM pg_hba_file_rules WHERE auth_method IN ('trust', 'password', 'md5')", { database: DB });
            assert.deepEqual(weakRules, [], "the test cluster itself must not use trust");
        });

        it("SEC-4 a rotated password is a new login beside the old one: the old pods' new connections keep working for previousPasswordMinutes, then the old login closes and is dropped", async () => {
            const env = SERVICE_DATABASE_ROLES.pyxis.passwordEnv;
            const old = roleCredentials("pyxis");
            const oldPassword = rolePasswords[env];
            rolePasswords[env] = secret();
            const current = roleCredentials("pyxis");
            assert.notEqual(current.user, old.user);
            await applyOk(rendered, DB);
            assert.equal(await pg.scalar("SELECT current_user", { database: DB, as: current }), current.user);
            assert.equal(await pg.scalar("SELECT count(*) FROM pyxis.dispenser", { database: DB, as: current }), "5", "the new login has the service's grants");
            // The old login still opens connections, with its grants, until its deadline (30 minutes by default).
            assert.equal(await pg.scalar("SELECT count(*) FROM pyxis.dispenser", { database: DB, as: old }), "5");
            const minutes = await pg.scalar(`SELECT round(extract(epoch FROM rolvaliduntil - now()) / 60) FROM pg_roles WHERE rolname = ${quoteLiteral(old.user)}`, { database: DB });
            assert.ok(Number(minutes) >= 29 && Number(minutes) <= 30, `the old login's deadline is about 30 minutes away, got ${minutes}`);
            assert.equal(await pg.scalar(`SELECT rolvaliduntil FROM pg_roles WHERE rolname = ${quoteLiteral(current.user)}`, { database: DB }), "infinity");
            // A run later (nothing changed) keeps the deadline where it was: it is not pushed back.
            const before = await pg.scalar(`SELECT rolvaliduntil FROM pg_roles WHERE rolname = ${quoteLiteral(old.user)}`, { database: DB });
            await applyOk(rendered, DB);
            assert.equal(await pg.scalar(`SELECT rolvaliduntil FROM pg_roles WHERE rolname = ${quoteLiteral(old.user)}`, { database: DB }), before);
            // Past the deadline the old password is refused, and the next run drops the login.
            await pg.query(`ALTER ROLE ${quoteIdent(old.user)} VALID UNTIL '2000-01-01'`, { database: DB });
            const stale = await pg.psql("SELECT 1", { database: DB, as: old });
            assert.notEqual(stale.code, 0);
            assert.match(stale.stderr, /password authentication failed/);
            await applyOk(rendered, DB);
            assert.equal(await pg.scalar(`SELECT count(*) FROM pg_roles WHERE rolname = ${quoteLiteral(old.user)}`, { database: DB }), "0", "the expired login is dropped");
            assert.equal(await pg.scalar("SELECT current_user", { database: DB, as: current }), current.user);
            assert.notEqual(oldPassword, rolePasswords[env]);
        });

        it("SEC-4 previousPasswordMinutes 0 closes the old login at once (a leaked password), and a login given a grant of its own by hand is closed, not dropped", async () => {
            const env = SERVICE_DATABASE_ROLES.pyxis.passwordEnv;
            const old = roleCredentials("pyxis");
            await pg.query(`GRANT SELECT ON pyxis.dispenser TO ${quoteIdent(old.user)}`, { database: DB });
            rolePasswords[env] = secret();
            const now = renderDatabaseSql({ databaseName: DB, users: USERS, bcryptCost: BCRYPT_COST, previousPasswordMinutes: 0 });
            const result = await apply(now, DB);
            assert.equal(result.code, 0, result.stderr);
            assert.match(result.stderr, new RegExp(`WARNING:  asky bootstrap: ${old.user} has objects or grants of its own: closed, not dropped`));
            const stale = await pg.psql("SELECT 1", { database: DB, as: old });
            assert.notEqual(stale.code, 0);
            assert.equal(await pg.scalar(`SELECT rolcanlogin FROM pg_roles WHERE rolname = ${quoteLiteral(old.user)}`, { database: DB }), "f");
            assert.equal(await pg.scalar("SELECT count(*) FROM pyxis.dispenser", { database: DB, as: roleCredentials("pyxis") }), "5");
            await pg.query(`REVOKE ALL ON pyxis.dispenser FROM ${quoteIdent(old.user)}; DROP ROLE ${quoteIdent(old.user)}`, { database: DB });
        });

        it("SEC-4 an existing database whose group role was itself the login (the earlier releases) keeps it open for previousPasswordMinutes, then takes its login and password away", async () => {
            const group = SERVICE_DATABASE_ROLES.auth.role;
            await pg.query(`ALTER ROLE ${quoteIdent(group)} LOGIN PASSWORD 'the-earlier-release' VALID UNTIL 'infinity'`, { database: DB });
            await applyOk(rendered, DB);
            assert.equal(await pg.scalar("SELECT count(*) FROM auth.users", { database: DB, as: { user: group, password: "the-earlier-release" } }), String(USERS.length));
            await pg.query(`ALTER ROLE ${quoteIdent(group)} VALID UNTIL '2000-01-01'`, { database: DB });
            await applyOk(rendered, DB);
            assert.deepEqual(await pg.query(`SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = ${quoteLiteral(group)}`, { database: DB }), [["f", "t"]]);
            assert.equal(await pg.scalar("SELECT count(*) FROM auth.users", { database: DB, as: roleCredentials("auth") }), String(USERS.length));
        });
    });

    describe("user password hashes", () => {
        it(`SEC-5 every seeded user's hash is bcrypt ($2a$, cost ${BCRYPT_COST} >= 10) computed by pgcrypto and verifies against its password`, async () => {
            for (const user of USERS) {
                const password = userPasswords[userPasswordEnv(user.email)];
                const [[hash, verifies, wrong]] = await pg.query(
                    `SELECT password_hash, public.crypt(${quoteLiteral(password)}, password_hash) = password_hash, public.crypt('wrong', password_hash) = password_hash FROM auth.users WHERE email = ${quoteLiteral(user.email)}`,
                    { database: DB },
                );
                const match = /^\$2a\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(hash);
                assert.ok(match, `${user.email}: not a bcrypt hash passlib reads: ${hash}`);
                assert.ok(Number(match[1]) >= 10, `${user.email}: cost ${match[1]} < 10`);
                assert.equal(Number(match[1]), BCRYPT_COST);
                assert.equal(verifies, "t", `${user.email}: hash does not verify`);
                assert.equal(wrong, "f");
            }
            const distinct = await pg.scalar("SELECT count(DISTINCT substr(password_hash, 8, 22)) FROM auth.users", { database: DB });
            assert.equal(distinct, String(USERS.length), "salts must differ");
        });
    });

});

describe("the bootstrap prints no secret (sql/*.sql on a real PostgreSQL with log_statement = all)", () => {
    let pg: TestPostgres;
    const DB = "asky_quiet";
    const users: SeedUser[] = [
        { name: "Administrador", email: "admin@asky.local", phoneNumber: "+5511990010001", role: "admin" },
        { name: "Enfermeira", email: "nurse@asky.local", phoneNumber: "+5511990010002", role: "nurse" },
    ];
    const secrets: string[] = [];
    const env = (tag: string): Record<string, string> => {
        const values: Record<string, string> = {
            ...Object.fromEntries(DATABASE_LOGIN_ROLES.map(({ passwordEnv }) => [passwordEnv, `${tag}-${passwordEnv.toLowerCase()}-${randomBytes(6).toString("hex")}`])),
            ...Object.fromEntries(users.map((u) => [userPasswordEnv(u.email), `${tag}-${u.role}-${randomBytes(6).toString("hex")}`])),
        };
        secrets.push(...Object.values(values));
        return values;
    };
    const outputs: string[] = [];

    before(async () => {
        pg = await TestPostgres.start({ database: DB, serverSettings: { log_statement: "all", log_min_error_statement: "error" } });
        const file = path.join(pg.workDir, "bootstrap.sql");
        fs.writeFileSync(file, renderDatabaseSql({ databaseName: DB, users, bcryptCost: 10 }));
        // Create, re-set from new Secrets (the UPDATE path), and a failing run (an unset password).
        for (const e of [env("first"), env("second")]) {
            const r = await pg.psqlFile(file, { env: e });
            assert.equal(r.code, 0, r.stderr);
            outputs.push(r.stdout, r.stderr);
        }
        const broken = env("third");
        delete broken[userPasswordEnv("nurse@asky.local")];
        const failed = await pg.psqlFile(file, { env: broken });
        assert.notEqual(failed.code, 0);
        outputs.push(failed.stdout, failed.stderr);
    });

    after(async () => {
        await pg?.stop();
    });

    it("SEC-1 the Job's output (what `kubectl logs` shows) names users and steps, never a password or a hash", () => {
        const text = outputs.join("\n");
        assert.match(text, /asky bootstrap: seed user admin@asky\.local: password set from its Secret/);
        for (const s of secrets) assert.ok(!text.includes(s), "a password reached the Job's output");
        assert.doesNotMatch(text, /\$2[abxy]\$\d\d\$|SCRAM-SHA-256\$/);
    });

    it("SEC-1 the server log keeps no password or hash even with log_statement = all and failing statements", () => {
        const log = fs.readFileSync(path.join(pg.workDir, "..", "server.log"), "utf8");
        assert.match(log, /statement: SET track_activities = off/, "premise: statements are logged (the session's first, before it turns logging off)");
        for (const s of secrets) assert.ok(!log.includes(s), "a password reached the server log");
        assert.doesNotMatch(log, /\$2[abxy]\$\d\d\$|SCRAM-SHA-256\$/);
    });
});

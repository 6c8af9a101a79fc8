import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { MONITORING_DATABASE_ROLE, SERVICE_DATABASE_ROLES, renderDatabaseSql, userPasswordEnv } from "../sql/render";
import { freePort } from "./support/nginx";
import { Managed, exporterBinary, get, startManaged, waitFor } from "./support/monitoring";
import { Credentials, TestPostgres } from "./support/postgres";
import { stackSettings } from "./support/render";

/**
 * The monitoring role of sql/08-monitoring-role.sql on a real PostgreSQL: what postgres_exporter
 * needs (pg_monitor: statistics, settings, sizes) and nothing of the data: no table or sequence
 * of auth, pyxis, requests or asky_bootstrap, no writes, no elevated attributes.
 */
describe("the monitoring role asky_monitor (sql/08-monitoring-role.sql) on a real PostgreSQL", function () {
    this.timeout(120_000);
    const DB = "asky";
    let pg: TestPostgres;
    let monitor: Credentials;
    let exporter: Managed | undefined;
    const users = stackSettings("dev").database.users;
    const env: Record<string, string> = {
        ...Object.fromEntries([...Object.values(SERVICE_DATABASE_ROLES), MONITORING_DATABASE_ROLE].map((r) => [r.passwordEnv, `${r.passwordEnv.toLowerCase()}-pw`])),
        ...Object.fromEntries(users.map((u) => [userPasswordEnv(u.email), `${u.role}-pw`])),
    };
    const apply = async () => {
        const file = path.join(pg.workDir, "bootstrap.sql");
        fs.writeFileSync(file, renderDatabaseSql({ databaseName: DB, users, bcryptCost: 10 }));
        const r = await pg.psqlFile(file, { env });
        assert.strictEqual(r.code, 0, r.stderr);
    };
    const dataTables = async () => pg.query(
        "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ('auth', 'pyxis', 'requests', 'asky_bootstrap') ORDER BY 1",
    );

    before(async () => {
        pg = await TestPostgres.start({ database: DB });
        monitor = { user: MONITORING_DATABASE_ROLE.role, password: env[MONITORING_DATABASE_ROLE.passwordEnv] };
        await apply();
    });
    after(async () => {
        await exporter?.stop();
        await pg?.stop();
    });

    it("logs in with its Secret's password and is a member of pg_monitor only, without any elevated attribute", async () => {
        assert.strictEqual(await pg.scalar("SELECT current_user", { as: monitor }), "asky_monitor");
        const [attrs] = await pg.query("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolconnlimit FROM pg_roles WHERE rolname = 'asky_monitor'");
        assert.deepStrictEqual(attrs, ["f", "f", "f", "f", "f", "t", "3"]);
        assert.deepStrictEqual(await pg.query("SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = 'asky_monitor'::regrole"), [["pg_monitor"]]);
    });

    it("reads what the exporter reads: activity of every session, statistics, settings and database sizes", async () => {
        // pg_read_all_stats: the query text of another role's session, which PUBLIC cannot see.
        const sleeping = pg.psql("SELECT pg_sleep(3) AS asky_probe");
        const seen = await waitFor("the superuser's session in pg_stat_activity", async () => {
            const rows = await pg.query("SELECT query FROM pg_stat_activity WHERE usename = 'asky_test_admin' AND query LIKE '%asky_probe' AND pid <> pg_backend_pid()", { as: monitor });
            return rows.length ? rows[0][0] : undefined;
        }, 10_000);
        assert.strictEqual(seen, "SELECT pg_sleep(3) AS asky_probe");
        await sleeping;
        assert.ok(Number(await pg.scalar("SELECT numbackends FROM pg_stat_database WHERE datname = 'asky'", { as: monitor })) >= 1);
        assert.ok(Number(await pg.scalar("SELECT pg_database_size('asky')", { as: monitor })) > 0);
        assert.strictEqual(await pg.scalar("SELECT setting FROM pg_settings WHERE name = 'max_connections'", { as: monitor }), "30");
        assert.ok(Number(await pg.scalar("SELECT buffers_alloc FROM pg_stat_bgwriter", { as: monitor })) >= 0);
    });

    it("cannot read any table or sequence of auth, pyxis, requests or asky_bootstrap, nor write anywhere", async () => {
        const tables = (await dataTables()).map((r) => r[0]);
        assert.ok(tables.includes("auth.users") && tables.includes("pyxis.medicine") && tables.includes("requests.medicine_requests"), tables.join(" "));
        for (const t of tables) {
            const r = await pg.psql(`SELECT 1 FROM ${t} LIMIT 1`, { as: monitor });
            assert.notStrictEqual(r.code, 0, `asky_monitor read ${t}`);
            assert.match(r.stderr, /permission denied/, t);
        }
        const sequences = await pg.query("SELECT schemaname || '.' || sequencename FROM pg_sequences WHERE schemaname IN ('auth', 'pyxis', 'requests')");
        assert.ok(sequences.length > 0);
        for (const [s] of sequences) assert.match((await pg.psql(`SELECT last_value FROM ${s}`, { as: monitor })).stderr, /permission denied/, s);
        for (const sql of ["CREATE TABLE public.probe (x int)", "CREATE TEMP TABLE probe (x int)"]) {
            assert.match((await pg.psql(sql, { as: monitor })).stderr, /read-only transaction|permission denied/, sql);
        }
    });

    it("a grant made by hand is taken back on the next deploy (DATA-3: the SQL converges)", async () => {
        await pg.query("GRANT SELECT ON auth.users TO asky_monitor; GRANT USAGE ON SCHEMA auth TO asky_monitor; GRANT pg_read_all_data TO asky_monitor");
        assert.strictEqual((await pg.psql("SELECT count(*) FROM auth.users", { as: monitor })).code, 0, "the hand-made grant works before the deploy");
        await apply();
        assert.match((await pg.psql("SELECT count(*) FROM auth.users", { as: monitor })).stderr, /permission denied/);
        assert.deepStrictEqual(await pg.query("SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = 'asky_monitor'::regrole"), [["pg_monitor"]]);
    });

    it("postgres_exporter (the image's version) logged in as asky_monitor scrapes without an error, and the server logs no permission error", async () => {
        const port = await freePort();
        exporter = startManaged("postgres-exporter", exporterBinary("postgres-exporter"), [`--web.listen-address=127.0.0.1:${port}`, "--log.format=json"], {
            PATH: process.env.PATH,
            DATA_SOURCE_URI: `127.0.0.1:${pg.port}/${DB}?sslmode=disable`,
            DATA_SOURCE_USER: monitor.user,
            DATA_SOURCE_PASS: monitor.password,
        });
        const metrics = await waitFor("the exporter's metrics", async () => {
            const r = await get(port, "/metrics");
            return r.status === 200 && /^pg_up 1$/m.test(r.body) ? r.body : undefined;
        }, 30_000, () => exporter!.output());
        assert.match(metrics, /^pg_exporter_last_scrape_error 0$/m, exporter.output());
        assert.match(metrics, /^pg_stat_database_xact_commit\{datid="\d+",datname="asky"/m);
        assert.match(metrics, /^pg_database_size_bytes\{datname="asky"[,}]/m);
        assert.doesNotMatch(pg.logText(), /asky_monitor.*permission denied|permission denied.*asky_monitor/i);
        assert.doesNotMatch(exporter.output(), /permission denied/i);
        // Its log names the server, never the password it logged in with.
        assert.ok(!exporter.output().includes(monitor.password), "the exporter logs no password");
    });
});

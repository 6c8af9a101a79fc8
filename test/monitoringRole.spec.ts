import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { MONITORING_DATABASE_ROLE, renderDatabaseSql, userPasswordEnv, DATABASE_LOGIN_ROLES } from "../sql/render";
import { freePort } from "./support/nginx";
import { Managed, exporterBinary, get, startManaged, waitFor } from "./support/monitoring";
import { ALL_STATEMENT_LOGGING, Credentials, TestPostgres, run } from "./support/postgres";
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
        ...Object.fromEntries(DATABASE_LOGIN_ROLES.map((r) => [r.passwordEnv, `${r.passwordEnv.toLowerCase()}-pw`])),
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

/**
 * What asky_monitor (pg_monitor, so pg_read_all_stats) could see of the secrets the schema Job and the
 * superuser hook send: their statements carry passwords (ALTER ROLE … PASSWORD, crypt()), and
 * pg_stat_activity shows a session's current and last statement text to pg_read_all_stats. A poller
 * logged in as asky_monitor watches pg_stat_activity every 20 ms through a whole bootstrap (bcrypt cost
 * 12: each seeded user's hash keeps its statement running a few hundred milliseconds) and a hook run.
 */
describe("no secret of the schema Job or the superuser hook is visible to asky_monitor in pg_stat_activity, nor in the server log", function () {
    this.timeout(180_000);
    const DB = "asky";
    let pg: TestPostgres;
    const users = stackSettings("prod").database.users;
    const secrets: Record<string, string> = {
        ...Object.fromEntries(DATABASE_LOGIN_ROLES.map((r) => [r.passwordEnv, `Pw${r.passwordEnv.slice(5, 9)}${Math.random().toString(36).slice(2, 12)}`])),
        ...Object.fromEntries(users.map((u) => [userPasswordEnv(u.email), `Seed${u.role}${Math.random().toString(36).slice(2, 12)}`])),
    };
    const monitor = (): Credentials => ({ user: MONITORING_DATABASE_ROLE.role, password: secrets[MONITORING_DATABASE_ROLE.passwordEnv] });

    before(async () => {
        // Every way the server can write a statement into its log, on: the Job's session must turn each off before a secret.
        pg = await TestPostgres.start({
            database: DB,
            serverSettings: ALL_STATEMENT_LOGGING,
        });
        // The monitoring role exists from a first deploy; the poller then watches a second, full one.
        const file = path.join(pg.workDir, "bootstrap.sql");
        fs.writeFileSync(file, renderDatabaseSql({ databaseName: DB, users, bcryptCost: 10 }));
        const r = await pg.psqlFile(file, { env: secrets });
        assert.strictEqual(r.code, 0, r.stderr);
    });
    after(async () => {
        await pg?.stop();
    });

    /** Runs `work` while asky_monitor polls pg_stat_activity; returns every distinct query text it saw of other sessions. */
    async function watchActivity(work: () => Promise<unknown>): Promise<string[]> {
        const poll = "SELECT coalesce(string_agg(state || ': ' || query, E'\\n'), '') FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'";
        const script = `\\pset format unaligned\n\\pset tuples_only on\nSELECT 'poller up';\n${poll} \\watch 0.02\n`;
        const poller = spawn(path.join(pg.binDir, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1"], { env: pg.connectionEnv(DB, monitor()), stdio: ["pipe", "pipe", "pipe"] });
        let out = "";
        poller.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
        poller.stdin.end(script);
        await waitFor("the poller", async () => (out.includes("poller up") ? true : undefined), 10_000);
        try {
            await work();
        } finally {
            poller.kill("SIGINT");
            await new Promise((resolve) => poller.once("close", resolve));
        }
        return [...new Set(out.split("\n").filter((l) => l !== "" && l !== "poller up"))];
    }

    it("SEC-1 a full bootstrap (service roles, the monitoring role, seeded users at bcrypt cost 12) shows asky_monitor no password, and its session only as disabled", async () => {
        const file = path.join(pg.workDir, "bootstrap-12.sql");
        fs.writeFileSync(file, renderDatabaseSql({ databaseName: DB, users, bcryptCost: 12 }));
        const logBefore = pg.logText().length;
        let result: { code: number; stderr: string } = { code: -1, stderr: "" };
        const seen = await watchActivity(async () => (result = await pg.psqlFile(file, { env: secrets })));
        assert.strictEqual(result.code, 0, result.stderr);
        // The poller really watched the Job's session: it saw it, with its statement tracking off.
        assert.ok(seen.some((l) => /^disabled: $/.test(l)), `the Job's session was never seen (as disabled):\n${seen.join("\n")}`);
        for (const [name, value] of Object.entries(secrets)) {
            const hit = seen.find((l) => l.includes(value));
            assert.strictEqual(hit, undefined, `asky_monitor saw ${name} in pg_stat_activity: ${hit}`);
        }
        assert.ok(!seen.some((l) => /PASSWORD|crypt\(|asky_seed_user\(|asky_secret\(/i.test(l)), `a statement carrying a secret was visible:\n${seen.join("\n")}`);
        const log = pg.logText().slice(logBefore);
        assert.match(log, /statement: SET track_activities/, "statement logging is on (the Job's first statement was logged)");
        for (const [name, value] of Object.entries(secrets)) assert.ok(!log.includes(value), `the server log holds ${name}`);
    });

    it("SEC-1 the superuser hook's ALTER ROLE … PASSWORD is not visible to asky_monitor either", async () => {
        const rotated = "Hook" + Math.random().toString(36).slice(2, 14);
        const script = path.join(__dirname, "..", "sql", "sync-superuser-password.sh");
        let result: { code: number; stdout: string; stderr: string } = { code: -1, stdout: "", stderr: "" };
        const seen = await watchActivity(async () => {
            // Another session holds the superuser's pg_authid row for 1.5 s: the hook's ALTER ROLE waits on it, visibly active.
            const holder = pg.psql(`BEGIN; ALTER ROLE ${pg.superuser.user} CONNECTION LIMIT -1; SELECT pg_sleep(1.5); COMMIT;`);
            await new Promise((resolve) => setTimeout(resolve, 200));
            result = await run("/bin/sh", [script], { env: { ...pg.connectionEnv("postgres"), POSTGRES_USER: pg.superuser.user, POSTGRES_PASSWORD: rotated } });
            assert.strictEqual((await holder).code, 0);
        });
        assert.strictEqual(result.code, 0, result.stderr);
        assert.match(result.stdout, /superuser password synchronised/);
        pg.superuser.password = rotated;
        assert.ok(seen.some((l) => /^disabled: $/.test(l)), `the hook's waiting session was never seen (as disabled):\n${seen.join("\n")}`);
        assert.ok(!seen.some((l) => l.includes(rotated) || /PASSWORD/i.test(l)), `asky_monitor saw the hook's password:\n${seen.join("\n")}`);
    });
});

/**
 * sql/sync-superuser-password.sh, the postgres container's postStart hook, on a real PostgreSQL:
 * a data directory whose superuser password no longer matches the Secret is brought back in step.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { superuserSyncScript } from "../sql/render";
import { ALL_STATEMENT_LOGGING, PsqlResult, TestPostgres, run } from "./support/postgres";

const SCRIPT = path.join(__dirname, "..", "sql", "sync-superuser-password.sh");

function runHook(env: NodeJS.ProcessEnv): Promise<PsqlResult> {
    return run("/bin/sh", [SCRIPT], { env });
}

describe("superuser password sync (sql/sync-superuser-password.sh) on a real PostgreSQL", () => {
    let pg: TestPostgres;
    before(async () => { pg = await TestPostgres.start({ database: "asky_sync_test" }); });
    after(async () => { await pg?.stop(); });

    it("SEC-4 sets the superuser's password from POSTGRES_PASSWORD as a SCRAM verifier; the old one stops working", async () => {
        const old = { ...pg.superuser };
        const rotated = "rotated-" + Date.now().toString(36);
        // In the pod the hook uses the local socket with peer authentication; here TCP with the old password.
        const result = await runHook({ ...pg.connectionEnv("postgres"), POSTGRES_USER: old.user, POSTGRES_PASSWORD: rotated });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /superuser password synchronised/);
        const fresh = { user: old.user, password: rotated };
        assert.equal(await pg.scalar("SELECT current_user", { as: fresh }), old.user);
        const refused = await pg.psql("SELECT 1", { as: old });
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /password authentication failed/);
        assert.match(await pg.scalar(`SELECT rolpassword FROM pg_authid WHERE rolname = '${old.user}'`, { as: fresh }), /^SCRAM-SHA-256\$/);
        pg.superuser.password = rotated;
    });

    it("exits 0 (never kills the container) and says so when the server does not answer", async () => {
        const result = await runHook({ ...pg.connectionEnv("postgres"), PGPORT: "1", POSTGRES_USER: "postgres", POSTGRES_PASSWORD: "x", SYNC_TRIES: "1" });
        assert.equal(result.code, 0);
        assert.match(result.stderr, /could not synchronise the superuser password after 1 tries/);
    });

    it("SEC-1 keeps the password off every command line: only \\getenv reads it", () => {
        const code = superuserSyncScript().split("\n").filter((l) => !/^\s*#/.test(l));
        const uses = code.filter((l) => l.includes("POSTGRES_PASSWORD"));
        assert.deepEqual(uses.map((l) => l.trim()), ['if printf \'%s\\n\' "\\\\getenv pw POSTGRES_PASSWORD" \\']);
        assert.ok(!code.some((l) => /\$POSTGRES_PASSWORD|\$\{POSTGRES_PASSWORD|-v\s+pw=|PASSWORD\s+'/.test(l)));
    });
});

describe("superuser password sync with statement logging on (log_statement = 'all')", () => {
    let pg: TestPostgres;
    before(async () => {
        pg = await TestPostgres.start({
            database: "asky_sync_log_test",
            serverSettings: ALL_STATEMENT_LOGGING,
        });
    });
    after(async () => { await pg?.stop(); });

    it("SEC-1 leaves neither the password nor its SCRAM verifier in the server log", async () => {
        const rotated = "Rotated" + Date.now().toString(36) + "Pw42";
        const before = pg.logText().length;
        const result = await runHook({ ...pg.connectionEnv("postgres"), POSTGRES_USER: pg.superuser.user, POSTGRES_PASSWORD: rotated });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /superuser password synchronised/);
        pg.superuser.password = rotated;
        const verifier = await pg.scalar(`SELECT rolpassword FROM pg_authid WHERE rolname = '${pg.superuser.user}'`);
        const [, , salt, storedKey, serverKey] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier) ?? [];
        assert.ok(salt && storedKey && serverKey, verifier);
        const log = pg.logText().slice(before);
        for (const [what, secret] of [["password", rotated], ["salt", salt], ["StoredKey", storedKey], ["ServerKey", serverKey]]) {
            assert.ok(!log.includes(secret), `the server log holds the ${what}`);
        }
        assert.ok(!/ALTER ROLE/i.test(log), "the ALTER ROLE statement was logged");
        // The hook's own session was logged (logging really is on) until it turned logging off.
        assert.match(log, /statement: SET /);
    });
});

/**
 * A throwaway PostgreSQL cluster for tests: initdb into a temp dir (SCRAM auth, generated
 * superuser password), started on a free loopback port, stopped and deleted by stop().
 * As root (CI, containers) the server binaries run as the `postgres` system user, because
 * initdb and postgres refuse to run as root. No PostgreSQL installed is an error, not a skip.
 */
import { spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export interface PsqlResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface Credentials {
    user: string;
    password: string;
}

export interface PsqlOptions {
    /** Database to connect to; defaults to the cluster's default test database. */
    database?: string;
    /** Role to log in as; defaults to the superuser. */
    as?: Credentials;
    /** Extra environment for psql (e.g. secrets read with \getenv, PGOPTIONS). */
    env?: Record<string, string>;
    /** Extra psql arguments placed before the command/file. */
    args?: string[];
}

/** Directory holding initdb, pg_ctl, psql, pg_dump and pg_restore: $PG_BIN, else the highest /usr/lib/postgresql/N/bin, else `pg_config --bindir`. */
export function postgresBinDir(): string {
    const candidates: string[] = [];
    if (process.env.PG_BIN) {
        candidates.push(process.env.PG_BIN);
    }
    const debianRoot = "/usr/lib/postgresql";
    if (fs.existsSync(debianRoot)) {
        const versions = fs
            .readdirSync(debianRoot)
            .filter((v) => /^\d+$/.test(v))
            .sort((a, b) => Number(b) - Number(a));
        candidates.push(...versions.map((v) => path.join(debianRoot, v, "bin")));
    }
    const pgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
    if (pgConfig.status === 0) {
        candidates.push(pgConfig.stdout.trim());
    }
    const found = candidates.find((dir) => ["initdb", "pg_ctl", "postgres", "psql"].every((b) => fs.existsSync(path.join(dir, b))));
    if (!found) {
        throw new Error(
            `PostgreSQL server binaries not found (looked in: ${candidates.join(", ") || "nothing"}). ` +
                "Install them (Debian: apt-get install postgresql) or set PG_BIN; these tests need a real server.",
        );
    }
    return found;
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

/** Runs a command to completion and collects its output; never rejects on a non-zero exit. */
export function run(command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; input?: string }): Promise<PsqlResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        if (options.input !== undefined) child.stdin!.end(options.input);
    });
}

/** A minimal environment: nothing from the caller's PG* variables or psqlrc leaks into a test. */
function baseEnv(binDir: string): NodeJS.ProcessEnv {
    return {
        PATH: `${binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        LANG: "C.UTF-8",
        LC_ALL: "C.UTF-8",
        TZ: "UTC",
        PGSSLMODE: "disable",
        PGCONNECT_TIMEOUT: "10",
    };
}

/** Clusters not yet stopped: killed if the test process exits without running after(). */
const live = new Set<TestPostgres>();
process.once("exit", () => {
    for (const pg of live) {
        pg.stopSync();
    }
});

/** Every way the server can write a statement's text into its log, switched on: for tests that a secret never gets there. */
export const ALL_STATEMENT_LOGGING: Readonly<Record<string, string>> = {
    log_statement: "all",
    log_min_duration_statement: "0",
    log_min_duration_sample: "0",
    log_statement_sample_rate: "1",
    log_transaction_sample_rate: "1",
    log_min_error_statement: "debug5",
    debug_print_parse: "on",
};

export class TestPostgres {
    readonly binDir: string;
    readonly host = "127.0.0.1";
    readonly superuser: Credentials;
    /** Database created at start (name chosen by the caller). */
    readonly database: string;
    private dir = "";
    private port_ = 0;
    private started = false;

    private constructor(binDir: string, database: string) {
        this.binDir = binDir;
        this.database = database;
        this.superuser = { user: "asky_test_admin", password: randomBytes(18).toString("base64url") };
    }

    get port(): number {
        return this.port_;
    }

    /** Temp directory of this cluster (owned by the server user); tests may put files in `${dir}/work`. */
    get workDir(): string {
        return path.join(this.dir, "work");
    }

    /**
     * Creates and starts a cluster. `serverSettings` become `-c name=value` options of the server.
     * Cleans up after itself if it fails; otherwise call stop() in after().
     */
    static async start(options: { database: string; serverSettings?: Record<string, string> }): Promise<TestPostgres> {
        const pg = new TestPostgres(postgresBinDir(), options.database);
        try {
            await pg.init(options.serverSettings ?? {});
        } catch (error) {
            await pg.stop().catch(() => undefined);
            throw error;
        }
        return pg;
    }

    private asServerUser(binary: string, args: string[]): [string, string[]] {
        const full = path.join(this.binDir, binary);
        if (process.getuid && process.getuid() === 0) {
            return ["runuser", ["-u", "postgres", "--", full, ...args]];
        }
        return [full, args];
    }

    private async server(binary: string, args: string[]): Promise<PsqlResult> {
        const [command, argv] = this.asServerUser(binary, args);
        return run(command, argv, { env: baseEnv(this.binDir), cwd: this.dir });
    }

    private async init(serverSettings: Record<string, string>): Promise<void> {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-pg-"));
        const dataDir = path.join(this.dir, "data");
        const socketDir = path.join(this.dir, "socket");
        const pwfile = path.join(this.dir, "pwfile");
        fs.mkdirSync(socketDir, { mode: 0o700 });
        fs.mkdirSync(this.workDir, { mode: 0o700 });
        fs.writeFileSync(pwfile, `${this.superuser.password}\n`, { mode: 0o600 });
        if (process.getuid && process.getuid() === 0) {
            const ids = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
            const gids = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
            if (ids.status !== 0 || gids.status !== 0) {
                throw new Error("running as root but there is no `postgres` system user to run the server as");
            }
            const uid = Number(ids.stdout.trim());
            const gid = Number(gids.stdout.trim());
            for (const p of [this.dir, socketDir, this.workDir, pwfile]) {
                fs.chownSync(p, uid, gid);
            }
        }

        const initdb = await this.server("initdb", [
            "--pgdata", dataDir,
            "--username", this.superuser.user,
            "--pwfile", pwfile,
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
        ]);
        fs.rmSync(pwfile, { force: true });
        if (initdb.code !== 0) {
            throw new Error(`initdb failed (${initdb.code}):\n${initdb.stderr}${initdb.stdout}`);
        }

        this.port_ = await freePort();
        const settings: Record<string, string> = {
            listen_addresses: this.host,
            port: String(this.port_),
            unix_socket_directories: socketDir,
            fsync: "off",
            synchronous_commit: "off",
            full_page_writes: "off",
            max_connections: "30",
            ...serverSettings,
        };
        const serverOptions = Object.entries(settings)
            .map(([k, v]) => `-c ${k}=${v}`)
            .join(" ");
        const start = await this.server("pg_ctl", ["start", "--wait", "--timeout", "60", "--pgdata", dataDir, "--log", path.join(this.dir, "server.log"), "--options", serverOptions]);
        if (start.code !== 0) {
            throw new Error(`pg_ctl start failed (${start.code}):\n${start.stderr}${start.stdout}\n${this.serverLog()}`);
        }
        this.started = true;
        live.add(this);
        await this.createDatabase(this.database);
    }

    /** Last lines of the server log, for failure messages. */
    serverLog(): string {
        try {
            return fs.readFileSync(path.join(this.dir, "server.log"), "utf8").split("\n").slice(-40).join("\n");
        } catch {
            return "";
        }
    }

    /** The whole server log so far (stderr of the server: every line it logged). */
    logText(): string {
        return fs.readFileSync(path.join(this.dir, "server.log"), "utf8");
    }

    /** libpq environment for connecting over TCP as `as` (default: the superuser). */
    connectionEnv(database = this.database, as: Credentials = this.superuser): NodeJS.ProcessEnv {
        return {
            ...baseEnv(this.binDir),
            PGHOST: this.host,
            PGPORT: String(this.port_),
            PGUSER: as.user,
            PGPASSWORD: as.password,
            PGDATABASE: database,
        };
    }

    /** Runs psql (-X, ON_ERROR_STOP, unaligned tuples-only) with `sql` as -c; never throws on SQL errors. */
    psql(sql: string, options: PsqlOptions = {}): Promise<PsqlResult> {
        return this.psqlArgs(["-c", sql], options);
    }

    /** Runs a psql script file the way the bootstrap Job does: psql -v ON_ERROR_STOP=1 --no-psqlrc -f FILE. */
    psqlFile(file: string, options: PsqlOptions = {}): Promise<PsqlResult> {
        return run(path.join(this.binDir, "psql"), ["-v", "ON_ERROR_STOP=1", "--no-psqlrc", ...(options.args ?? []), "-f", file], {
            env: { ...this.connectionEnv(options.database, options.as), ...(options.env ?? {}) },
        });
    }

    private psqlArgs(tail: string[], options: PsqlOptions): Promise<PsqlResult> {
        return run(path.join(this.binDir, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "\t", ...(options.args ?? []), ...tail], {
            env: { ...this.connectionEnv(options.database, options.as), ...(options.env ?? {}) },
        });
    }

    /** Runs SQL that must succeed and returns its rows (tab-separated columns). */
    async query(sql: string, options: PsqlOptions = {}): Promise<string[][]> {
        const result = await this.psql(sql, options);
        if (result.code !== 0) {
            throw new Error(`psql failed (${result.code}) as ${options.as?.user ?? this.superuser.user}: ${result.stderr.trim()}\nSQL: ${sql}`);
        }
        return result.stdout
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => line.split("\t"));
    }

    /** Single value of a query that must succeed. */
    async scalar(sql: string, options: PsqlOptions = {}): Promise<string> {
        const rows = await this.query(sql, options);
        if (rows.length !== 1 || rows[0].length !== 1) {
            throw new Error(`expected one value from ${sql}, got ${JSON.stringify(rows)}`);
        }
        return rows[0][0];
    }

    async createDatabase(name: string): Promise<void> {
        await this.query(`CREATE DATABASE ${quoteIdent(name)}`, { database: "postgres" });
    }

    /** Stops the server and deletes every file of the cluster. Safe to call twice or after a failed start. */
    async stop(): Promise<void> {
        live.delete(this);
        if (this.started) {
            this.started = false;
            const result = await this.server("pg_ctl", ["stop", "--wait", "--mode", "immediate", "--pgdata", path.join(this.dir, "data")]);
            if (result.code !== 0) {
                throw new Error(`pg_ctl stop failed: ${result.stderr}`);
            }
        }
        if (this.dir) {
            fs.rmSync(this.dir, { recursive: true, force: true });
            this.dir = "";
        }
    }

    /** Last-resort synchronous cleanup for process exit. */
    stopSync(): void {
        if (this.started) {
            this.started = false;
            const [command, argv] = this.asServerUser("pg_ctl", ["stop", "--wait", "--mode", "immediate", "--pgdata", path.join(this.dir, "data")]);
            spawnSync(command, argv, { env: baseEnv(this.binDir), cwd: this.dir, stdio: "ignore" });
        }
        if (this.dir) {
            fs.rmSync(this.dir, { recursive: true, force: true });
            this.dir = "";
        }
    }
}

export function quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}

/**
 * sql/backup.sh (the file the backup CronJob runs) against a real PostgreSQL, under /bin/sh,
 * followed by a restore round trip (DATA-2).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { BACKUP_DATABASE_ROLE, backupScript, DATABASE_LOGIN_ROLES, renderDatabaseSql, serviceLoginRole, userPasswordEnv } from "../sql/render";
import { AskyBackup } from "../components";
import { PsqlResult, TestPostgres, run } from "./support/postgres";
import { find, renderComponent } from "./support/render";
import { renderStack, stackConfig } from "../scripts/render";
import { checkPolicy, formatViolations } from "../checklist";
import { toolchainBin } from "./support/monitoring";

const SCRIPT = path.join(__dirname, "..", "sql", "backup.sh");
const DB = "asky_backup_test";
const DAY = 24 * 60 * 60;

function runBackup(env: NodeJS.ProcessEnv): Promise<PsqlResult> {
    return run("/bin/sh", [SCRIPT], { env });
}

function ageFile(file: string, days: number): void {
    fs.writeFileSync(file, "old");
    const when = Date.now() / 1000 - days * DAY;
    fs.utimesSync(file, when, when);
}

describe("database backup (sql/backup.sh) on a real PostgreSQL", () => {
    let pg: TestPostgres;
    let backupDir: string;
    let dumpFile = "";
    let seededHash = "";
    const backupRole = { user: BACKUP_DATABASE_ROLE.role, password: `${BACKUP_DATABASE_ROLE.passwordEnv.toLowerCase()}-secret` };
    /** The environment the CronJob's container gets: the backup role, never the superuser. */
    const jobEnv = (extra: Record<string, string> = {}) => ({ ...pg.connectionEnv(DB, backupRole), TMPDIR: pg.workDir, ...extra });
    let gnupg = "";
    let publicKey = "";

    before(async () => {
        pg = await TestPostgres.start({ database: DB });
        const users = [{ name: "Admin", email: "admin@asky.local", phoneNumber: "+5511990010001", role: "admin" as const }];
        const env: Record<string, string> = { [userPasswordEnv("admin@asky.local")]: "admin-password" };
        for (const { passwordEnv } of DATABASE_LOGIN_ROLES) {
            env[passwordEnv] = `${passwordEnv.toLowerCase()}-secret`;
        }
        const file = path.join(pg.workDir, "bootstrap.sql");
        fs.writeFileSync(file, renderDatabaseSql({ databaseName: DB, users, bcryptCost: 10 }));
        const applied = await pg.psqlFile(file, { env });
        assert.equal(applied.code, 0, applied.stderr);
        // A row written by a service before the dump must survive the round trip.
        await pg.query("INSERT INTO requests.medicine_requests (dispenser_id, requested_by, medicine_id, batch_number) VALUES (2, 1, 10, 'LOTE-42')");
        seededHash = await pg.scalar("SELECT password_hash FROM auth.users WHERE email = 'admin@asky.local'");
        backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-backups-"));
        // The restorer's key pair (real gpg): the private key stays here, the public one is what the cluster gets.
        gnupg = fs.mkdtempSync(path.join(os.tmpdir(), "asky-gnupg-"));
        const gpg = (...a: string[]) => spawnSync("gpg", ["--batch", "--homedir", gnupg, "--passphrase", "", ...a], { encoding: "utf8" });
        assert.strictEqual(gpg("--quick-gen-key", "Asky restore test <restore@asky.test>", "ed25519", "cert", "never").status, 0);
        const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg("--with-colons", "--list-keys").stdout)![1];
        assert.strictEqual(gpg("--quick-add-key", fpr, "cv25519", "encr", "never").status, 0);
        publicKey = path.join(backupDir, "..", `${path.basename(backupDir)}-recipient.asc`);
        fs.writeFileSync(publicKey, gpg("--armor", "--export", fpr).stdout);
    });

    after(async () => {
        if (backupDir) {
            fs.rmSync(backupDir, { recursive: true, force: true });
            fs.rmSync(publicKey, { force: true });
        }
        if (gnupg) fs.rmSync(gnupg, { recursive: true, force: true });
        await pg?.stop();
    });

    it("DATA-2 backupScript() is sql/backup.sh, a POSIX sh script with set -eu", () => {
        const text = backupScript();
        assert.equal(text, fs.readFileSync(SCRIPT, "utf8"));
        assert.match(text, /^#!\/bin\/sh\n/);
        assert.match(text, /^set -eu$/m);
        assert.match(text, /pg_dump --format=custom/);
    });

    it("DATA-2 writes a custom-format dump to BACKUP_DIR and deletes only dumps older than BACKUP_RETENTION_DAYS", async () => {
        const oldDump = path.join(backupDir, `${DB}-20200101T000000Z.dump`);
        const recentDump = path.join(backupDir, `${DB}-20240101T000000Z.dump`);
        const unrelated = path.join(backupDir, "notes.txt");
        ageFile(oldDump, 30);
        ageFile(recentDump, 2);
        ageFile(unrelated, 30);

        const result = await runBackup(jobEnv({ BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: "7" }));
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /as asky_backup to .*not encrypted/);

        const files = fs.readdirSync(backupDir).sort();
        const fresh = files.filter((f) => new RegExp(`^${DB}-\\d{8}T\\d{6}Z\\.dump$`).test(f) && !f.startsWith(`${DB}-202001`) && !f.startsWith(`${DB}-202401`));
        assert.equal(fresh.length, 1, `no new dump among ${files.join(", ")}`);
        dumpFile = path.join(backupDir, fresh[0]);
        assert.equal(fs.readFileSync(dumpFile).subarray(0, 5).toString("latin1"), "PGDMP", "not a pg_dump custom-format archive");
        assert.ok(!fs.existsSync(oldDump), "a 30-day-old dump survived a 7-day retention");
        assert.ok(fs.existsSync(recentDump), "a 2-day-old dump was deleted");
        assert.ok(fs.existsSync(unrelated), "a file that is not a dump was deleted");
        assert.deepEqual(files.filter((f) => f.endsWith(".partial")), [], "a temporary file was left behind");
        assert.match(result.stdout, new RegExp(`wrote ${dumpFile.replace(/[.]/g, "\\.")}`));
        assert.ok(result.stdout.includes(oldDump), "the deleted dump is not reported");
    });

    it("DATA-2 the dump restores into a fresh database with the seed data and a row inserted before the dump", async () => {
        assert.ok(dumpFile, "the previous test made no dump");
        await pg.createDatabase("asky_restored");
        const restore = await run(path.join(pg.binDir, "pg_restore"), ["--exit-on-error", "--dbname", "asky_restored", dumpFile], { env: pg.connectionEnv("asky_restored") });
        assert.equal(restore.code, 0, restore.stderr);

        const db = { database: "asky_restored" };
        assert.equal(await pg.scalar("SELECT string_agg(code, ',' ORDER BY code) FROM pyxis.dispenser", db), "A1B2C,D3E4F,G5H6I,J7K8L,M9N0O");
        assert.equal(await pg.scalar("SELECT count(*) FROM pyxis.medicine", db), "10");
        assert.equal(await pg.scalar("SELECT count(*) FROM pyxis.dispenser_medicine", db), "12");
        assert.equal(await pg.scalar("SELECT string_agg(description, ',' ORDER BY id) FROM pyxis.assistance", db), "Manutenção,Dúvidas,Divergência");
        assert.equal(await pg.scalar("SELECT batch_number || ' ' || feedback || ' ' || status FROM requests.medicine_requests", db), "LOTE-42 Nenhum feedback disponível. pending");
        assert.equal(await pg.scalar("SELECT password_hash FROM auth.users WHERE email = 'admin@asky.local'", db), seededHash);
        // Grants travel with the dump: the service role still reaches its schema in the restored copy.
        // (Roles are the server's, not the dump's: the login the DATABASE_URL names is the one the schema Job made.)
        await pg.query(`GRANT CONNECT ON DATABASE asky_restored TO asky_requests`, db);
        const login = { user: serviceLoginRole("asky_requests", "asky_requests_db_password-secret"), password: "asky_requests_db_password-secret" };
        assert.equal(await pg.scalar("SELECT count(*) FROM requests.medicine_requests", { ...db, as: login }), "1");
    });

    it("the backup role (issue 22 item 5): pg_read_all_data only, no superuser, writes nothing", async () => {
        const [attrs] = await pg.query("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolconnlimit FROM pg_roles WHERE rolname = 'asky_backup'");
        assert.deepEqual(attrs, ["f", "f", "f", "f", "f", "t", "2"]);
        assert.deepEqual(await pg.query("SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = 'asky_backup'::regrole"), [["pg_read_all_data"]]);
        assert.equal(await pg.scalar("SELECT count(*) > 0 FROM auth.users", { as: backupRole }), "t", "it reads every schema, auth included");
        for (const sql of ["DELETE FROM requests.medicine_requests", "UPDATE auth.users SET role = 'admin'", "CREATE TABLE public.x (i int)", "ALTER ROLE asky_backup SUPERUSER"]) {
            const r = await pg.psql(sql, { as: backupRole });
            assert.notEqual(r.code, 0, sql);
            assert.match(r.stderr, /read-only transaction|permission denied|must be superuser/, sql);
        }
    });

    it("DATA-2 with BACKUP_RECIPIENT_FILE the dump is encrypted as it is written: no plaintext on disk, and only the private key's holder restores it (issue 22 item 5)", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-encrypted-"));
        try {
            const result = await runBackup(jobEnv({ BACKUP_DIR: dir, BACKUP_RETENTION_DAYS: "7", BACKUP_RECIPIENT_FILE: publicKey }));
            assert.equal(result.code, 0, result.stderr);
            const name = fs.readFileSync(path.join(dir, ".last"), "utf8").trim();
            assert.match(name, new RegExp(`^${DB}-\\d{8}T\\d{6}Z\\.dump\\.gpg$`));
            assert.deepEqual(fs.readdirSync(dir).sort(), [".last", name], "no plaintext or partial file left");
            const file = path.join(dir, name);
            const bytes = fs.readFileSync(file);
            assert.ok(!bytes.includes("PGDMP") && !bytes.includes("LOTE-42") && !bytes.includes(seededHash) && !bytes.includes("admin@asky.local"), "the file holds no plaintext of the dump");
            // Without the private key it cannot be read ...
            const stranger = fs.mkdtempSync(path.join(os.tmpdir(), "asky-gnupg-none-"));
            const refused = spawnSync("gpg", ["--batch", "--homedir", stranger, "--decrypt", file], { encoding: "latin1" });
            fs.rmSync(stranger, { recursive: true, force: true });
            assert.notEqual(refused.status, 0);
            assert.match(refused.stderr, /No secret key/);
            // ... with it, the README's restore: gpg --decrypt FILE | pg_restore (here into a fresh database).
            await pg.createDatabase("asky_decrypted");
            const restore = await run("/bin/sh", ["-c", `gpg --batch --quiet --homedir '${gnupg}' --decrypt '${file}' | pg_restore --no-owner --exit-on-error --dbname asky_decrypted`], { env: { ...pg.connectionEnv("asky_decrypted"), GNUPGHOME: gnupg } });
            assert.equal(restore.code, 0, restore.stderr);
            const db = { database: "asky_decrypted" };
            assert.equal(await pg.scalar("SELECT batch_number FROM requests.medicine_requests", db), "LOTE-42");
            assert.equal(await pg.scalar("SELECT password_hash FROM auth.users WHERE email = 'admin@asky.local'", db), seededHash);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("DATA-2 the encrypted dump is copied off the cluster to a real S3 server (moto) by the upload container's rclone, and the README's restore gets it back (issue 22 item 5)", async function () {
        this.timeout(120_000);
        // npm test installs it beside the toolchain it builds (ASKY_TOOLCHAIN_DIR, or .toolchain/).
        const moto = process.env.ASKY_MOTO_SERVER ?? path.join(path.dirname(toolchainBin()), "moto-5.2.5", "bin", "moto_server");
        assert.ok(fs.existsSync(moto), `no S3 server at ${moto}: npm test installs moto[server] (scripts/test.sh), or set ASKY_MOTO_SERVER`);
        assert.strictEqual(spawnSync("rclone", ["version"]).status, 0, "rclone (Debian's package) is needed");
        const port = await freePort();
        const server = spawn(moto, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, HOME: pg.workDir } });
        let serverLog = "";
        server.stdout!.on("data", (d) => (serverLog += d));
        server.stderr!.on("data", (d) => (serverLog += d));
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-offsite-"));
        try {
            // The upload container as rendered for prod with an off-cluster copy, its endpoint pointed at the local server.
            const { objects } = await renderStack("prod", { "asky:backup": { ...JSON.parse(stackConfig("prod").config["asky:backup"]), offsite: OFFSITE } });
            const pod = find(objects, "CronJob", "postgres-backup").spec.jobTemplate.spec.template.spec;
            const upload = pod.containers.find((c: any) => c.name === "upload");
            const endpoint = `http://127.0.0.1:${port}`;
            const env: Record<string, string> = { PATH: process.env.PATH!, HOME: dir };
            for (const e of upload.env) {
                if (e.valueFrom?.secretKeyRef) env[e.name] = { accessKeyId: "AKIATESTBACKUP00001", secretAccessKey: "test-secret-key-0000000000000000" }[e.valueFrom.secretKeyRef.key as string]!;
                else env[e.name] = e.value;
            }
            env.RCLONE_CONFIG_OFFSITE_ENDPOINT = endpoint;
            env.RCLONE_CONFIG = path.join(dir, "rclone.conf");
            env.RCLONE_CACHE_DIR = path.join(dir, "cache");
            env.BACKUP_DIR = path.join(dir, "backups");
            fs.mkdirSync(env.BACKUP_DIR);
            await waitForPort(port, () => serverLog);
            assert.strictEqual(spawnSync("rclone", ["mkdir", `offsite:${OFFSITE.bucket}`], { env, encoding: "utf8" }).status, 0, "the bucket exists (the organisation's)");

            const dumped = await runBackup(jobEnv({ BACKUP_DIR: env.BACKUP_DIR, BACKUP_RETENTION_DAYS: "7", BACKUP_RECIPIENT_FILE: publicKey }));
            assert.equal(dumped.code, 0, dumped.stderr);
            const script = path.join(dir, "upload.sh");
            fs.writeFileSync(script, find(objects, "ConfigMap", "postgres-backup-script").data["upload.sh"]);
            const uploaded = await run("/bin/sh", [script], { env });
            assert.equal(uploaded.code, 0, `${uploaded.stdout}${uploaded.stderr}`);
            const name = fs.readFileSync(path.join(env.BACKUP_DIR, ".last"), "utf8").trim();
            assert.match(uploaded.stdout, new RegExp(`copying ${name.replace(/\./g, "\\.")} to bucket ${OFFSITE.bucket} as asky-prod/`));
            // Never overwritten: a second copy of the same dump changes nothing and fails nothing.
            assert.equal((await run("/bin/sh", [script], { env })).code, 0);

            // The README's restore from the bucket: fetch, decrypt with the private key, pg_restore.
            const fetched = path.join(dir, "fetched.dump.gpg");
            assert.strictEqual(spawnSync("rclone", ["copyto", `offsite:${OFFSITE.bucket}/asky-prod/${name}`, fetched], { env, encoding: "utf8" }).status, 0);
            assert.ok(fs.readFileSync(fetched).equals(fs.readFileSync(path.join(env.BACKUP_DIR, name))), "the bucket holds the encrypted file, byte for byte");
            await pg.createDatabase("asky_from_s3");
            const restore = await run("/bin/sh", ["-c", `gpg --batch --quiet --homedir '${gnupg}' --decrypt '${fetched}' | pg_restore --no-owner --exit-on-error --dbname asky_from_s3`], { env: { ...pg.connectionEnv("asky_from_s3") } });
            assert.equal(restore.code, 0, restore.stderr);
            assert.equal(await pg.scalar("SELECT batch_number FROM requests.medicine_requests", { database: "asky_from_s3" }), "LOTE-42");
            // Without the organisation's Secret the copy fails loudly (the Job fails, AskyBackupJobFailed fires).
            const noKeys = await run("/bin/sh", [script], { env: { ...env, RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID: "" } });
            assert.equal(noKeys.code, 2);
            assert.match(noKeys.stderr, /no S3 credentials: create the Secret named in asky:backup\.offsite\.credentialsSecret/);
        } finally {
            server.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("DATA-2 refuses a recipient key it cannot read, before dumping anything", async () => {
        const result = await runBackup(jobEnv({ BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: "7", BACKUP_RECIPIENT_FILE: "/nonexistent/key.asc" }));
        assert.equal(result.code, 2);
        assert.match(result.stderr, /BACKUP_RECIPIENT_FILE \/nonexistent\/key\.asc is not a readable public key/);
    });

    it("DATA-2 fails without leaving a dump when the database cannot be reached", async () => {
        const before = fs.readdirSync(backupDir).sort();
        const result = await runBackup(jobEnv({ PGPASSWORD: "wrong", BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: "7" }));
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /password authentication failed/);
        assert.deepEqual(fs.readdirSync(backupDir).sort(), before);
    });

    it("DATA-2 refuses a retention that is not a whole number of days", async () => {
        const result = await runBackup(jobEnv({ BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: "7; rm -rf /" }));
        assert.equal(result.code, 2);
        assert.match(result.stderr, /BACKUP_RETENTION_DAYS must be a whole number/);
    });

    it("DATA-2 waits for a server that does not accept connections yet (a restart, a NetworkPolicy not yet programmed for the new pod), then dumps", async () => {
        // A port that refuses connections for 5 s, then forwards to the real server.
        const port = await freePort();
        const dir = fs.mkdtempSync(path.join(backupDir, "..", "late-"));
        const backup = runBackup(jobEnv({ PGHOST: "127.0.0.1", PGPORT: String(port), BACKUP_DIR: dir, BACKUP_RETENTION_DAYS: "7" }));
        await new Promise((r) => setTimeout(r, 5000));
        const proxy = net.createServer((client) => {
            const server = net.connect(Number(pg.connectionEnv(DB, backupRole).PGPORT), "127.0.0.1");
            client.pipe(server).pipe(client);
            client.on("error", () => server.destroy());
            server.on("error", () => client.destroy());
        }).listen(port, "127.0.0.1");
        try {
            const result = await backup;
            assert.equal(result.code, 0, result.stderr);
            assert.match(result.stdout, /waiting for 127\.0\.0\.1:\d+ to accept connections/);
            assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith(".dump")).length, 1);
        } finally {
            proxy.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("DATA-2 gives up after BACKUP_CONNECT_SECONDS, naming the server, and refuses a wait that is not a number", async () => {
        const port = await freePort();
        const result = await runBackup(jobEnv({ PGHOST: "127.0.0.1", PGPORT: String(port), BACKUP_DIR: backupDir, BACKUP_CONNECT_SECONDS: "2" }));
        assert.equal(result.code, 1);
        assert.match(result.stderr, new RegExp(`backup: 127\\.0\\.0\\.1:${port} did not accept connections within 2 s`));
        const bad = await runBackup(jobEnv({ BACKUP_DIR: backupDir, BACKUP_CONNECT_SECONDS: "soon" }));
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /BACKUP_CONNECT_SECONDS must be a whole number of seconds, got 'soon'/);
    });
});

/** An off-cluster copy as an organisation would configure it. */
const OFFSITE = {
    endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "asky-backups", prefix: "asky-prod/", region: "eu-west-1",
    credentialsSecret: "backup-s3-credentials", cidrs: ["52.95.128.0/21"], image: `rclone/rclone:1.68.2@sha256:${"c".repeat(64)}`,
};

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = srv.address() as net.AddressInfo;
            srv.close(() => resolve(port));
        }).on("error", reject);
    });
}

async function waitForPort(port: number, log: () => string): Promise<void> {
    for (let i = 0; i < 100; i++) {
        const ok = await new Promise<boolean>((resolve) => net.connect({ port, host: "127.0.0.1" }).on("connect", function (this: net.Socket) { this.destroy(); resolve(true); }).on("error", () => resolve(false)));
        if (ok) return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the S3 server did not listen on ${port}:\n${log()}`);
}

/** The example public key of the render overlay (its private key was never kept). */
const EXAMPLE_KEY: string = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "scripts", "render-overlays", "prod.yaml"), "utf8")).config["asky:backup"].encryption.publicKey;

/** components/backup.ts on its own, under mocks: the CronJob that runs the script above. */
describe("AskyBackup (components/backup.ts)", () => {
    const build = () => renderComponent(() => {
        new AskyBackup("b", {
            namespace: "asky", instance: "asky-test", image: "postgres:16.15-bookworm", databaseName: "asky",
            backupPassword: pulumi.secret("backup-pw"), protect: true,
            backup: { enabled: true, schedule: "15 2 * * *", retentionDays: 14, storageSize: "50Gi", claimName: "postgres-backup", encryption: { publicKey: EXAMPLE_KEY } },
        });
    });

    it("an off-cluster copy: the dump first (init container), then rclone to the bucket with the organisation's keys, egress only to its addresses on 443; the checklist holds (issue 22 item 5)", async () => {
        const { objects } = await renderStack("prod", { "asky:backup": { ...JSON.parse(stackConfig("prod").config["asky:backup"]), offsite: OFFSITE } });
        const pod = find(objects, "CronJob", "postgres-backup").spec.jobTemplate.spec.template.spec;
        assert.deepEqual(pod.initContainers.map((c: any) => c.name), ["pg-dump"]);
        assert.deepEqual(pod.containers.map((c: any) => c.name), ["upload"]);
        const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e]));
        assert.deepEqual(env.RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY.valueFrom, { secretKeyRef: { name: "backup-s3-credentials", key: "secretAccessKey", optional: true } });
        assert.equal(env.RCLONE_CONFIG_OFFSITE_ENDPOINT.value, OFFSITE.endpoint);
        assert.ok(pod.containers[0].volumeMounts.find((m: any) => m.name === "backups").readOnly, "the upload only reads the dumps");
        const egress = find(objects, "NetworkPolicy", "allow-postgres-backup").spec.egress;
        assert.deepEqual(egress.find((r: any) => r.to[0].ipBlock), { to: [{ ipBlock: { cidr: "52.95.128.0/21" } }], ports: [{ protocol: "TCP", port: 443 }] });
        const v = checkPolicy(objects as any, { stack: "prod", namespace: "asky" });
        assert.deepEqual(v, [], formatViolations(v));
        // Only encrypted dumps leave the cluster.
        await assert.rejects(renderStack("dev", { "asky:backup": { ...JSON.parse(stackConfig("dev").config["asky:backup"]), enabled: true, offsite: OFFSITE } }),
            /asky:backup\.offsite: copies dumps off the cluster, which only encrypted ones may leave: set asky:backup\.encryption\.publicKey too/);
    });

    it("DATA-2 runs sql/backup.sh on schedule, never twice at once, with history limits, a deadline and its own protected PVC", async () => {
        const { objects, resources } = await build();
        const cj = find(objects, "CronJob", "postgres-backup");
        assert.equal(cj.spec.schedule, "15 2 * * *");
        assert.equal(cj.spec.concurrencyPolicy, "Forbid");
        assert.equal(cj.spec.successfulJobsHistoryLimit, 3);
        assert.equal(cj.spec.failedJobsHistoryLimit, 3);
        assert.equal(cj.spec.startingDeadlineSeconds, 3600);
        const pod = cj.spec.jobTemplate.spec.template.spec;
        const c = pod.containers[0];
        assert.deepEqual(c.command, ["sh", "/scripts/backup.sh"]);
        assert.equal(find(objects, "ConfigMap", "postgres-backup-script").data["backup.sh"], backupScript());
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e]));
        assert.equal(env.BACKUP_RETENTION_DAYS.value, "14");
        // The backup role, never the superuser; its password from its own Secret.
        assert.equal(env.PGUSER.value, "asky_backup");
        assert.deepEqual(env.PGPASSWORD.valueFrom, { secretKeyRef: { name: "postgres-backup-credentials", key: "password" } });
        assert.ok(!JSON.stringify(cj).includes("postgres-superuser"));
        // Encrypted to the configured public key, mounted with the script.
        assert.equal(env.BACKUP_RECIPIENT_FILE.value, "/scripts/recipient.asc");
        assert.equal(find(objects, "ConfigMap", "postgres-backup-script").data["recipient.asc"], EXAMPLE_KEY);
        const volumes = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
        assert.deepEqual(volumes.backups.persistentVolumeClaim, { claimName: "postgres-backup" });
        const pvc = resources.find((r) => r.inputs.kind === "PersistentVolumeClaim")!;
        assert.ok(pvc.protect && pvc.retainOnDelete, "DATA-1: the dumps outlive a destroy too");
        assert.equal(pod.securityContext.runAsUser, 999);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    });
});

/**
 * sql/backup.sh (the file the backup CronJob runs) against a real PostgreSQL, under /bin/sh,
 * followed by a restore round trip (DATA-2).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupScript, MONITORING_DATABASE_ROLE, renderDatabaseSql, SERVICE_DATABASE_ROLES, userPasswordEnv } from "../sql/render";
import { AskyBackup } from "../components";
import { PsqlResult, TestPostgres, run } from "./support/postgres";
import { find, renderComponent } from "./support/render";

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

    before(async () => {
        pg = await TestPostgres.start({ database: DB });
        const users = [{ name: "Admin", email: "admin@asky.local", phoneNumber: "+5511990010001", role: "admin" as const }];
        const env: Record<string, string> = { [userPasswordEnv("admin@asky.local")]: "admin-password" };
        for (const { passwordEnv } of [...Object.values(SERVICE_DATABASE_ROLES), MONITORING_DATABASE_ROLE]) {
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
    });

    after(async () => {
        if (backupDir) {
            fs.rmSync(backupDir, { recursive: true, force: true });
        }
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

        const result = await runBackup({ ...pg.connectionEnv(), BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: "7" });
        assert.equal(result.code, 0, result.stderr);

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
        await pg.query(`GRANT CONNECT ON DATABASE asky_restored TO asky_requests`, db);
        assert.equal(await pg.scalar("SELECT count(*) FROM requests.medicine_requests", { ...db, as: { user: "asky_requests", password: "asky_requests_db_password-secret" } }), "1");
    });

    it("DATA-2 fails without leaving a dump when the database cannot be reached", async () => {
        const before = fs.readdirSync(backupDir).sort();
        const result = await runBackup({ ...pg.connectionEnv(), PGPASSWORD: "wrong", BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: "7" });
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /password authentication failed/);
        assert.deepEqual(fs.readdirSync(backupDir).sort(), before);
    });

    it("DATA-2 refuses a retention that is not a whole number of days", async () => {
        const result = await runBackup({ ...pg.connectionEnv(), BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: "7; rm -rf /" });
        assert.equal(result.code, 2);
        assert.match(result.stderr, /BACKUP_RETENTION_DAYS must be a whole number/);
    });
});

/** components/backup.ts on its own, under mocks: the CronJob that runs the script above. */
describe("AskyBackup (components/backup.ts)", () => {
    const build = () => renderComponent(() => {
        new AskyBackup("b", {
            namespace: "asky", instance: "asky-test", image: "postgres:16.6-bookworm", databaseName: "asky",
            superuserSecretName: "postgres-superuser", protect: true,
            backup: { enabled: true, schedule: "15 2 * * *", retentionDays: 14, storageSize: "50Gi", claimName: "postgres-backup" },
        });
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
        assert.deepEqual(env.PGPASSWORD.valueFrom, { secretKeyRef: { name: "postgres-superuser", key: "password" } });
        const volumes = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
        assert.deepEqual(volumes.backups.persistentVolumeClaim, { claimName: "postgres-backup" });
        const pvc = resources.find((r) => r.inputs.kind === "PersistentVolumeClaim")!;
        assert.ok(pvc.protect && pvc.retainOnDelete, "DATA-1: the dumps outlive a destroy too");
        assert.equal(pod.securityContext.runAsUser, 999);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    });
});

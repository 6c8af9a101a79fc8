/**
 * sql/render.ts and sql/seedUsers.ts without a server: what the rendered bootstrap script holds and
 * what the renderer refuses. sql.spec.ts applies the same script to a real PostgreSQL.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { backupScript, backupUploadScript, DATABASE_LOGIN_ROLES, renderDatabaseSql, SeedUser, SERVICE_DATABASE_ROLES, superuserSyncScript, userPasswordEnv } from "../sql/render";
import { BCRYPT_COST, USERS, secretEnv } from "./support/sqlUsers";

describe("database bootstrap SQL (sql/render.ts) without a server", () => {
    const DB = "asky_sql_test";
    // Rendered inside each test, so each test exercises the renderer itself.
    const render = (): string => renderDatabaseSql({ databaseName: DB, users: USERS, bcryptCost: BCRYPT_COST });

    it("SEC-1 contains no password, no bcrypt hash and none of the secret values; secrets only arrive through \\getenv", () => {
        const rendered = render();
        for (const [name, value] of Object.entries(secretEnv())) {
            assert.ok(!rendered.includes(value), `the value of ${name} is in the script`);
            assert.ok(rendered.includes(`\\getenv `) && rendered.includes(name), `${name} is not read from the environment`);
        }
        assert.doesNotMatch(rendered, /\$2[aby]?\$/, "a bcrypt hash");
        assert.doesNotMatch(rendered, /PASSWORD\s+'[^']/i, "a literal password");
        assert.doesNotMatch(rendered, /SCRAM-SHA-256\$|md5[0-9a-f]{32}/, "a password verifier");
        for (const file of fs.readdirSync(path.join(__dirname, "..", "sql"))) {
            const text = fs.readFileSync(path.join(__dirname, "..", "sql", file), "utf8");
            assert.doesNotMatch(text, /\$2[aby]?\$\d\d\$|PASSWORD\s+'[^']/i, `sql/${file}`);
        }
    });

    it("DATA-3 is one transaction, and neither creates the database nor names it literally in DDL", () => {
        const rendered = render();
        assert.match(rendered, /^BEGIN;$/m);
        assert.match(rendered.trimEnd(), /COMMIT;\n\\echo 'asky bootstrap: done'$/);
        assert.equal(rendered.match(/^(BEGIN|COMMIT);$/gm)?.length, 2);
        assert.doesNotMatch(rendered, /CREATE DATABASE|ALTER SYSTEM/i);
        assert.doesNotMatch(renderDatabaseSql({ databaseName: "asky", users: USERS, bcryptCost: 10 }), /DATABASE asky\b/);
    });

    it("renders each service's role, schema and password variable from SERVICE_DATABASE_ROLES", () => {
        const rendered = render();
        assert.deepEqual(JSON.parse(JSON.stringify(SERVICE_DATABASE_ROLES)), {
            auth: { role: "asky_auth", schema: "auth", passwordEnv: "ASKY_AUTH_DB_PASSWORD" },
            pyxis: { role: "asky_pyxis", schema: "pyxis", passwordEnv: "ASKY_PYXIS_DB_PASSWORD" },
            "request-management": { role: "asky_requests", schema: "requests", passwordEnv: "ASKY_REQUESTS_DB_PASSWORD" },
        });
        assert.ok(Object.isFrozen(SERVICE_DATABASE_ROLES) && Object.isFrozen(SERVICE_DATABASE_ROLES.auth));
        for (const { role, schema, passwordEnv } of Object.values(SERVICE_DATABASE_ROLES)) {
            assert.ok(rendered.includes(`\\set asky_role ${role}\n\\set asky_schema ${schema}\n\\set asky_password_env ${passwordEnv}\n`), role);
        }
    });

    it("maps user emails to password variable names", () => {
        assert.equal(userPasswordEnv("admin@asky.local"), "ASKY_USER_PASSWORD_ADMIN_ASKY_LOCAL");
        assert.equal(userPasswordEnv("Ana.Souza+plantao@hospital-x.com.br"), "ASKY_USER_PASSWORD_ANA_SOUZA_PLANTAO_HOSPITAL_X_COM_BR");
    });

    it("rejects bad input with the same rules as asky:database.users (sql/seedUsers.ts): cost, duplicates, emails, names, roles, phones, database names", () => {
        const ok = { databaseName: "asky", users: USERS, bcryptCost: 10 };
        let phone = 5511990020000;
        const user = (email: string, extra: Partial<SeedUser> = {}): SeedUser => ({ name: "X", email, phoneNumber: `+${phone++}`, role: "nurse", ...extra });
        const bad: Array<[string, () => unknown, RegExp]> = [
            ["cost 9", () => renderDatabaseSql({ ...ok, bcryptCost: 9 }), /bcryptCost/],
            ["cost 17", () => renderDatabaseSql({ ...ok, bcryptCost: 17 }), /bcryptCost/],
            ["cost 10.5", () => renderDatabaseSql({ ...ok, bcryptCost: 10.5 }), /bcryptCost/],
            ["cost NaN", () => renderDatabaseSql({ ...ok, bcryptCost: NaN }), /bcryptCost/],
            ["no user", () => renderDatabaseSql({ ...ok, users: [] }), /at least one user/],
            ["same env name", () => renderDatabaseSql({ ...ok, users: [user("ana.souza@asky.local"), user("ana-souza@asky.local")] }), /same password variable ASKY_USER_PASSWORD_ANA_SOUZA_ASKY_LOCAL as users\[0\][\s\S]*at \[1\]\.email/],
            ["same email, other case", () => renderDatabaseSql({ ...ok, users: [user("ana@asky.local"), user("ANA@asky.local")] }), /seeded twice/],
            ["same phone", () => renderDatabaseSql({ ...ok, users: [user("a@asky.local", { phoneNumber: "+5511990010001" }), user("b@asky.local", { phoneNumber: "+5511990010001" })] }), /phone_number is unique[\s\S]*at \[1\]\.phoneNumber/],
            ["bad role", () => renderDatabaseSql({ ...ok, users: [user("a@asky.local", { role: "root" as SeedUser["role"] })] }), /role/],
            ["newline in name", () => renderDatabaseSql({ ...ok, users: [user("a@asky.local", { name: "x\n\\! rm -rf /" })] }), /name/],
            ["empty name", () => renderDatabaseSql({ ...ok, users: [user("a@asky.local", { name: "  " })] }), /name/],
            ["bad phone", () => renderDatabaseSql({ ...ok, users: [user("a@asky.local", { phoneNumber: "call me'" })] }), /phoneNumber/],
            ["no phone", () => renderDatabaseSql({ ...ok, users: [{ name: "X", email: "a@asky.local", role: "nurse" } as SeedUser] }), /phoneNumber/],
            ["database name", () => renderDatabaseSql({ ...ok, databaseName: "asky; DROP" }), /databaseName/],
            ["database name case", () => renderDatabaseSql({ ...ok, databaseName: "Asky" }), /databaseName/],
        ];
        for (const email of ["not-an-email", "a@b", "a@asky.local\n", "x'; DROP TABLE auth.users; --@asky.local", "a b@asky.local", ":x@asky.local", "ação@asky.local", "@asky.local", "a@.local", ""]) {
            bad.push([`email ${JSON.stringify(email)}`, () => userPasswordEnv(email), /email/]);
            bad.push([`user email ${JSON.stringify(email)}`, () => renderDatabaseSql({ ...ok, users: [user(email)] }), /email/]);
        }
        for (const [label, fn, message] of bad) {
            assert.throws(fn, message, label);
        }
        assert.doesNotThrow(() => renderDatabaseSql({ ...ok, users: USERS }));
    });
    
    it("DATA-3 applies the files of sql/ in order, each under a header, then the generated users, the monitoring and backup roles, COMMIT", () => {
        const rendered = render();
        const section = (file: string) => `-- ---- ${file} ----\n${fs.readFileSync(path.join(__dirname, "..", "sql", file), "utf8")}`;
        const schemaFiles = ["00-session.sql", "01-schemas.sql", "02-pyxis.sql", "03-requests.sql", "04-auth.sql"];
        assert.ok(rendered.startsWith("-- bootstrap.sql: generated by sql/render.ts from the files in sql/. Do not edit.\n"));
        assert.ok(rendered.includes(`\\set asky_database ${DB}\n${section("00-session.sql")}\n${section("01-schemas.sql")}`), "the database variable, then the session file");
        for (let i = 1; i < schemaFiles.length; i++) {
            assert.ok(rendered.includes(`${section(schemaFiles[i - 1])}\n${section(schemaFiles[i])}`), `${schemaFiles[i]} follows ${schemaFiles[i - 1]}`);
        }
        // 05-roles.sql once per service role, after its three variables.
        assert.equal(rendered.split(section("05-roles.sql")).length - 1, 3);
        assert.ok(rendered.includes(`${section("06-seed.sql")}\n${section("07-seed-users.sql")}\n-- ---- generated: seeded users ----\n`));
        assert.ok(rendered.includes("\\set asky_monitor_role asky_monitor\n\\set asky_monitor_password_env ASKY_MONITOR_DB_PASSWORD\n" + section("08-monitoring-role.sql")));
        assert.ok(rendered.endsWith(`\\set asky_backup_role asky_backup\n\\set asky_backup_password_env ASKY_BACKUP_DB_PASSWORD\n${section("09-backup-role.sql")}\nCOMMIT;\n\\echo 'asky bootstrap: done'\n`));
    });

    it("SEC-5 seeds each user by one call with its fields as SQL literals, the password from its own variable by \\getenv, and the configured bcrypt cost", () => {
        const user: SeedUser = { name: "Ana O'Hara", email: "ana.o@hospital.com.br", phoneNumber: "+5511912340000", role: "nurse" };
        const other: SeedUser = { name: "Bia", email: "bia@hospital.com.br", phoneNumber: "+5511912340001", role: "admin" };
        const rendered = renderDatabaseSql({ databaseName: "asky", users: [user, other], bcryptCost: 12 });
        assert.ok(rendered.includes([
            "-- ---- generated: seeded users ----",
            "\\set asky_user_password_1 ''",
            "\\getenv asky_user_password_1 ASKY_USER_PASSWORD_ANA_O_HOSPITAL_COM_BR",
            "SELECT pg_temp.asky_seed_user('Ana O''Hara', 'ana.o@hospital.com.br', '+5511912340000', 'nurse', pg_temp.asky_secret('ASKY_USER_PASSWORD_ANA_O_HOSPITAL_COM_BR', :'asky_user_password_1'), 12) AS asky_seed_result \\gset",
            "\\unset asky_user_password_1",
            "\\echo 'asky bootstrap: seed user' :asky_seed_result",
            "\\set asky_user_password_2 ''",
            "\\getenv asky_user_password_2 ASKY_USER_PASSWORD_BIA_HOSPITAL_COM_BR",
            "SELECT pg_temp.asky_seed_user('Bia', 'bia@hospital.com.br', '+5511912340001', 'admin', pg_temp.asky_secret('ASKY_USER_PASSWORD_BIA_HOSPITAL_COM_BR', :'asky_user_password_2'), 12) AS asky_seed_result \\gset",
            "\\unset asky_user_password_2",
            "\\echo 'asky bootstrap: seed user' :asky_seed_result",
            "",
            "\\set asky_monitor_role",
        ].join("\n")));
    });

    it("accepts the bounds it names: bcrypt cost 10 and 16, database names of 1 and 63 characters starting with a letter or _", () => {
        const ok = { databaseName: "asky", users: USERS, bcryptCost: 10 };
        for (const bcryptCost of [10, 16]) assert.match(renderDatabaseSql({ ...ok, bcryptCost }), new RegExp(`:'asky_user_password_1'\\), ${bcryptCost}\\)`));
        for (const databaseName of ["a", "_x9", "a".repeat(63)]) assert.match(renderDatabaseSql({ ...ok, databaseName }), new RegExp(`^\\\\set asky_database ${databaseName}$`, "m"));
        assert.throws(() => renderDatabaseSql({ ...ok, bcryptCost: 17 }), /^Error: bcryptCost must be an integer from 10 to 16, got 17$/);
        for (const databaseName of ["a".repeat(64), "9asky", "", "asky-x"]) {
            assert.throws(() => renderDatabaseSql({ ...ok, databaseName }), (e: Error) => e.message === `databaseName ${JSON.stringify(databaseName)} must match /^[a-z_][a-z0-9_]{0,62}$/`, databaseName);
        }
        assert.throws(() => renderDatabaseSql({ ...ok, databaseName: 7 as unknown as string }), /databaseName 7 must match/);
    });

    it("reports seed users by index and field with the rule they break (sql/seedUsers.ts, as asky:database.users does)", () => {
        const ok = { databaseName: "asky", bcryptCost: 10 };
        const u = (extra: Partial<SeedUser>): SeedUser => ({ name: "X", email: "x@asky.local", phoneNumber: "+5511990030000", role: "nurse", ...extra });
        const message = (users: unknown[]): string => {
            try {
                renderDatabaseSql({ ...ok, users: users as SeedUser[] });
            } catch (e) {
                return (e as Error).message;
            }
            return "(accepted)";
        };
        assert.equal(message([u({ name: "n".repeat(255) })]), "(accepted)");
        assert.match(message([u({ name: "n".repeat(256) })]), /must be at most 255 characters[\s\S]*at \[0\]\.name/);
        assert.match(message([u({ name: "tab\there" })]), /must be 1-255 printable characters, not only spaces[\s\S]*at \[0\]\.name/);
        assert.match(message([u({ name: "line\u2028sep" })]), /printable characters/);
        assert.match(message([u({ name: "del\u007f" })]), /printable characters/);
        const local = "a".repeat(65); // one over the 64 a local part may have
        assert.match(message([u({ email: `${local}@asky.local` })]), /must be an e-mail address of letters, digits and \. _ % \+ - \(e\.g\. ana\.souza@hospital\.com\.br\)[\s\S]*at \[0\]\.email/);
        // 56 + 1 + 197 = 254 characters: a valid address whose variable name is too long; 255 is refused by length.
        const domain = `${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.co.uk`;
        const long = `${"a".repeat(254 - domain.length - 1)}@${domain}`;
        assert.equal(long.length, 254);
        assert.match(message([u({ email: long })]), /is too long for its password variable name \(253 characters\)[\s\S]*at \[0\]\.email/);
        assert.match(message([u({ email: `a${long}` })]), /must be at most 254 characters/);
        assert.match(message([u({ phoneNumber: undefined })]), /is required: an E\.164 phone number: '\+', country code and number, digits only, e\.g\. \+5511912345678[\s\S]*at \[0\]\.phoneNumber/);
        assert.match(message([u({ phoneNumber: 5511 as unknown as string })]), /must be a string: an E\.164 phone number/);
        assert.match(message([u({ phoneNumber: "+551199" })]), /must be an E\.164 phone number[\s\S]*at \[0\]\.phoneNumber/);
        assert.equal(message([u({ phoneNumber: "+55119900" })]), "(accepted)");
        assert.equal(message([u({ phoneNumber: "+551199000000000" })]), "(accepted)");
        assert.match(message([u({ phoneNumber: "+5511990000000000" })]), /E\.164/);
        assert.match(message([u({ phoneNumber: "+0511990000000" })]), /E\.164/);
        assert.match(message([u({}), u({ email: "y@asky.local", phoneNumber: "+5511990030001" }), u({ email: "X@Asky.Local", phoneNumber: "+5511990030002" })]),
            /seeded twice \(also users\[0\], e-mails compare case-insensitively\)[\s\S]*at \[2\]\.email/);
        assert.match(message([u({}), u({ email: "y@asky.local" })]), /already the number of users\[0\]; auth\.users\.phone_number is unique[\s\S]*at \[1\]\.phoneNumber/);
        // A user that breaks its own rules is reported by them alone, not as a clash with another.
        const twiceBad = message([u({ email: "not-an-email" }), u({ email: "not-an-email", phoneNumber: "+5511990030001" })]);
        assert.match(twiceBad, /e-mail address/);
        assert.doesNotMatch(twiceBad, /seeded twice|password variable/);
        assert.doesNotMatch(message([u({ phoneNumber: 1 as unknown as string }), u({ email: "y@asky.local", phoneNumber: 1 as unknown as string })]), /already the number/);
        assert.throws(() => userPasswordEnv(undefined as unknown as string), /^Error: seed user email undefined is not a valid address$/);
    });

    it("the scripts the backup CronJob and the postgres container run are the files of sql/, verbatim", () => {
        const file = (name: string) => fs.readFileSync(path.join(__dirname, "..", "sql", name), "utf8");
        assert.equal(backupScript(), file("backup.sh"));
        assert.equal(backupUploadScript(), file("backup-upload.sh"));
        assert.equal(superuserSyncScript(), file("sync-superuser-password.sh"));
    });

    it("sets a password for every login role, each from its own variable: the three services', asky_monitor's and asky_backup's", () => {
        assert.deepEqual(DATABASE_LOGIN_ROLES.map((r) => `${r.role} ${r.passwordEnv}`), [
            "asky_auth ASKY_AUTH_DB_PASSWORD", "asky_pyxis ASKY_PYXIS_DB_PASSWORD", "asky_requests ASKY_REQUESTS_DB_PASSWORD",
            "asky_monitor ASKY_MONITOR_DB_PASSWORD", "asky_backup ASKY_BACKUP_DB_PASSWORD",
        ]);
        const rendered = render();
        assert.ok(rendered.startsWith([
            "-- bootstrap.sql: generated by sql/render.ts from the files in sql/. Do not edit.",
            "-- Apply with: psql -v ON_ERROR_STOP=1 --no-psqlrc -f bootstrap.sql (psql >= 15, superuser).",
            "-- Secrets are read from the environment with \\getenv; this file holds none.",
            `\\set asky_database ${DB}`,
        ].join("\n")));
    });

    it("takes only a string database name and e-mail (an array that prints as one is refused)", () => {
        assert.throws(() => renderDatabaseSql({ databaseName: ["asky"] as unknown as string, users: USERS, bcryptCost: 10 }), /^Error: databaseName \["asky"\] must match/);
        assert.throws(() => userPasswordEnv(["a@asky.local"] as unknown as string), /^Error: seed user email \["a@asky.local"\] is not a valid address$/);
    });

    it("maps addresses to variable names: one-letter domain labels, runs of punctuation as one _, names up to 253 characters", () => {
        assert.equal(userPasswordEnv("a@b.co"), "ASKY_USER_PASSWORD_A_B_CO");
        assert.equal(userPasswordEnv("ana..souza+-x@h-1.com.br"), "ASKY_USER_PASSWORD_ANA_SOUZA_X_H_1_COM_BR");
        const ok = { databaseName: "asky", bcryptCost: 10 };
        const user = (email: string): SeedUser => ({ name: "X", email, phoneNumber: "+5511990040000", role: "nurse" });
        // ASKY_USER_PASSWORD_ (19 characters) + the address with its punctuation as _: 234 characters make 253.
        const domain = `${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(50)}.co.uk`;
        const at253 = `${"a".repeat(234 - domain.length - 1)}@${domain}`;
        assert.equal(userPasswordEnv(at253).length, 253);
        assert.doesNotThrow(() => renderDatabaseSql({ ...ok, users: [user(at253)] }));
        assert.throws(() => renderDatabaseSql({ ...ok, users: [user(`a${at253}`)] }), /is too long for its password variable name \(253 characters\)/);
        assert.throws(() => renderDatabaseSql({ ...ok, users: [user("a@asky.local"), { ...user("b@asky.local"), phoneNumber: "1+5511990040000" }] }), /must be an E\.164 phone number[\s\S]*at \[1\]\.phoneNumber/);
    });

    it("reports an e-mail seeded twice once, as a duplicate, not also as a clash of password variables", () => {
        const users: SeedUser[] = [
            { name: "A", email: "ana@asky.local", phoneNumber: "+5511990050000", role: "nurse" },
            { name: "B", email: "ANA@asky.local", phoneNumber: "+5511990050001", role: "nurse" },
        ];
        assert.throws(() => renderDatabaseSql({ databaseName: "asky", users, bcryptCost: 10 }), (e: Error) => /seeded twice/.test(e.message) && !/password variable/.test(e.message));
    });
});

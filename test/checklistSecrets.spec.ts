// checklist/secrets.ts at its edges (SEC-1, SEC-4): which names announce a secret, which values are only
// references to one, and the spellings a weak database setting can take. The mutation run over the file
// (npm run test:mutation -- checklist-secrets) showed which of them no spec asserted.
import assert from "node:assert/strict";
import { K8sObject } from "../checklist";
import { isSensitiveName, sec1, sec4, secretFindings } from "../checklist/secrets";
import { reasons as checkReasons } from "./support/checklist";

const ctx = { stack: "dev" as const, namespace: "asky" };
const workload = (container: Record<string, unknown>): K8sObject => ({
    apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "postgres", namespace: "asky" },
    spec: { template: { metadata: {}, spec: { containers: [{ name: "postgres", image: "postgres:16.15", ...container }] } } },
} as unknown as K8sObject);
const configMap = (data: Record<string, string>): K8sObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", namespace: "asky" }, data } as unknown as K8sObject);
const reasons = (check: typeof sec1, objects: K8sObject[]) => checkReasons(check, objects, ctx);

describe("SEC-1 and SEC-4 at their edges (checklist/secrets.ts)", () => {
    it("a name announces a secret by its last word, whatever the separators", () => {
        for (const name of ["DB_PASSWORD", "db_password_", "db--password", "SPIDERMONKEY", "MONKEYKEY", "api.key", "pg-passphrase", "X_MYSECRETS"]) assert.equal(isSensitiveName(name), true, name);
        for (const name of ["MONKEY", "turkey", "POSTGRES_PASSWORD_FILE", "ACCESS_TOKEN_EXPIRE_MINUTES", "PRIVATE_KEY_PATH", "public_key.pem", "KEYBOARD", ""]) assert.equal(isSensitiveName(name), false, name);
    });

    it("a URL's password that is a reference to a variable is not a secret; anything around the reference makes it one", () => {
        for (const ref of ["$(DB_PASS)", "${DB_PASS}", "$DB_PASS", ":pw", ":'pw_2'", "%s", "{{ .Values.pw }}", "***", "<password>"]) {
            assert.deepEqual(secretFindings(`postgresql://asky:${ref}@postgres/asky`), [], ref);
        }
        for (const value of ["pw$DB_PASS", "$DB_PASS-x", ":pw-x", "x%s"]) {
            assert.deepEqual(secretFindings(`postgresql://asky:${value}@postgres/asky`), ["a URL with an embedded password"], value);
        }
    });

    it("SQL passwords and crypt() literals are found with any spacing; nothing is found in no text", () => {
        assert.deepEqual(secretFindings("ALTER ROLE x PASSWORD  'hunter2hunter2'"), ["a literal SQL password"]);
        assert.deepEqual(secretFindings("SELECT crypt (  'hunter2', gen_salt('bf'))"), ["a literal password passed to crypt()"]);
        assert.deepEqual(secretFindings(undefined as unknown as string), []);
        assert.deepEqual(secretFindings(""), []);
    });

    it("SEC-1: a literal env value under a secret's name, a command line setting a password, each reported once with where", () => {
        assert.deepEqual(reasons(sec1, [workload({ env: [{ name: "DB_PASSWORD", value: "hunter2hunter2" }, { name: "DB_HOST", value: "postgres" }] })]),
            ["StatefulSet/postgres: container \"postgres\" env DB_PASSWORD looks like a secret but has a literal value; use valueFrom.secretKeyRef or a mounted file"]);
        assert.deepEqual(reasons(sec1, [workload({ command: ["run"], args: ["--x", "ADMIN_PASSWORD=hunter2hunter2"] })]),
            ["StatefulSet/postgres: container \"postgres\" command line sets ADMIN_PASSWORD to a literal value"]);
        assert.deepEqual(reasons(sec1, [workload({ args: ["ADMIN_PASSWORD=$(ADMIN_PASSWORD)"] })]), []);
        assert.deepEqual(reasons(sec1, [workload({ env: [{ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] })]), []);
    });

    it("SEC-4: password_encryption weakened however it is spelled, on the command line and in a ConfigMap", () => {
        for (const arg of ["password_encryption=md5", "password_encryption = md5", "password_encryption='md5'", "password_encryption =  'off'"]) {
            assert.deepEqual(reasons(sec4, [workload({ args: ["-c", arg] })]),
                ["StatefulSet/postgres: container \"postgres\" command line sets password_encryption to something weaker than scram-sha-256"], arg);
            assert.deepEqual(reasons(sec4, [configMap({ "postgresql.conf": arg })]), ['ConfigMap/cfg: key "postgresql.conf" sets password_encryption weaker than scram-sha-256'], arg);
        }
        assert.deepEqual(reasons(sec4, [workload({ args: ["-c", "password_encryption=scram-sha-256"] })]), []);
    });

    it("SEC-4: a pg_hba trust line however it is spaced and indented, with or without an address; a commented one is not", () => {
        for (const line of ["  host all all 0.0.0.0/0 trust", "host\tall\tall\ttrust", "local   all   all   trust", "hostssl all  all  10.0.0.0/8   trust"]) {
            assert.deepEqual(reasons(sec4, [configMap({ "pg_hba.conf": `# header\n${line}\n` })]), ['ConfigMap/cfg: key "pg_hba.conf" has a pg_hba \'trust\' line'], line);
        }
        assert.deepEqual(reasons(sec4, [configMap({ "pg_hba.conf": "# host all all 0.0.0.0/0 trust\nhost all all 0.0.0.0/0 scram-sha-256\n" })]), []);
    });

    it("SEC-4: the initdb flags only in POSTGRES_INITDB_ARGS; a weak password_encryption however the arguments are split", () => {
        assert.deepEqual(reasons(sec4, [workload({ env: [{ name: "EXTRA_ARGS", value: "--auth=trust" }, { name: "POSTGRES_INITDB_ARGS", value: "--data-checksums" }] })]), []);
        assert.deepEqual(reasons(sec4, [workload({ env: [{ name: "POSTGRES_INITDB_ARGS", value: "--auth-host=md5" }] })]),
            ['StatefulSet/postgres: container "postgres" POSTGRES_INITDB_ARGS weakens authentication: --auth-host=md5']);
        assert.deepEqual(reasons(sec4, [workload({ command: ["postgres"], args: ["-c", "password_encryption=off", "listen_addresses=*"] })]),
            ['StatefulSet/postgres: container "postgres" command line sets password_encryption to something weaker than scram-sha-256']);
    });

    it("SEC-1: every pattern a value holds is named, in the order of the list, wherever the value sits", () => {
        const pem = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----";
        const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2ln";
        const both = `${pem} ${jwt}`;
        const found = "a PEM private key, a JWT";
        assert.deepEqual(reasons(sec1, [configMap({ "bundle.txt": both })]), [`ConfigMap/cfg: key "bundle.txt" contains ${found}; it belongs in a Secret`]);
        assert.deepEqual(reasons(sec1, [workload({ env: [{ name: "BUNDLE", value: both }] })]),
            [`StatefulSet/postgres: container "postgres" env BUNDLE holds ${found} as a literal value; use valueFrom.secretKeyRef or a mounted file`]);
        assert.deepEqual(reasons(sec1, [workload({ args: ["--port", 5432, pem, jwt] })]), [`StatefulSet/postgres: container "postgres" command line contains ${found}`], "a number among the arguments");
        assert.deepEqual(reasons(sec1, [{ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "asky" }, stringData: { k: both } } as unknown as K8sObject]),
            [`Secret/s: key "k" is not redacted in the render: it contains ${found}`]);
        assert.deepEqual(reasons(sec1, [{ ...configMap({}), metadata: { name: "cfg", namespace: "asky", annotations: { note: both } } } as K8sObject]), [`ConfigMap/cfg: annotation "note" contains ${found}`]);
    });
});

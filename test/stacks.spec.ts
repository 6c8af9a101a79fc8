import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import * as YAML from "yaml";
import { REDACTED, RENDER_PROTECTED_ANNOTATION, renderStack } from "../scripts/render";
import { find, isSecretEnvelope, namesOf, renderedStack, reveal } from "./support/render";

const ROOT = path.join(__dirname, "..");
const run = promisify(execFile);

/** The whole program, both stacks: the objects and names of ARCHITECTURE.md and the dev/prod differences. */
describe("the program (index.ts), both stacks", () => {
    for (const stack of ["dev", "prod"] as const) {
        describe(stack, () => {
            it("creates the objects ARCHITECTURE.md names", async () => {
                const { objects } = await renderedStack(stack);
                assert.deepStrictEqual(namesOf(objects, "Namespace"), ["asky"]);
                assert.deepStrictEqual(namesOf(objects, "Deployment"), ["auth", "gateway", "pyxis", "redis", "request-management"]);
                assert.deepStrictEqual(namesOf(objects, "StatefulSet"), ["postgres"]);
                assert.deepStrictEqual(namesOf(objects, "Service"), ["auth", "gateway", "gateway-internal", "postgres", "pyxis", "redis", "request-management"]);
                for (const cm of ["postgres-initdb-config", "gateway-config"]) find(objects, "ConfigMap", cm);
                find(objects, "PersistentVolumeClaim", "postgres-pv-claim");
                const ports = Object.fromEntries(objects.filter((o) => o.kind === "Service").map((s: any) => [s.metadata.name, s.spec.ports[0].port]));
                assert.deepStrictEqual(ports, { auth: 8003, pyxis: 8001, "request-management": 8002, redis: 6379, postgres: 5432, gateway: 80, "gateway-internal": 80 });
                const jobs = objects.filter((o) => o.kind === "Job").map((o) => o.metadata.name);
                assert.strictEqual(jobs.length, 1);
                assert.match(jobs[0], /^postgres-bootstrap-[0-9a-f]{10}$/);
            });

            it("talks to the cluster only through the stack's explicit provider", async () => {
                const { resources } = await renderedStack(stack);
                const providers = resources.filter((r) => r.type === "pulumi:providers:kubernetes");
                assert.strictEqual(providers.length, 1);
                assert.strictEqual(providers[0].inputs.context, stack === "dev" ? "minikube" : "asky-prod");
                const k8s = resources.filter((r) => r.type.startsWith("kubernetes:"));
                for (const r of k8s) assert.match(r.provider, /pulumi:providers:kubernetes::kubernetes::/, `${r.name} uses ${r.provider || "the default provider"}`);
            });

            it("wires each service to its own DATABASE_URL Secret and to the gateway", async () => {
                const { objects, resources } = await renderedStack(stack);
                const roles: Record<string, string> = { auth: "asky_auth", pyxis: "asky_pyxis", "request-management": "asky_requests" };
                for (const svc of Object.keys(roles)) {
                    const container = find(objects, "Deployment", svc).spec.template.spec.containers[0];
                    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e]));
                    assert.deepStrictEqual(env.DATABASE_URL.valueFrom, { secretKeyRef: { name: `${svc}-database-url`, key: "DATABASE_URL" } });
                    assert.strictEqual(env.GATEWAY_URL.value, "http://gateway-internal.asky.svc.cluster.local:80", "the internal listener");
                    const secret = resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === `${svc}-database-url`)!;
                    const url = (reveal(secret.inputs.stringData) as any).DATABASE_URL as string;
                    assert.match(url, new RegExp(`^postgresql\\+asyncpg://${roles[svc]}:[^@]+@postgres\\.asky\\.svc\\.cluster\\.local:5432/asky$`));
                }
            });

            it("mounts the generated JWT keys where the images read them", async () => {
                const { objects } = await renderedStack(stack);
                const mounts = (svc: string) => {
                    const pod = find(objects, "Deployment", svc).spec.template.spec;
                    const m = pod.containers[0].volumeMounts.find((v: any) => v.name === "jwt");
                    const vol = pod.volumes.find((v: any) => v.name === "jwt");
                    return [m.mountPath, vol.secret.secretName];
                };
                assert.deepStrictEqual(mounts("auth"), ["/app/services/private_key.pem", "jwt-private-key"]);
                assert.deepStrictEqual(mounts("pyxis"), ["/app/public_key.pem", "jwt-public-key"]);
                assert.deepStrictEqual(mounts("request-management"), ["/app/public_key.pem", "jwt-public-key"]);
            });

            it("SEC-2 keeps every generated value a Pulumi secret, in Secrets and stack outputs", async () => {
                const render = await renderedStack(stack);
                assert.deepStrictEqual(render.secretLeaks, [], "secret values outside Secret objects");
                const secrets = render.resources.filter((r) => r.inputs.kind === "Secret");
                assert.ok(secrets.length >= 7);
                for (const s of secrets) assert.ok(isSecretEnvelope(s.inputs.stringData), `${(s.inputs.metadata as any).name} stringData is not a Pulumi secret`);
                assert.strictEqual(render.outputs.initialUserPasswords.secret, true);
                assert.deepStrictEqual(Object.keys(render.outputs.initialUserPasswords.value as object).sort(), ["admin@asky.local", "agent@asky.local", "nurse@asky.local"]);
                for (const o of render.objects.filter((x) => x.kind === "Secret")) {
                    for (const v of Object.values((o as any).stringData ?? {})) assert.strictEqual(v, REDACTED);
                }
            });

            it("SEC-1 puts no generated password, key or hash in a ConfigMap or a literal env value", async () => {
                const { objects, resources } = await renderedStack(stack);
                const passwords = resources.filter((r) => r.type.startsWith("random:")).map((r) => `mock-password-${r.name}`);
                assert.ok(passwords.length >= 7);
                const keys = resources.filter((r) => r.type.startsWith("tls:")).map((r) => `mock-private-key-${r.name}`);
                assert.strictEqual(keys.length, 1);
                const visible = JSON.stringify(objects.filter((o) => o.kind !== "Secret"));
                for (const value of [...passwords, ...keys]) assert.ok(!visible.includes(value), `${value} is visible outside Secrets`);
                assert.ok(!/BEGIN [A-Z ]*PRIVATE KEY|BEGIN PUBLIC KEY|\$2[aby]\$\d\d\$/.test(visible));
            });

            it("orders the deploy like run.sh: database ready and schema applied, then services and cache, then the gateway (GW-9)", async () => {
                const { objects } = await renderedStack(stack);
                const at = (kind: string, name: string) => objects.findIndex((o) => o.kind === kind && (name === "*" ? true : o.metadata.name === name));
                const job = objects.findIndex((o) => o.kind === "Job");
                assert.ok(at("StatefulSet", "postgres") < job, "the schema Job waits for the database");
                for (const svc of ["auth", "pyxis", "request-management"]) {
                    assert.ok(job < at("Deployment", svc), `${svc} rolls after the schema Job`);
                    assert.ok(at("Service", svc) < at("Deployment", "gateway"), `gateway starts after Service ${svc}`);
                }
                assert.ok(at("Service", "redis") < at("Deployment", "gateway"));
                assert.strictEqual(at("Namespace", "*"), 0, "the namespace comes first");
            });
        });
    }

    it("dev: the seed's hostPath PV bound to the claim, NodePort 30000, one replica each", async () => {
        const { objects } = await renderedStack("dev");
        const pv = find(objects, "PersistentVolume", "postgres-pv-volume");
        assert.deepStrictEqual(pv.spec.hostPath, { path: "/mnt/data", type: "DirectoryOrCreate" });
        assert.strictEqual(pv.spec.storageClassName, "manual");
        assert.strictEqual(pv.spec.persistentVolumeReclaimPolicy, "Retain");
        assert.deepStrictEqual(pv.spec.claimRef, { namespace: "asky", name: "postgres-pv-claim" });
        const pvc = find(objects, "PersistentVolumeClaim", "postgres-pv-claim");
        assert.strictEqual(pvc.metadata.namespace, "asky", "the seed's PVC had no namespace");
        assert.strictEqual(pvc.spec.volumeName, "postgres-pv-volume");
        const gw = find(objects, "Service", "gateway");
        assert.strictEqual(gw.spec.type, "NodePort");
        assert.strictEqual(gw.spec.ports[0].nodePort, 30000);
        for (const d of objects.filter((o) => o.kind === "Deployment")) assert.strictEqual((d as any).spec.replicas, 1, d.metadata.name);
        assert.deepStrictEqual(namesOf(objects, "HorizontalPodAutoscaler"), []);
        assert.deepStrictEqual(namesOf(objects, "CronJob"), []);
        assert.ok(!objects.some((o) => o.metadata.annotations?.[RENDER_PROTECTED_ANNOTATION]), "dev tears down easily");
    });

    it("prod: dynamic storage class, LoadBalancer, HPAs instead of fixed replicas, protected data, backups", async () => {
        const { objects } = await renderedStack("prod");
        assert.deepStrictEqual(namesOf(objects, "PersistentVolume"), []);
        const pvc = find(objects, "PersistentVolumeClaim", "postgres-pv-claim");
        assert.strictEqual(pvc.spec.storageClassName, "standard-rwo");
        assert.deepStrictEqual(pvc.spec.accessModes, ["ReadWriteOnce"]);
        assert.strictEqual(find(objects, "Service", "gateway").spec.type, "LoadBalancer");
        assert.deepStrictEqual(namesOf(objects, "HorizontalPodAutoscaler"), ["gateway", "pyxis", "request-management"]);
        for (const name of ["gateway", "pyxis", "request-management"]) {
            assert.strictEqual(find(objects, "Deployment", name).spec.replicas, undefined, `${name} leaves replicas to its HPA`);
            const hpa = find(objects, "HorizontalPodAutoscaler", name);
            assert.strictEqual(hpa.spec.minReplicas, 2);
            assert.strictEqual(hpa.spec.maxReplicas, 6);
        }
        assert.strictEqual(find(objects, "Deployment", "auth").spec.replicas, 2);
        for (const [kind, name] of [["StatefulSet", "postgres"], ["PersistentVolumeClaim", "postgres-pv-claim"], ["Namespace", "asky"], ["PersistentVolumeClaim", "postgres-backup"]]) {
            assert.strictEqual(find(objects, kind, name).metadata.annotations?.[RENDER_PROTECTED_ANNOTATION], "true", `${kind}/${name} is protected (DATA-1)`);
        }
        find(objects, "CronJob", "postgres-backup");
    });

    it("WIRE-6 a change of the NGINX config rolls the gateway; a change of the SQL re-applies it under a new Job (DATA-4)", async () => {
        const base = await renderedStack("dev");
        const dev = (await import("../scripts/render")).stackConfig("dev").config;
        const gateway = JSON.parse(dev["asky:gateway"]);
        const database = JSON.parse(dev["asky:database"]);
        const changed = await renderStack("dev", {
            "asky:gateway": { ...gateway, limits: { ...gateway.limits, clientMaxBodySize: "2m" } },
            "asky:database": { ...database, users: [...database.users, { name: "Farmácia", email: "pharmacy@asky.local", role: "agent" }] },
        });
        const checksum = (r: typeof base) => find(r.objects, "Deployment", "gateway").spec.template.metadata.annotations["checksum/config"];
        assert.notStrictEqual(checksum(changed), checksum(base));
        const job = (r: typeof base) => r.objects.find((o) => o.kind === "Job")!.metadata.name;
        assert.notStrictEqual(job(changed), job(base));
        const unchanged = await renderStack("dev");
        assert.strictEqual(job(unchanged), job(base), "the same SQL and credentials keep the same Job");
        assert.strictEqual(checksum(unchanged), checksum(base));
    });
});

describe("offline render (scripts/render.ts)", () => {
    let out: string;
    before(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), "asky-render-")); });
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    for (const stack of ["dev", "prod"] as const) {
        it(`npm run render -- --stack ${stack} writes complete manifests in creation order, Secrets redacted`, async () => {
            const { stdout } = await run("npm", ["run", "--silent", "render", "--", "--stack", stack, "--out", out], { cwd: ROOT });
            const file = path.join(out, `${stack}.yaml`);
            assert.match(stdout, new RegExp(`${stack}\\.yaml: \\d+ objects`));
            const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS());
            const { objects } = await renderedStack(stack);
            assert.strictEqual(docs.length, objects.length);
            assert.deepStrictEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`), objects.map((o) => `${o.kind}/${o.metadata.name}`));
            for (const d of docs) {
                assert.ok(d.apiVersion && d.kind && d.metadata?.name, JSON.stringify(d).slice(0, 100));
                const clusterScoped = ["Namespace", "PersistentVolume"].includes(d.kind);
                assert.strictEqual(d.metadata.namespace, clusterScoped ? undefined : "asky", `${d.kind}/${d.metadata.name}`);
                if (d.kind === "Secret") {
                    // The keys stay visible (what a pod may reference), never the values.
                    assert.ok(Object.keys(d.stringData).length > 0, `${d.metadata.name} shows its keys`);
                    for (const v of Object.values(d.stringData)) assert.strictEqual(v, REDACTED);
                }
            }
        });
    }

    it("exits non-zero with the config error on bad config", async () => {
        const stackFile = path.join(ROOT, "Pulumi.render-bad.yaml");
        const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
        fs.writeFileSync(stackFile, dev.replace("asky:namespace: asky", "asky:namespace: Not_A_Namespace"));
        try {
            await assert.rejects(run("npm", ["run", "--silent", "render", "--", "--stack", "render-bad", "--out", out], { cwd: ROOT }), (err: any) => {
                assert.strictEqual(err.code, 1);
                assert.match(err.stderr, /asky:namespace = "Not_A_Namespace": must be a DNS label/);
                return true;
            });
            assert.ok(!fs.existsSync(path.join(out, "render-bad.yaml")));
        } finally {
            fs.rmSync(stackFile, { force: true });
        }
    });

    it("exits non-zero on an unknown stack, listing the known ones", async () => {
        await assert.rejects(run("npm", ["run", "--silent", "render", "--", "--stack", "staging"], { cwd: ROOT }), /known stacks are dev, prod/);
    });
});

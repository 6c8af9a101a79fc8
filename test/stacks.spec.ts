import * as assert from "assert";
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import * as YAML from "yaml";
import { REDACTED, RENDER_PROTECTED_ANNOTATION, RegisteredResource, mockKeyPair, renderStack, stackConfig } from "../scripts/render";
import { find, isSecretEnvelope, namesOf, renderedStack, reveal } from "./support/render";
import { serviceLoginRole } from "../sql/render";

const ROOT = path.join(__dirname, "..");
const run = promisify(execFile);

const secretContent = (resources: RegisteredResource[], name: string) =>
    reveal(resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === name)!.inputs.stringData) as Record<string, string>;
/** The JWT in the Secret service-token. */
const serviceToken = (resources: RegisteredResource[]) => JSON.parse(secretContent(resources, "service-token")["token.json"]).token as string;

/** Runs `fn` with the wall clock stopped at `at`: the program reads the time once per run. */
async function atTime<T>(at: Date, fn: () => Promise<T>): Promise<T> {
    const realNow = Date.now;
    Date.now = () => at.getTime();
    try {
        return await fn();
    } finally {
        Date.now = realNow;
    }
}

/** The whole program, both stacks: the objects and names of ARCHITECTURE.md and the dev/prod differences. */
describe("the program (index.ts), both stacks", () => {
    for (const stack of ["dev", "prod"] as const) {
        describe(stack, () => {
            it("creates the objects ARCHITECTURE.md names", async () => {
                const { objects } = await renderedStack(stack);
                assert.deepStrictEqual(namesOf(objects, "Namespace"), ["asky"]);
                assert.deepStrictEqual(namesOf(objects, "Deployment"), ["auth", "gateway", "postgres-exporter", "pyxis", "redis", "request-management"]);
                assert.deepStrictEqual(namesOf(objects, "StatefulSet"), ["postgres"]);
                assert.deepStrictEqual(namesOf(objects, "Service"), ["auth", "gateway", "gateway-internal", "gateway-log-metrics", "gateway-metrics", "postgres", "postgres-exporter", "pyxis", "redis", "redis-metrics", "request-management"]);
                for (const cm of ["postgres-initdb-config", "gateway-config"]) find(objects, "ConfigMap", cm);
                find(objects, "PersistentVolumeClaim", "postgres-pv-claim");
                const ports = Object.fromEntries(objects.filter((o) => o.kind === "Service").map((s: any) => [s.metadata.name, s.spec.ports[0].port]));
                assert.deepStrictEqual(ports, {
                    auth: 8003, pyxis: 8001, "request-management": 8002, redis: 6379, postgres: 5432, gateway: 80, "gateway-internal": 80,
                    "gateway-metrics": 9113, "gateway-log-metrics": 3903, "redis-metrics": 9121, "postgres-exporter": 9187,
                });
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
                    // The service's login for this password (a member of its group role; sql/05-roles.sql).
                    assert.match(url, new RegExp(`^postgresql\\+asyncpg://${roles[svc]}_[0-9a-f]{10}:[^@]+@postgres\\.asky\\.svc\\.cluster\\.local:5432/asky$`));
                    const password = decodeURIComponent(url.split("//")[1].split("@")[0].split(":")[1]);
                    assert.strictEqual(url.split("//")[1].split(":")[0], serviceLoginRole(roles[svc], password));
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
                const keys = resources.filter((r) => r.type.startsWith("tls:")).map((r) => mockKeyPair(r.name).privateKeyPem);
                assert.strictEqual(keys.length, 1);
                keys.push(serviceToken(resources));
                const visible = JSON.stringify(objects.filter((o) => o.kind !== "Secret"));
                for (const value of [...passwords, ...keys]) assert.ok(!visible.includes(value), `${value} is visible outside Secrets`);
                assert.ok(!/BEGIN [A-Z ]*PRIVATE KEY|BEGIN PUBLIC KEY|\$2[aby]\$\d\d\$/.test(visible));
            });

            it("mounts a service token signed by the stack's own key at /app/services/token.json in request-management", async () => {
                const { objects, resources, outputs } = await renderedStack(stack);
                const pod = find(objects, "Deployment", "request-management").spec.template.spec;
                const mount = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === "/app/services/token.json");
                assert.deepStrictEqual(mount, { name: "service-token", mountPath: "/app/services/token.json", subPath: "token.json", readOnly: true });
                assert.strictEqual(pod.volumes.find((v: any) => v.name === mount.name).secret.secretName, "service-token");
                const [header, payload, signature] = serviceToken(resources).split(".");
                const publicKey = secretContent(resources, "jwt-public-key")["public_key.pem"];
                assert.ok(crypto.verify("sha256", Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, "base64url")), "verifies with the deployed public key");
                const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
                assert.deepStrictEqual(Object.keys(claims), ["sub", "role", "iat", "exp"]);
                assert.ok(claims.exp * 1000 > Date.now(), "not expired");
                assert.strictEqual(claims.exp - claims.iat, 48 * 3600, "the default lifetime");
                assert.strictEqual(outputs.serviceTokenExpiresAt.value, new Date(claims.exp * 1000).toISOString());
            });

            it("orders the deploy like run.sh: database ready and schema applied, then the services; the gateway after their Services (GW-9)", async () => {
                const { objects } = await renderedStack(stack);
                const at = (kind: string, name: string) => objects.findIndex((o) => o.kind === kind && (name === "*" ? true : o.metadata.name === name));
                const job = objects.findIndex((o) => o.kind === "Job");
                assert.ok(at("StatefulSet", "postgres") < job, "the schema Job waits for the database");
                for (const svc of ["auth", "pyxis", "request-management"]) {
                    assert.ok(job < at("Deployment", svc), `${svc} rolls after the schema Job`);
                    assert.ok(at("Service", svc) < at("Deployment", "gateway"), `gateway starts after Service ${svc}`);
                }
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
            "asky:database": { ...database, users: [...database.users, { name: "Farmácia", email: "pharmacy@asky.local", phoneNumber: "+5511990010009", role: "agent" }] },
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

describe("the service token across deploys (index.ts under mocks, clock stopped)", () => {
    const at = new Date("2026-05-20T08:30:00Z");
    const token = async (when: Date, overrides: Record<string, unknown> = {}) =>
        atTime(when, async () => serviceToken((await renderStack("dev", overrides)).resources));

    it("two program runs with the same key and clock mint the identical token; the next rotation window mints a new one", async () => {
        const first = await token(at);
        assert.strictEqual(await token(at), first, "a second `pulumi up` while fresh changes nothing");
        assert.strictEqual(await token(new Date(at.getTime() + 3600e3)), first, "same window, same token");
        const window = 24 * 3600e3;
        const nextWindow = new Date(Math.ceil(at.getTime() / window) * window);
        assert.notStrictEqual(await token(nextWindow), first);
    });

    it("asky:serviceToken sets lifetime and rotation; a rotation not shorter than the lifetime is refused before any resource", async () => {
        const claims = JSON.parse(Buffer.from((await token(at, { "asky:serviceToken": { lifetimeHours: 12, rotationHours: 6 } })).split(".")[1], "base64url").toString());
        assert.strictEqual(claims.exp - claims.iat, 12 * 3600);
        assert.strictEqual(claims.iat % (6 * 3600), 0);
        await assert.rejects(renderStack("dev", { "asky:serviceToken": { lifetimeHours: 24, rotationHours: 24 } }),
            /asky:serviceToken\.rotationHours = 24: must be less than asky:serviceToken\.lifetimeHours \(24\)/);
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
                const clusterScoped = ["Namespace", "PersistentVolume", "StorageClass", "PriorityClass"].includes(d.kind);
                assert.strictEqual(d.metadata.namespace, clusterScoped ? undefined : "asky", `${d.kind}/${d.metadata.name}`);
                if (d.kind === "Secret") {
                    // The keys stay visible (what a pod may reference), never the values.
                    assert.ok(Object.keys(d.stringData).length > 0, `${d.metadata.name} shows its keys`);
                    for (const v of Object.values(d.stringData)) assert.strictEqual(v, REDACTED);
                }
            }
            // kubectl reads YAML 1.1, where an unquoted `no` is a boolean: the file must mean the same there.
            const asKubectlReadsIt = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1" }).map((d) => d.toJS());
            assert.deepStrictEqual(asKubectlReadsIt, docs);
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

/** What a change after the first deploy does: updates in place, waits where it must, or is refused up front. */
describe("day-2 changes (index.ts, components, config/storage.ts)", () => {
    for (const stack of ["dev", "prod"] as const) {
        it(`${stack}: the provider updates Secrets and ConfigMaps in place (enableSecretMutable, enableConfigMapMutable) and none is immutable`, async () => {
            const { resources, objects } = await renderedStack(stack);
            const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes")!;
            // Provider inputs travel as JSON strings.
            assert.strictEqual(JSON.parse(String(provider.inputs.enableSecretMutable)), true);
            assert.strictEqual(JSON.parse(String(provider.inputs.enableConfigMapMutable)), true);
            const mutableKinds = objects.filter((o) => o.kind === "Secret" || o.kind === "ConfigMap");
            assert.ok(mutableKinds.length >= 9);
            // An immutable object is still replaced (delete first, for these fixed names) whatever the provider says.
            for (const o of mutableKinds) assert.strictEqual((o as any).immutable, undefined, `${o.kind}/${o.metadata.name}`);
        });

        it(`${stack}: no pod-running object is sent before every NetworkPolicy exists; the services and the cache wait for the schema Job; the gateway waits for the services' Services (GW-9), not their pods`, async () => {
            // Slow policies, schema Job and Deployments: whatever truly waits for them shows up after their completion.
            const slow = new Set(["NetworkPolicy", "Job", "Deployment"]);
            const render = await (async () => {
                await renderedStack(stack); // renders are sequential
                return renderStack(stack, {}, { latency: ({ inputs }) => (slow.has(String(inputs.kind)) ? 30 : 0) });
            })();
            const at = (phase: string, object: RegExp) => render.events.findIndex((e) => e.phase === phase && e.object !== undefined && object.test(e.object));
            const lastAt = (phase: string, object: RegExp) => render.events.map((e, i) => (e.phase === phase && e.object && object.test(e.object) ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
            const policiesDone = lastAt("created", /^NetworkPolicy\//);
            assert.ok(policiesDone > 0);
            for (const workload of [/^StatefulSet\//, /^Deployment\//, /^Job\//, /^CronJob\//]) {
                const first = at("requested", workload);
                if (first >= 0) assert.ok(first > policiesDone, `${render.events[first].object} was sent before the last NetworkPolicy existed`);
            }
            const jobDone = at("created", /^Job\/postgres-bootstrap-/);
            for (const name of ["auth", "pyxis", "request-management"]) {
                assert.ok(at("requested", new RegExp(`^Deployment/${name}$`)) > jobDone, `${name} waits for the schema Job`);
            }
            // ARCHITECTURE's order: the cache with the services, after the schema.
            assert.ok(at("requested", /^Deployment\/redis$/) > jobDone, "the cache waits for the schema Job");
            const gateway = at("requested", /^Deployment\/gateway$/);
            for (const name of ["auth", "pyxis", "request-management"]) {
                assert.ok(gateway > at("created", new RegExp(`^Service/${name}$`)), `the gateway waits for Service ${name}`);
                // NGINX needs the names to resolve, not the pods to be ready: the gateway starts beside the services.
                assert.ok(gateway < at("created", new RegExp(`^Deployment/${name}$`)), `the gateway does not wait for Deployment ${name}`);
            }
        });
    }

    for (const stack of ["dev", "prod"] as const) {
        it(`${stack}: every Service whose pods a Deployment's await covers says skipAwait; only prod's LoadBalancer (its address) and the StatefulSet's headless Service do not`, async () => {
            const { objects } = await renderedStack(stack);
            const services = objects.filter((o) => o.kind === "Service");
            const awaited = services.filter((o) => o.metadata.annotations?.["pulumi.com/skipAwait"] !== "true").map((o) => o.metadata.name).sort();
            assert.deepStrictEqual(awaited, stack === "prod" ? ["gateway", "postgres"] : ["postgres"]);
            assert.strictEqual(find(objects, "Service", "postgres").spec.clusterIP, "None", "the provider waits for no pod of a headless Service");
            // Each skipped Service selects the pods of a Deployment in the stack (whose await is kept).
            for (const svc of services.filter((o) => !awaited.includes(o.metadata.name))) {
                const selector = (svc as any).spec.selector as Record<string, string>;
                const owners = objects.filter((o) => o.kind === "Deployment" && Object.entries(selector).every(([k, v]) => (o as any).spec.template.metadata.labels[k] === v));
                assert.strictEqual(owners.length, 1, `Service ${svc.metadata.name} selects one Deployment's pods`);
            }
        });
    }

    it("dev: the StorageClass manual (no provisioner, expansion allowed, Retain) exists before the PV and the claim, so a larger size updates the claim in place", async () => {
        const { objects } = await renderedStack("dev");
        const sc = find(objects, "StorageClass", "manual");
        assert.deepStrictEqual([sc.provisioner, sc.allowVolumeExpansion, sc.reclaimPolicy, sc.volumeBindingMode], ["kubernetes.io/no-provisioner", true, "Retain", "Immediate"]);
        const index = (kind: string) => objects.findIndex((o) => o.kind === kind);
        assert.ok(index("StorageClass") < index("PersistentVolume") && index("PersistentVolume") < index("PersistentVolumeClaim"));
        const bigger = await renderStack("dev", { "asky:storage": { ...JSON.parse(stackConfig("dev").config["asky:storage"]), size: "8Gi" } });
        assert.strictEqual(find(bigger.objects, "PersistentVolumeClaim", "postgres-pv-claim").spec.resources.requests.storage, "8Gi");
        assert.strictEqual(find(bigger.objects, "PersistentVolume", "postgres-pv-volume").spec.capacity.storage, "8Gi");
    });

    describe("storage changes the claims cannot take in place are refused before any Kubernetes object", () => {
        const settings = (stack: "dev" | "prod", key: string) => JSON.parse(stackConfig(stack).config[key]);
        /** Renders `stack` with `overrides` as the next deploy after one that recorded `previous`. */
        const nextDeploy = async (stack: "dev" | "prod", overrides: Record<string, unknown>) => {
            const first = await renderedStack(stack);
            assert.strictEqual(first.outputs.storage.secret, false);
            return renderStack(stack, overrides, { previousOutputs: { storage: first.outputs.storage.value } });
        };
        const refused = async (stack: "dev" | "prod", overrides: Record<string, unknown>, expected: RegExp[]) => {
            let kubernetesObjects = -1;
            await assert.rejects(
                nextDeploy(stack, overrides).then((r) => { kubernetesObjects = r.objects.length; }),
                (err: Error) => {
                    for (const re of expected) assert.match(err.message, re);
                    assert.match(err.message, /nothing was deployed/);
                    return true;
                },
            );
            assert.strictEqual(kubernetesObjects, -1);
        };

        it("records what the claims were created with as the stack output storage", async () => {
            assert.deepStrictEqual((await renderedStack("dev")).outputs.storage.value, {
                database: { claimName: "postgres-pv-claim", storageClass: "manual", size: "5Gi", hostPath: "/mnt/data" },
            });
            assert.deepStrictEqual((await renderedStack("prod")).outputs.storage.value, {
                database: { claimName: "postgres-pv-claim", storageClass: "standard-rwo", size: "20Gi" },
                backup: { claimName: "postgres-backup", size: "50Gi" },
            });
        });

        it("records the environment, and refuses another one on a deployed stack before any Kubernetes object", async () => {
            const prod = await renderedStack("prod");
            assert.strictEqual(prod.outputs.environment.value, "prod");
            assert.deepStrictEqual(prod.outputs.breakGlass.value, []);
            let objects = -1;
            await assert.rejects(
                renderStack("prod", { "asky:environment": "dev" }, { previousOutputs: { environment: "prod", storage: prod.outputs.storage.value } }).then((r) => { objects = r.objects.length; }),
                (err: Error) => {
                    assert.match(err.message, /asky:environment = "dev": this stack was deployed as "prod", and a stack keeps its environment for its whole life \(allowed: "prod"\)/);
                    assert.match(err.message, /pulumi stack init/);
                    assert.match(err.message, /nothing was deployed/);
                    return true;
                },
            );
            assert.strictEqual(objects, -1);
            // The same environment again is a normal deploy.
            const again = await renderStack("prod", {}, { previousOutputs: { environment: "prod", storage: prod.outputs.storage.value } });
            assert.ok(again.objects.length > 0);
        });

        it("prod: another storage class for the same claim", async () => {
            await refused("prod", { "asky:storage": { ...settings("prod", "asky:storage"), storageClass: "premium-rwo" } },
                [/asky:storage\.storageClass = "premium-rwo": the claim postgres-pv-claim was created with class "standard-rwo"/, /new asky:storage\.claimName/, /Moving the database to a new volume/]);
        });

        it("dev: another hostPath for the same claim, and a smaller size", async () => {
            await refused("dev", { "asky:storage": { ...settings("dev", "asky:storage"), hostPath: "/data/asky-postgres", size: "2Gi" } },
                [/asky:storage\.hostPath = "\/data\/asky-postgres": the volume of the claim postgres-pv-claim is the node directory "\/mnt\/data"/, /asky:storage\.size = "2Gi": the claim postgres-pv-claim already has "5Gi" and a claim never shrinks/]);
        });

        it("prod: another class or a smaller size for the backup claim", async () => {
            await refused("prod", { "asky:backup": { ...settings("prod", "asky:backup"), storageClass: "cold", storageSize: "10Gi" } },
                [/asky:backup\.storageClass = "cold": the backup claim postgres-backup was created with class \(unset\)/, /asky:backup\.storageSize = "10Gi"/]);
        });

        it("a larger size is an in-place update, and nothing is checked on a first deploy", async () => {
            const bigger = await nextDeploy("prod", { "asky:storage": { ...settings("prod", "asky:storage"), size: "40Gi" } });
            assert.strictEqual(find(bigger.objects, "PersistentVolumeClaim", "postgres-pv-claim").spec.resources.requests.storage, "40Gi");
            const fresh = await renderStack("prod", { "asky:storage": { ...settings("prod", "asky:storage"), storageClass: "premium-rwo" } });
            assert.strictEqual(find(fresh.objects, "PersistentVolumeClaim", "postgres-pv-claim").spec.storageClassName, "premium-rwo");
        });

        it("a new claim name is the migration path: a new claim (and dev PV), mounted by postgres, with the schema Job run again on it", async () => {
            const base = await renderedStack("dev");
            const moved = await nextDeploy("dev", { "asky:storage": { ...settings("dev", "asky:storage"), claimName: "postgres-data-2", hostPath: "/data/asky-postgres" } });
            const pvc = find(moved.objects, "PersistentVolumeClaim", "postgres-data-2");
            assert.strictEqual(pvc.spec.volumeName, "postgres-data-2-pv");
            assert.deepStrictEqual(find(moved.objects, "PersistentVolume", "postgres-data-2-pv").spec.claimRef, { namespace: "asky", name: "postgres-data-2" });
            const volumes = find(moved.objects, "StatefulSet", "postgres").spec.template.spec.volumes;
            assert.deepStrictEqual(volumes.find((v: any) => v.name === "data").persistentVolumeClaim, { claimName: "postgres-data-2" });
            const job = (r: typeof base) => r.objects.find((o) => o.kind === "Job")!.metadata.name;
            assert.notStrictEqual(job(moved), job(base), "the new, empty database gets the schema");
            assert.deepStrictEqual((moved.outputs.storage.value as any).database.claimName, "postgres-data-2");
        });
    });

    it("DATA-1 the objects prod keeps in the cluster are registered with retainOnDelete under these URNs (README: adopting them)", async () => {
        const { identities } = await renderedStack("prod");
        const kept = identities.filter((i) => i.retainOnDelete && i.type.startsWith("kubernetes:")).map((i) => i.urn).sort();
        assert.deepStrictEqual(kept, [
            "urn:pulumi:prod::asky::asky:index:Backup$kubernetes:core/v1:PersistentVolumeClaim::asky-pvc",
            "urn:pulumi:prod::asky::asky:index:Database$kubernetes:apps/v1:StatefulSet::asky-statefulset",
            "urn:pulumi:prod::asky::asky:index:Database$kubernetes:core/v1:PersistentVolumeClaim::asky-pvc",
            "urn:pulumi:prod::asky::asky:index:Namespace$kubernetes:core/v1:Namespace::asky-namespace",
        ]);
        assert.deepStrictEqual((await renderedStack("dev")).identities.filter((i) => i.retainOnDelete), [], "dev keeps nothing");
    });

    it("DATA-1 what prod keeps is applied under one fixed field manager, so a later stack can adopt it without field conflicts", async () => {
        const managed = (stack: "dev" | "prod") => renderedStack(stack).then(({ objects }) => objects
            .filter((o) => o.metadata.annotations?.["pulumi.com/patchFieldManager"] === "asky-retained")
            .map((o) => `${o.kind}/${o.metadata.name}`).sort());
        assert.deepStrictEqual(await managed("prod"), ["Namespace/asky", "PersistentVolumeClaim/postgres-backup", "PersistentVolumeClaim/postgres-pv-claim", "StatefulSet/postgres"]);
        assert.deepStrictEqual(await managed("dev"), [], "dev keeps nothing, so it names no manager");
    });

});

import { Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { childPids, killPulumi, restartControlPlane, secondsUntil } from "./support/faults";
import { identities, KObject, list, must, waitFor } from "./support/kube";
import { record, scenarioOf, Scenario, underLoad } from "./support/load";
import { run } from "./support/processes";
import { managedClusterStandIn, merge, prodOverlay, provideStorageClass, useManagedStorage } from "./support/managed";
import { pinnedImages, RealNodeCluster, releaseRealNode, retagStackImage, sharedRealNode, useStackImages } from "./support/realNode";
import { E2E, e2eStack, editStackConfig, outputLog, ROOT } from "./support/stack";
import { http, httpsAs, runningPods } from "./support/traffic";

const { bin, workdir, clusterName } = E2E;
const NS = "asky";
const STACK = "e2e-dev-faults";
/** The faults stack's own data directory (the dev file's stays as it left it). */
const HOST_PATH = "/srv/asky-e2e/postgres-faults";
const READ_RATE = 40;
const WRITE_RATE = 10;

/** The data objects a recovery must keep (never deleted and created again). */
const DATA = ["statefulset/postgres", "pvc/postgres-pv-claim"];

/** The README's recovery after an interrupted `pulumi up` (Operations), as commands. */
function readmeRecovery(): string[] {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### When `pulumi up` was interrupted"));
    const block = /```bash\n([\s\S]*?)\n```/.exec(section);
    if (!block) throw new Error("README: no recovery block under 'When `pulumi up` was interrupted'");
    return block[1].split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l && !l.startsWith("#"));
}

/**
 * Follows the README's recovery on the stack, command by command, with the Automation API (the e2e's
 * way of running the CLI on this program); a command it does not know fails the test, so the README
 * and this stay the same.
 */
async function followRecovery(stack: Stack, step: string): Promise<void> {
    for (const [i, line] of readmeRecovery().entries()) {
        const cmd = line.replace(/--stack \S+/, "").replace(/\s+/g, " ").trim();
        const log = outputLog(workdir, `${step}-${i}`);
        if (/^pulumi stack export$/.test(cmd) || /^pulumi stack$/.test(cmd)) continue; // reading only
        else if (cmd === "pulumi cancel --yes") await stack.cancel();
        else if (cmd === "pulumi refresh --clear-pending-creates --yes") await stack.refresh({ clearPendingCreates: true, onOutput: log });
        else if (/^(\w+)=true pulumi up --yes$/.test(cmd)) {
            const name = /^(\w+)=/.exec(cmd)![1];
            const env = stack.workspace.envVars;
            env[name] = "true";
            try {
                assert.strictEqual((await stack.up({ onOutput: log })).summary.result, "succeeded");
            } finally {
                delete env[name];
            }
        } else if (cmd === "pulumi preview --expect-no-changes") await stack.preview({ expectNoChanges: true, onOutput: log });
        else throw new Error(`the README's recovery has a command this test does not follow: ${line}`);
    }
}

describe("e2e: changes and faults under load on the real node (nothing lost, nothing dropped)", function () {
    let node: RealNodeCluster;
    let stack: Stack;
    let gateway: string;
    let token: string;

    before(async function () {
        node = await sharedRealNode({ name: clusterName, bin, workdir });
        run("install", ["-d", "-o", "999", "-g", "999", HOST_PATH]);
        stack = await e2eStack({
            name: STACK, base: "dev", workdir, bin,
            configure: (c) => {
                c["asky:kubeconfig"] = node.cluster.kubeconfig;
                c["asky:kubeContext"] = node.cluster.context;
                c["asky:storage"].hostPath = HOST_PATH;
                useStackImages(c, node.images);
            },
        });
        const cfg = YAML.parse(fs.readFileSync(path.join(workdir, "project", `Pulumi.${STACK}.yaml`), "utf8")).config;
        gateway = `http://${node.nodeIp}:${cfg["asky:gateway"].nodePort}`;
    });

    let failed = false;
    afterEach(function () {
        failed ||= this.currentTest?.state === "failed";
    });
    after(async function () {
        // The last real-node file: the node goes when everything passed (a failure leaves it for a look).
        if (node && !failed) await releaseRealNode({ name: clusterName, bin, workdir });
    });

    const psql = (sql: string) => node.cluster.kubectl(["-n", NS, "exec", "postgres-0", "-c", "postgres", "--",
        "psql", "-X", "-qAt", "-U", "postgres", "-d", "asky", "-c", sql]).trim();
    const present = (ids: number[]) => ids.length ? Number(psql(`SELECT count(*) FROM requests.medicine_requests WHERE id = ANY('{${ids.join(",")}}'::int[])`)) : 0;
    /** Restarts of the service containers so far: a crash loop shows here. */
    const restarts = () => Object.fromEntries(runningPods(node.cluster, NS).filter((p) => p.metadata.labels?.["app.kubernetes.io/component"] === "api")
        .map((p) => [p.metadata.labels?.["app.kubernetes.io/name"], p.status.containerStatuses.reduce((n: number, c: any) => n + c.restartCount, 0)]));
    const writeOnce = async () => (await http(`${gateway}/requests/medicine_requests`, { method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ dispenser_id: 1, medicine_id: 4, requested_by: 3, batch_number: "e2e-probe" }) }, 3000)).status === 201;

    describe("the CLI dies; the README's recovery converges", function () {
        it("SIGKILL of pulumi up while it waits for the database; recovery keeps every object it created", async function () {
            const up = stack.up({ onOutput: outputLog(workdir, "r1-up-killed-at-database") });
            up.catch(() => undefined);
            await waitFor("the StatefulSet to exist, its pod not yet ready", () => {
                const sts = node.cluster.get<KObject>(["-n", NS, "statefulset", "postgres"]);
                return !!sts && !sts.status?.readyReplicas;
            }, 300_000, 200);
            killPulumi();
            await assert.rejects(up);
            const created = identities(node.cluster, NS, DATA);
            const pv = must(node.cluster, undefined, "pv", "postgres-pv-volume").metadata.uid;
            await followRecovery(stack, "r1-recovery");
            assert.deepStrictEqual(Object.fromEntries(Object.entries(identities(node.cluster, NS, DATA)).map(([k, v]) => [k, v.uid])),
                Object.fromEntries(Object.entries(created).map(([k, v]) => [k, v.uid])), "claim and StatefulSet kept");
            assert.strictEqual(must(node.cluster, undefined, "pv", "postgres-pv-volume").metadata.uid, pv, "PV kept");
            assert.strictEqual(list(node.cluster, NS, "statefulsets").length, 1, "one StatefulSet");
            assert.strictEqual((await http(`${gateway}/healthz`)).status, 200);
            const passwords = (await stack.outputs()).initialUserPasswords.value as Record<string, string>;
            token = (await http(`${gateway}/auth/login`, { method: "POST", headers: { "content-type": "application/json" },
                body: JSON.stringify({ email: "nurse@asky.local", password: passwords["nurse@asky.local"] }) })).body.access_token;
            assert.ok(await writeOnce(), "the platform writes after the recovery");
        });

        it("SIGKILL of pulumi up during the services wave of an update, under load: no acknowledged row lost, recovery converges with the data objects kept", async function () {
            const before = identities(node.cluster, NS, DATA);
            const rows = Number(psql("SELECT count(*) FROM requests.medicine_requests"));
            editStackConfig(workdir, STACK, (c) => {
                for (const s of ["auth", "pyxis", "request-management"]) c["asky:services"][s].image = retagStackImage(node, c["asky:services"][s].image, "1.0.2-e2e");
            });
            const { report } = await underLoad({ url: gateway, token, tag: "e2e-cli-killed-services", readRate: READ_RATE, writeRate: WRITE_RATE }, async () => {
                const up = stack.up({ onOutput: outputLog(workdir, "r2-up-killed-in-services") });
                up.catch(() => undefined);
                await waitFor("a service Deployment to be rolling", () => ["auth", "pyxis", "request-management"].some((d) => {
                    const dep = must(node.cluster, NS, "deployment", d);
                    return dep.spec.template.spec.containers[0].image.endsWith(":1.0.2-e2e");
                }), 300_000, 200);
                killPulumi();
                await assert.rejects(up);
                await followRecovery(stack, "r2-recovery");
                await waitFor("the replaced pods to be gone", () => !list(node.cluster, NS, "pods").some((p) => p.metadata.deletionTimestamp), 180_000, 500);
            });
            const s = scenarioOf("pulumi up killed during the services wave, then the README's recovery", report, { present: present(report.acknowledged) });
            record(workdir, s);
            assert.strictEqual(s.acknowledged - s.present!, 0, `lost rows: ${JSON.stringify(s)}`);
            assert.strictEqual(s.failed, 0, JSON.stringify(s));
            const after = identities(node.cluster, NS, DATA);
            for (const ref of DATA) assert.strictEqual(after[ref].uid, before[ref].uid, `${ref} kept`);
            assert.ok(Number(psql("SELECT count(*) FROM requests.medicine_requests")) >= rows + s.acknowledged, "no row lost");
        });

        it("the control plane restarted during pulumi up: the next up converges, nothing changes afterwards", async function () {
            const before = identities(node.cluster, NS, DATA);
            editStackConfig(workdir, STACK, (c) => {
                c["asky:gateway"].limits.clientMaxBodySize = "2m";
            });
            const up = stack.up({ onOutput: outputLog(workdir, "r3-up-during-restart") });
            up.catch(() => undefined);
            await waitFor("the CLI to be running", () => childPids("pulumi").length === 1, 60_000, 100);
            await new Promise((r) => setTimeout(r, 3000));
            await restartControlPlane(node.cluster, bin, workdir);
            const first = await up.then((r) => r.summary.result, (e: Error) => `failed: ${e.message.split("\n")[0]}`);
            fs.appendFileSync(path.join(workdir, "logs", "r3-first-up-result.log"), `${first}\n`);
            const again = await stack.up({ onOutput: outputLog(workdir, "r3-up-again") });
            assert.strictEqual(again.summary.result, "succeeded");
            await stack.preview({ expectNoChanges: true, onOutput: outputLog(workdir, "r3-preview") });
            const after = identities(node.cluster, NS, DATA);
            for (const ref of DATA) assert.strictEqual(after[ref].uid, before[ref].uid, `${ref} kept`);
            assert.match(Object.values(must(node.cluster, NS, "configmap", "gateway-config").data ?? {}).join("\n"), /client_max_body_size\s+2m;/);
        });
    });

    describe("pod faults under load", function () {
        it("the PostgreSQL pod deleted during writes: back on the same volume with every acknowledged row; the services answer errors meanwhile, never crash-loop", async function () {
            const restartsBefore = restarts();
            const uid = must(node.cluster, NS, "pvc", "postgres-pv-claim").metadata.uid;
            let recovery = 0;
            const old = must(node.cluster, NS, "pod", "postgres-0").metadata.uid;
            const { report } = await underLoad({ url: gateway, token, tag: "e2e-postgres-deleted", readRate: READ_RATE, writeRate: WRITE_RATE }, async () => {
                node.cluster.kubectl(["-n", NS, "delete", "pod", "postgres-0", "--wait=false"]);
                await waitFor("postgres-0 to be replaced", () => node.cluster.get<KObject>(["-n", NS, "pod", "postgres-0"])?.metadata.uid !== old, 120_000, 250);
                recovery = await secondsUntil("a write to succeed again", writeOnce);
            });
            const s: Scenario = scenarioOf("PostgreSQL pod deleted during writes", report, { present: present(report.acknowledged), recoverySeconds: Math.round(recovery) });
            record(workdir, s);
            assert.strictEqual(s.acknowledged - s.present!, 0, `every acknowledged row is back: ${JSON.stringify(s)}`);
            assert.strictEqual(must(node.cluster, NS, "pvc", "postgres-pv-claim").metadata.uid, uid, "the same volume");
            assert.deepStrictEqual(restarts(), restartsBefore, "no service container restarted");
        });

        it("the Redis pod killed: the catalogue reads fall back to the database; Redis is back by itself", async function () {
            const pod = runningPods(node.cluster, NS).find((p) => p.metadata.labels?.["app.kubernetes.io/name"] === "redis")!;
            let recovery = 0;
            const { report } = await underLoad({ url: gateway, token, tag: "e2e-redis-killed", readRate: READ_RATE, writeRate: WRITE_RATE }, async () => {
                node.cluster.kubectl(["-n", NS, "delete", "pod", pod.metadata.name, "--grace-period=0", "--force", "--wait=false"]);
                recovery = await secondsUntil("the cache to answer again", async () =>
                    (await http(`${gateway}/pyxis/dispensers`, { headers: { authorization: `Bearer ${token}` } })).headers.get("x-cache") === "hit");
            });
            const s = scenarioOf("Redis pod killed", report, { present: present(report.acknowledged), recoverySeconds: Math.round(recovery),
                notes: "reads answered from the database while the cache was away" });
            record(workdir, s);
            assert.deepStrictEqual({ failed: s.failed, lost: s.acknowledged - s.present! }, { failed: 0, lost: 0 }, JSON.stringify(s));
        });

        it("teardown: destroy the faults stack", async function () {
            assert.strictEqual((await stack.destroy({ onOutput: outputLog(workdir, "r9-destroy") })).summary.result, "succeeded");
            await waitFor("the namespace to be gone", () => node.cluster.get(["namespace", NS]) === undefined, 180_000);
            await stack.workspace.removeStack(STACK);
        });
    });

    describe("prod-shaped: two replicas, PDBs, encrypted backups", function () {
        const PROD = "e2e-prod-shaped";
        const BASE = "/srv/asky-e2e/prod";
        let prod: Stack;
        let gatewayUrl: string;
        let hostname: string;
        let gnupg: string;
        let stopStandIn: () => void = () => undefined;

        /** Requests to the gateway's HTTPS NodePort as its public name. */
        const call = (p: string, init: Parameters<typeof httpsAs>[2] = {}) => httpsAs(hostname, `${gatewayUrl}${p}`, init);

        before(async function () {
            // What a managed cluster and the organisation provide: a Retain StorageClass with volumes (folders of this
            // node owned by the postgres UID), the TLS Secret, the load balancer's address, and the backup key pair.
            provideStorageClass(node.cluster);
            for (const dir of ["e2e-database", "e2e-backup"]) run("install", ["-d", "-o", "999", "-g", "999", `${BASE}/${dir}`]);
            gnupg = fs.mkdtempSync(path.join(workdir, "gnupg-"));
            const gpg = (...args: string[]) => run("gpg", ["--homedir", gnupg, "--batch", "--passphrase", "", ...args]);
            gpg("--quick-gen-key", "Asky e2e backups <backups@asky.test>", "ed25519", "cert", "never");
            const fpr = /fpr:+([0-9A-F]{40}):/.exec(gpg("--with-colons", "--list-keys"))![1];
            gpg("--quick-add-key", fpr, "cv25519", "encr", "never");
            const publicKey = gpg("--armor", "--export", fpr);
            prod = await e2eStack({
                name: PROD, base: "prod", workdir, bin,
                configure: (c) => {
                    merge(c, prodOverlay());
                    c["asky:kubeconfig"] = node.cluster.kubeconfig;
                    c["asky:kubeContext"] = node.cluster.context;
                    useManagedStorage(node.cluster, c, BASE);
                    useStackImages(c, pinnedImages(node));
                    c["asky:backup"].encryption.publicKey = publicKey;
                },
            });
            hostname = prodOverlay()["asky:gateway"].tls.hostname;
            stopStandIn = managedClusterStandIn(node.cluster, workdir, NS);
            assert.strictEqual((await prod.up({ onOutput: outputLog(workdir, "p1-prod-up") })).summary.result, "succeeded");
            const svc = must(node.cluster, NS, "service", "gateway");
            const port = svc.spec.ports.find((p: any) => p.port === 443);
            gatewayUrl = `https://${node.nodeIp}:${port.nodePort}`;
            const passwords = (await prod.outputs()).initialUserPasswords.value as Record<string, string>;
            const login = await call("/auth/login", { method: "POST", headers: { "content-type": "application/json" },
                body: JSON.stringify({ email: "nurse@asky.local", password: passwords["nurse@asky.local"] }) });
            assert.strictEqual(login.status, 200, JSON.stringify(login.body));
            token = login.body.access_token;
        });
        after(function () {
            stopStandIn();
        });

        const load = (tag: string) => ({ url: gatewayUrl, token, tag, readRate: READ_RATE, writeRate: WRITE_RATE, hostname });
        const podsOf = (name: string) => runningPods(node.cluster, NS).filter((p) => p.metadata.labels?.["app.kubernetes.io/name"] === name && !p.metadata.deletionTimestamp);
        const settledReplicas = (names: string[]) => waitFor("every workload back at its replicas, nothing terminating", () =>
            !list(node.cluster, NS, "pods").some((p) => p.metadata.deletionTimestamp) &&
            names.every((n) => { const d = must(node.cluster, NS, "deployment", n); return d.status.readyReplicas === d.spec.replicas; }), 180_000, 500);

        it("runs two ready pods of the gateway and of each service, each under a PodDisruptionBudget", async function () {
            // An autoscaled Deployment leaves spec.replicas to its HPA (components/workload.ts): it starts with one
            // pod, and the HPA raises it to minReplicas on its first sync (15 s), metrics or not.
            const names = ["gateway", "auth", "pyxis", "request-management"];
            await waitFor("two ready pods of each (the HPAs at their minReplicas)", () => names.every((n) =>
                podsOf(n).filter((p) => p.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")).length >= 2), 120_000, 1000);
            for (const name of names) {
                assert.ok(podsOf(name).length >= 2, `${name}: ${podsOf(name).length} pods`);
                assert.strictEqual(must(node.cluster, NS, "pdb", name).spec.maxUnavailable, 1);
            }
        });

        it("a gateway pod evicted under load (the PDB refuses a second at once): no request fails", async function () {
            const [first, second] = podsOf("gateway").map((p) => p.metadata.name);
            const evict = (pod: string) => node.cluster.kubectl(["create", "--raw", `/api/v1/namespaces/${NS}/pods/${pod}/eviction`, "-f", "-"],
                JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace: NS } }));
            const { report } = await underLoad(load("e2e-gateway-evicted"), async () => {
                evict(first);
                assert.throws(() => evict(second), /disruption budget/, "the PDB keeps the second gateway pod");
                await settledReplicas(["gateway"]);
            });
            const s = scenarioOf("gateway pod evicted (prod: 2 replicas, PDB)", report, { present: present(report.acknowledged) });
            record(workdir, s);
            assert.deepStrictEqual({ failed: s.failed, lost: s.acknowledged - s.present! }, { failed: 0, lost: 0 }, JSON.stringify(s));
        });

        it("a pod of pyxis and one of request-management deleted under load: no request fails", async function () {
            const victims = [podsOf("pyxis")[0], podsOf("request-management")[0]].map((p) => p.metadata.name);
            const { report } = await underLoad(load("e2e-service-pods-deleted"), async () => {
                node.cluster.kubectl(["-n", NS, "delete", "pod", ...victims, "--wait=false"]);
                await settledReplicas(["pyxis", "request-management"]);
            });
            const s = scenarioOf("service pods deleted (prod: 2 replicas each)", report, { present: present(report.acknowledged) });
            record(workdir, s);
            assert.deepStrictEqual({ failed: s.failed, lost: s.acknowledged - s.present! }, { failed: 0, lost: 0 }, JSON.stringify(s));
        });

        it("a backup run writes an encrypted dump on its claim; the README's restore brings the rows back into a scratch database and over the live one", async function () {
            const write = async (batch: string) => (await call("/requests/medicine_requests", { method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
                body: JSON.stringify({ dispenser_id: 2, medicine_id: 5, requested_by: 3, batch_number: batch }) })).body.id as number;
            const kept: number[] = [];
            for (let i = 0; i < 5; i++) kept.push(await write("e2e-before-backup"));
            // The README's restore, as written: its first line runs the backup; what follows is run once the dump is there.
            const restore = readmeRestore();
            run("bash", ["-c", restore.backup], { env: restoreEnv(), timeout: 60_000 });
            let failed = false;
            await waitFor("the backup Job to complete", () => {
                const job = must(node.cluster, NS, "job", "backup-now");
                failed = job.status?.conditions?.some((c: any) => c.type === "Failed" && c.status === "True") ?? false;
                return failed || job.status?.succeeded === 1;
            }, 600_000, 1000);
            if (failed) assert.fail(`the backup Job failed:\n${node.cluster.kubectl(["-n", NS, "logs", "job/backup-now", "--all-containers"])}`);
            const dumps = fs.readdirSync(`${BASE}/e2e-backup`).filter((f) => /^asky-.*\.dump\.gpg$/.test(f));
            assert.strictEqual(dumps.length, 1, `one dump on the claim: ${dumps}`);
            const raw = fs.readFileSync(`${BASE}/e2e-backup/${dumps[0]}`);
            assert.ok(!raw.includes(Buffer.from("e2e-before-backup")), "no plaintext row in the dump");
            // After the backup: a row that the restore over the live data removes, and a kept row lost by mistake.
            const later = await write("e2e-after-backup");
            psql(`DELETE FROM requests.medicine_requests WHERE id = ${kept[0]}`);
            const stamp = dumps[0].replace(/^asky-(.*)\.dump\.gpg$/, "$1");
            run("bash", ["-c", restore.rest.replace(/<UTC stamp>/g, stamp)], { env: restoreEnv(), cwd: fs.mkdtempSync(path.join(workdir, "restore-")), timeout: 600_000 });
            const scratch = Number(node.cluster.kubectl(["-n", NS, "exec", "postgres-0", "-c", "postgres", "--", "psql", "-X", "-qAt", "-U", "postgres", "-d", "asky_restored",
                "-c", "SELECT count(*) FROM requests.medicine_requests WHERE batch_number = 'e2e-before-backup'"]).trim());
            assert.strictEqual(scratch, kept.length, "the scratch database holds every row of the dump");
            assert.strictEqual(present(kept), kept.length, "the live database has the lost row back");
            assert.strictEqual(present([later]), 0, "and is the backup's state: the later row is not in it");
            await settledReplicas(["gateway"]);
            assert.ok(await write("e2e-after-restore"), "the writers work again after the restore");
        });

        /** The README's restore block (Backups and restore): the backup line, and the rest with the example image and the bucket line adapted. */
        function readmeRestore(): { backup: string; rest: string } {
            const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
            const section = readme.slice(readme.indexOf("## Backups and restore"));
            const blocks = [...section.matchAll(/```bash\n([\s\S]*?)\n```/g)].map((m) => m[1]);
            const block = blocks.find((b) => b.includes("postgres-restore"));
            if (!block) throw new Error("README: no restore block under 'Backups and restore'");
            const lines = block.split("\n");
            const backupLine = lines.findIndex((l) => l.includes("create job --from=cronjob/postgres-backup"));
            if (backupLine < 0) throw new Error("README: the restore block does not start the backup");
            const image = /image: (\S+)/.exec(block)![1];
            const rest = lines.slice(backupLine + 1)
                // No bucket here: the dump is taken from the claim, the README's first way.
                .filter((l) => !/^rclone |^aws /.test(l.trim()))
                .join("\n").replace(image, (useDbImage()));
            return { backup: lines.slice(0, backupLine + 1).join("\n"), rest };
        }
        const useDbImage = () => must(node.cluster, NS, "statefulset", "postgres").spec.template.spec.containers[0].image as string;
        const restoreEnv = () => ({ ...process.env, KUBECONFIG: node.cluster.kubeconfig, GNUPGHOME: gnupg, PATH: `${bin}:${process.env.PATH}` });
    });
});

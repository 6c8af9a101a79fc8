import { Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { serverVersion } from "./support/cluster";
import { userPasswordEnv } from "../../sql/seedUsers";
import { identities, KObject, leftovers, list, must, podTemplateHashes, waitFor } from "./support/kube";
import { NODE_NAME } from "./support/node";
import { run } from "./support/processes";
import { configureDevStack, E2E_HOST_PATH, hostPathVolume, RealNodeCluster, retagStackImage, sharedRealNode } from "./support/realNode";
import { deployObjects, deployTimeline, orderingViolations } from "./support/timeline";
import { E2E, e2eStack, editStackConfig, outputLog, ROOT } from "./support/stack";
import { allowedFlows, AllowedFlow, connectFrom, http, nameOf, Probe, resolveFrom, runningPods } from "./support/traffic";
import { ENFORCER, installNetworkPolicies, netpolManifests, removeEnforcerRules } from "./support/netpol";
import { record, scenarioOf, underLoad } from "./support/load";

const { bin, workdir, clusterName, keep } = E2E;
const NS = "asky";
const STACK = "e2e-dev";
/** The namespaces of the pods the e2e adds: another tenant of the cluster, and the configured scraper. */
const OUTSIDER_NS = "e2e-outsider";
const SCRAPER_NS = "monitoring";
/** The load during changes and faults: requests per second through the gateway. */
const READ_RATE = 40;
const WRITE_RATE = 10;

/** The URN of the one resource of `type` whose name is `name`, from the stack's state. */
async function urnOf(stack: Stack, type: string, name: string): Promise<string> {
    const state = await stack.exportStack();
    const found = (state.deployment.resources ?? []).filter((r: any) => r.type === type && r.urn.endsWith(`::${name}`));
    assert.strictEqual(found.length, 1, `one ${type} named ${name} in the state`);
    return found[0].urn;
}

/** A long-running pod with a shell in another namespace (the redis image: bash, coreutils), hardened like ours. */
function shellPod(namespace: string, name: string, labels: Record<string, string>, image: string): string {
    return YAML.stringify({
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace, labels },
        spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
            containers: [{
                name: "shell", image, command: ["sleep", "infinity"],
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
            }],
            terminationGracePeriodSeconds: 1,
        },
    });
}

/** A pod's first container that has a shell (the exporters' sidecars share the pod's network). */
const mainContainer = (pod: KObject) => pod.spec.containers[0].name;

/** A query as the superuser, inside the database pod. */
function psql(node: RealNodeCluster, sql: string): string {
    return node.cluster.kubectl(["-n", NS, "exec", "postgres-0", "-c", "postgres", "--", "psql", "-X", "-qAt", "-U", "postgres", "-d", "asky", "-c", sql]).trim();
}

/** How many of the acknowledged rows are in the database. */
function rowsPresent(node: RealNodeCluster, ids: number[]): number {
    if (!ids.length) return 0;
    return Number(psql(node, `SELECT count(*) FROM requests.medicine_requests WHERE id = ANY('{${ids.map(Number).join(",")}}'::int[])`));
}

describe("e2e: the dev stack on a real node (kubelet, containerd, runc), deployed by the Pulumi CLI", function () {
    let node: RealNodeCluster;
    let stack: Stack;
    let gateway: string;

    before(async function () {
        node = await sharedRealNode({ name: clusterName, bin, workdir });
        hostPathVolume();
        // Where the cluster is, where the volume lives on this machine, and the images built here:
        // the committed dev stack otherwise, unchanged.
        stack = await e2eStack({ name: STACK, base: "dev", workdir, bin, configure: (c) => configureDevStack(c, node) });
        const cfg = YAML.parse(fs.readFileSync(path.join(workdir, "project", `Pulumi.${STACK}.yaml`), "utf8")).config;
        gateway = `http://${node.nodeIp}:${cfg["asky:gateway"].nodePort}`;
    });

    after(function () {
        // The node stays for the next real-node file (1-resilience removes it); with --keep, for a person.
        if (keep && node) fs.writeFileSync(path.join(workdir, "gateway-url"), gateway + "\n");
    });

    it("the API server enforces Pod Security admission, and the one node is real and Ready", function () {
        const { cluster } = node;
        assert.match(serverVersion(cluster), /^v1\.\d+\.\d+$/);
        const nodes = cluster.get<{ items: KObject[] }>(["nodes"])!.items;
        assert.deepStrictEqual(nodes.map((n) => n.metadata.name), [NODE_NAME]);
        const info = nodes[0].status.nodeInfo;
        assert.match(info.containerRuntimeVersion, /^containerd:\/\//);
        assert.strictEqual(info.kubeletVersion, serverVersion(cluster), "kubelet of the control plane's release");
        assert.strictEqual(nodes[0].metadata.annotations?.["kwok.x-k8s.io/node"], undefined, "not a KWOK node");
        cluster.kubectl(["create", "namespace", "psa-probe"]);
        cluster.kubectl(["label", "namespace", "psa-probe", "pod-security.kubernetes.io/enforce=restricted"]);
        assert.throws(
            () => cluster.kubectl(["-n", "psa-probe", "run", "privileged", `--image=${node.images.cache}`, "--privileged"]),
            /violates PodSecurity "restricted/,
        );
        cluster.kubectl(["delete", "namespace", "psa-probe", "--wait=false"]);
    });

    it("pulumi preview of the fresh stack plans every object and creates nothing", async function () {
        const result = await stack.preview({ onOutput: outputLog(workdir, "1-preview"), diff: true });
        const creates = result.changeSummary.create ?? 0;
        assert.ok(creates > 30, `preview plans ${creates} creates`);
        assert.strictEqual(node.cluster.get(["namespace", NS]), undefined, "preview created the namespace");
    });

    it("pulumi up creates everything and every pod runs on the real node, Ready", async function () {
        const { cluster } = node;
        const result = await stack.up({ onOutput: outputLog(workdir, "2-up") });
        assert.strictEqual(result.summary.result, "succeeded");
        assert.strictEqual(must(cluster, undefined, "namespace", NS).metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
        const jobs = list(cluster, NS, "jobs").filter((j) => j.metadata.name.startsWith("postgres-bootstrap-"));
        assert.strictEqual(jobs.length, 1);
        assert.ok(jobs[0].status.conditions?.some((c: any) => c.type === "Complete" && c.status === "True"), "schema Job complete");
        for (const name of ["auth", "gateway", "pyxis", "redis", "request-management", "postgres-exporter"]) {
            const d = must(cluster, NS, "deployment", name);
            assert.ok(d.status.conditions?.some((c: any) => c.type === "Available" && c.status === "True"), `${name} available`);
        }
        const pods = runningPods(cluster, NS);
        assert.ok(pods.length >= 7, `${pods.length} running pods`);
        for (const pod of pods) {
            assert.strictEqual(pod.spec.nodeName, NODE_NAME, `${pod.metadata.name} on the real node`);
            for (const c of pod.status.containerStatuses) {
                assert.ok(c.ready && c.state.running, `${pod.metadata.name}/${c.name} running and ready`);
                assert.strictEqual(c.restartCount, 0, `${pod.metadata.name}/${c.name} never restarted`);
            }
        }
        assert.strictEqual(must(cluster, undefined, "pv", "postgres-pv-volume").status.phase, "Bound");
    });

    it("the first up kept the deploy order, read from the cluster's timestamps: no pod before the NetworkPolicies, no service pod before the schema Job completed, no gateway pod before the Services it proxies (GW-9)", function () {
        const objects = deployObjects(node.cluster, NS);
        assert.deepStrictEqual(orderingViolations(objects), []);
        // The chain bench:deploy -- --real-node reports is there whole: every wait has its start and its end.
        assert.ok(deployTimeline(objects).criticalPath > 0);
    });

    it("PostgreSQL initialised its data directory on the hostPath volume as UID 999, and the schema Job's rows are there", function () {
        const pgdata = path.join(E2E_HOST_PATH, "pgdata");
        const st = fs.statSync(pgdata);
        assert.strictEqual(st.uid, 999, "PGDATA owned by the postgres UID");
        assert.strictEqual(st.mode & 0o777, 0o700);
        assert.ok(fs.existsSync(path.join(pgdata, "PG_VERSION")), "a cluster was initialised in the volume");
        const psql = (sql: string) => node.cluster.kubectl(["-n", NS, "exec", "postgres-0", "-c", "postgres", "--",
            "psql", "-X", "-qAt", "-U", "postgres", "-d", "asky", "-c", sql]).trim();
        assert.strictEqual(psql("SELECT count(*) FROM pyxis.dispenser"), "5");
        assert.strictEqual(psql("SELECT count(*) FROM pyxis.medicine"), "10");
        assert.strictEqual(psql("SELECT string_agg(email, ',' ORDER BY email) FROM auth.users"), "admin@asky.local,agent@asky.local,nurse@asky.local");
        assert.strictEqual(psql("SHOW password_encryption"), "scram-sha-256");
    });

    it("through the gateway's NodePort: /healthz, a login, and each service's contract on its public route", async function () {
        assert.strictEqual((await http(`${gateway}/healthz`)).status, 200);
        const passwords = (await stack.outputs()).initialUserPasswords.value as Record<string, string>;
        const login = await http(`${gateway}/auth/login`, { method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ email: "admin@asky.local", password: passwords["admin@asky.local"] }) });
        assert.strictEqual(login.status, 200, `login: ${JSON.stringify(login.body)}`);
        const auth = { Authorization: `Bearer ${login.body.access_token}` };
        const wrong = await http(`${gateway}/auth/login`, { method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ email: "admin@asky.local", password: "not-the-password" }) });
        assert.strictEqual(wrong.status, 401);

        const pyxis = await http(`${gateway}/pyxis/contract`, { headers: auth });
        assert.strictEqual(pyxis.status, 200, JSON.stringify(pyxis.body));
        // Each service logs in as the login of its current password, a member of its group role (sql/05-roles.sql).
        assert.match(pyxis.body.checks.database.user, /^asky_pyxis_[0-9a-f]{10}$/);
        assert.deepStrictEqual(pyxis.body.checks.database.tables, {
            "auth.users": { readable: false }, "pyxis.dispenser": { readable: true, rows: 5 }, "requests.medicine_requests": { readable: false },
        }, "pyxis reads its own schema and nothing else (SEC-3)");
        assert.strictEqual(pyxis.body.checks.caller.sub, "admin@asky.local", "pyxis verifies auth's token with the public key");
        assert.strictEqual((await http(`${gateway}/pyxis/dispensers`, { headers: auth })).body.length, 5);
        assert.strictEqual((await http(`${gateway}/pyxis/dispensers`)).status, 401, "no token, no data");

        const rm = await http(`${gateway}/requests/contract`);
        assert.strictEqual(rm.status, 200, JSON.stringify(rm.body));
        const checks = rm.body.checks;
        assert.match(checks.database.user, /^asky_requests_[0-9a-f]{10}$/);
        assert.deepStrictEqual(Object.entries(checks.database.tables).filter(([, t]: any) => t.readable).map(([n]) => n), ["requests.medicine_requests"]);
        assert.strictEqual(checks.database.canCreateInPublic, false);
        assert.ok(checks.redis.ok, "request-management reaches Redis at host redis");
        assert.deepStrictEqual([checks.serviceToken.sub, checks.serviceToken.role], ["pyxis_service", "admin"], "the service token file verifies");
        // request-management → GATEWAY_URL (the internal listener) → pyxis and auth, with the service token.
        assert.ok(checks.viaGatewayPyxis.ok, JSON.stringify(checks.viaGatewayPyxis));
        assert.ok(checks.viaGatewayPyxis.body.checks.redis.ok, "pyxis reaches Redis");
        assert.ok(checks.viaGatewayAuth.ok, JSON.stringify(checks.viaGatewayAuth));
        assert.match(checks.viaGatewayAuth.body.checks.database.user, /^asky_auth_[0-9a-f]{10}$/);
        assert.ok(checks.viaGatewayAuth.body.checks.key.signs, "auth signs with the private key at /app/services/private_key.pem");

        // The public listener serves only its allow-list: auth's internals are not on it.
        assert.strictEqual((await http(`${gateway}/auth/contract`)).status, 404);
        assert.strictEqual((await http(`${gateway}/auth/users/admin@asky.local`)).status, 404);
    });

    describe("NetworkPolicies, enforced by kube-router's firewall controller", function () {
        let flows: { ingress: AllowedFlow[]; egress: AllowedFlow[] };
        let pods: KObject[];
        let outsider: string;
        let scraper: string;
        let coredns: string;

        before(async function () {
            const { cluster } = node;
            flows = allowedFlows(cluster, NS);
            for (const [ns, name, labels] of [[OUTSIDER_NS, "outsider", { app: "outsider" }], [SCRAPER_NS, "prometheus", { "app.kubernetes.io/name": "prometheus" }]] as const) {
                cluster.kubectl(["create", "namespace", ns]);
                cluster.kubectl(["apply", "-f", "-"], shellPod(ns, name, labels, node.images.cache));
            }
            cluster.kubectl(["-n", OUTSIDER_NS, "wait", "--for=condition=Ready", "pod/outsider", "--timeout=120s"]);
            cluster.kubectl(["-n", SCRAPER_NS, "wait", "--for=condition=Ready", "pod/prometheus", "--timeout=120s"]);
            outsider = must(cluster, OUTSIDER_NS, "pod", "outsider").status.podIP;
            scraper = must(cluster, SCRAPER_NS, "pod", "prometheus").status.podIP;
            pods = runningPods(cluster, NS);
            coredns = runningPods(cluster, "kube-system").find((p) => p.metadata.labels?.["k8s-app"] === "kube-dns")!.status.podIP;
            assert.ok(outsider && scraper && coredns);
        });
        after(function () {
            if (keep) return;
            for (const ns of [OUTSIDER_NS, SCRAPER_NS]) node.cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
        });

        /** Every listening container port of the namespace's pods: pod IP, workload name, port. */
        const targets = () => pods.flatMap((p) => p.spec.containers.flatMap((c: any) =>
            (c.ports ?? []).map((port: any) => ({ to: nameOf(p), ip: p.status.podIP as string, port: port.containerPort as number }))));
        const admits = (from: string, to: string, port: number) =>
            flows.ingress.some((f) => (f.from === from || f.from === "*") && f.to === to && f.port === port);
        /** Between two pods of ours: the client's egress and the server's ingress must both allow it. */
        const allowed = (from: string, to: string, port: number) =>
            admits(from, to, port) && flows.egress.some((f) => f.from === from && f.to === to && f.port === port);

        /** For each pod of ours (as a client): every target, open where a flow allows it. */
        function probeMatrix(): { pairs: string[]; wrong: string[] } {
            const pairs: string[] = [];
            const wrong: string[] = [];
            for (const pod of pods) {
                const from = nameOf(pod);
                const ts = targets().filter((t) => t.to !== from);
                // Beyond the namespace: CoreDNS answers DNS (port 53, allowed) and serves metrics (9153, on no flow).
                const probes: Probe[] = [...ts.map((t) => ({ to: t.ip, port: t.port })), { to: coredns, port: 9153 }];
                const open = connectFrom(node.cluster, NS, pod.metadata.name, mainContainer(pod), probes);
                probes.forEach((p, i) => {
                    const t = ts[i];
                    const want = t ? allowed(from, t.to, t.port) : false;
                    const label = `${from} -> ${t ? t.to : "kube-system/coredns"}:${p.port}`;
                    pairs.push(`${label} ${open[i] ? "open" : "refused"}`);
                    if (open[i] !== want) wrong.push(`${label}: ${open[i] ? "open" : "refused"}, the policies say ${want ? "allowed" : "denied"}`);
                });
            }
            return { pairs, wrong };
        }

        it("the policies list the platform's flows (NET-2): services to postgres, pyxis/request-management to redis, request-management to the internal listener", function () {
            const has = (from: string, to: string) => flows.ingress.some((f) => f.from === from && f.to === to) &&
                (from === "*" || flows.egress.some((f) => f.from === from && f.to === to));
            for (const [from, to] of [["gateway", "auth"], ["gateway", "pyxis"], ["gateway", "request-management"], ["auth", "postgres"], ["pyxis", "postgres"],
                ["request-management", "postgres"], ["postgres-bootstrap", "postgres"], ["pyxis", "redis"], ["request-management", "redis"],
                ["request-management", "gateway"], ["postgres-exporter", "postgres"], ["*", "gateway"]]) {
                assert.ok(has(from, to), `${from} -> ${to} in ${JSON.stringify(flows)}`);
            }
        });

        it("NET-1/NET-2: every listed flow connects and every other pair of our pods is refused, on every listening port", function () {
            const { pairs, wrong } = probeMatrix();
            assert.ok(pairs.length > 40, `${pairs.length} pairs probed`);
            assert.deepStrictEqual(wrong, [], `every pair probed:\n${pairs.join("\n")}`);
        });

        it("DNS resolves exactly for the pods the allow-dns policy selects (kube-dns in kube-system); the others send no query that is answered", function () {
            const dns = node.cluster.get<KObject>(["-n", NS, "networkpolicy", "allow-dns"]);
            assert.ok(dns, "an allow-dns policy");
            const sel = dns!.spec.podSelector;
            const selected = (pod: KObject) => Object.keys(sel).length === 0 ||
                (sel.matchExpressions ?? []).some((e: any) => e.operator === "In" && e.values.includes(nameOf(pod)));
            const wrong = pods.map((pod) => ({ pod: pod.metadata.name, want: selected(pod), got: resolveFrom(node.cluster, NS, pod.metadata.name, mainContainer(pod), "postgres.asky.svc.cluster.local") }))
                .filter((r) => r.got !== r.want).map((r) => `${r.pod}: ${r.got ? "resolves" : "does not resolve"}, the policy says ${r.want ? "it may" : "it may not"}`);
            assert.deepStrictEqual(wrong, []);
        });

        it("from another namespace: only the gateway's public listener; postgres and the internal listener are refused", function () {
            const gw = pods.find((p) => nameOf(p) === "gateway")!;
            const pg = pods.find((p) => nameOf(p) === "postgres")!;
            const port = (p: KObject, name: string) => p.spec.containers.flatMap((c: any) => c.ports ?? []).find((x: any) => x.name === name).containerPort;
            const [pub, internal, db] = connectFrom(node.cluster, OUTSIDER_NS, "outsider", "shell", [
                { to: gw.status.podIP, port: port(gw, "http") }, { to: gw.status.podIP, port: port(gw, "internal") }, { to: pg.status.podIP, port: 5432 },
            ]);
            assert.deepStrictEqual({ pub, internal, db }, { pub: true, internal: false, db: false });
            // By Service name too: what a pod of another tenant would try.
            assert.deepStrictEqual(connectFrom(node.cluster, OUTSIDER_NS, "outsider", "shell", [{ to: "gateway-internal.asky.svc.cluster.local", port: 80 }]), [false]);
        });

        it("the configured scraper (namespace monitoring, app.kubernetes.io/name=prometheus) reaches the metrics ports and nothing else", function () {
            const metrics = flows.ingress.filter((f) => f.from === `ns:${SCRAPER_NS}`);
            assert.ok(metrics.length >= 4, JSON.stringify(metrics));
            const ts = targets();
            const open = connectFrom(node.cluster, SCRAPER_NS, "prometheus", "shell", ts.map((t) => ({ to: t.ip, port: t.port })));
            const wrong = ts.map((t, i) => ({ t, open: open[i], want: metrics.some((m) => m.to === t.to && m.port === t.port) || admits("*", t.to, t.port) }))
                .filter((r) => r.open !== r.want).map((r) => `${r.t.to}:${r.t.port} ${r.open ? "open" : "refused"}`);
            assert.deepStrictEqual(wrong, []);
        });

        it("the negative checks can fail: with enforcement removed, a denied pair connects; enforcement back, it is refused again", async function () {
            const { cluster } = node;
            const gw = pods.find((p) => nameOf(p) === "gateway")!;
            const pg = pods.find((p) => nameOf(p) === "postgres")!;
            const probe = () => connectFrom(cluster, NS, gw.metadata.name, mainContainer(gw), [{ to: pg.status.podIP, port: 5432 }])[0];
            assert.strictEqual(probe(), false, "gateway -> postgres is denied");
            const image = must(cluster, "kube-system", "daemonset", ENFORCER).spec.template.spec.containers[0].image;
            // Enforcement off, as when a cluster's policy engine is removed: the DaemonSet, then its rules.
            cluster.kubectl(["delete", "-f", "-", "--wait=true"], netpolManifests(image));
            await waitFor("the enforcer's pod to be gone", () => !runningPods(cluster, "kube-system").some((p) => p.metadata.name.startsWith(ENFORCER)), 60_000);
            removeEnforcerRules();
            await waitFor("gateway -> postgres to connect without enforcement", probe, 30_000);
            installNetworkPolicies(cluster, image);
            await waitFor("gateway -> postgres to be refused again", () => !probe(), 60_000);
        });
    });


    describe("your own images (npm run e2e:image)", function () {
        it("builds a folder of your own into an image the node pulls and runs", function () {
            const dir = fs.mkdtempSync(path.join(workdir, "my-app-"));
            fs.writeFileSync(path.join(dir, "hello.sh"), 'echo "hello from $(pwd), $GREETING"\n');
            const ref = run("npm", ["run", "--silent", "e2e:image", "--", "--name", "e2e-my-app", "--dir", dir, "--cmd", "sh hello.sh", "--env", "GREETING=asky"],
                { cwd: ROOT, env: { ...process.env, ASKY_TOOLCHAIN_DIR: path.dirname(bin) } }).trim().split("\n").pop()!;
            assert.match(ref, /^registry\.e2e\.asky\.test\/e2e-my-app:[0-9a-f]{12}$/);
            const { cluster } = node;
            cluster.kubectl(["create", "namespace", "e2e-my-app"]);
            cluster.kubectl(["-n", "e2e-my-app", "run", "my-app", `--image=${ref}`, "--restart=Never"]);
            cluster.kubectl(["-n", "e2e-my-app", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/my-app", "--timeout=60s"]);
            assert.strictEqual(cluster.kubectl(["-n", "e2e-my-app", "logs", "my-app"]).trim(), "hello from /app, asky");
            if (!keep) cluster.kubectl(["delete", "namespace", "e2e-my-app", "--wait=false"]);
        });
    });

    // What follows changes and removes the stack: not with --keep.
    (keep ? describe.skip : describe)("day 2 and teardown", function () {

        it("a second pulumi preview with nothing changed plans no change (--expect-no-changes)", async function () {
            const result = await stack.preview({ expectNoChanges: true, onOutput: outputLog(workdir, "3-preview-no-changes") });
            // "read" is the program's StackReference to its own last outputs (asky:storage guard), not a change.
            const changed = Object.entries(result.changeSummary).filter(([op, n]) => op !== "same" && op !== "read" && n);
            assert.deepStrictEqual(changed, [], "no operation other than same");
        });

        /** What a day-2 change must never replace: the database and its claim. */
        const kept = ["statefulset/postgres", "pvc/postgres-pv-claim"];

        /** Reads and writes through the gateway while `action` runs (a nurse's token); the scenario is recorded and its goals asserted: no failed request, every acknowledged row kept. */
        let token: string;
        before(async function () {
            const passwords = (await stack.outputs()).initialUserPasswords.value as Record<string, string>;
            const login = await http(`${gateway}/auth/login`, { method: "POST", headers: { "content-type": "application/json" },
                body: JSON.stringify({ email: "nurse@asky.local", password: passwords["nurse@asky.local"] }) });
            token = login.body.access_token;
        });
        async function withoutLoss<T>(name: string, action: () => Promise<T>): Promise<T> {
            const tag = `e2e-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`.slice(0, 60);
            // Until the replaced pods are gone: their drain and their stop signal fall inside the measured window.
            const { result, report } = await underLoad({ url: gateway, token, tag, readRate: READ_RATE, writeRate: WRITE_RATE }, async () => {
                const r = await action();
                await waitFor("the replaced pods to be gone", () => !list(node.cluster, NS, "pods").some((p) => p.metadata.deletionTimestamp), 180_000, 500);
                return r;
            });
            const scenario = scenarioOf(name, report, { present: rowsPresent(node, report.acknowledged) });
            record(workdir, scenario);
            assert.deepStrictEqual({ failed: scenario.failed, lost: scenario.acknowledged - scenario.present! }, { failed: 0, lost: 0 },
                `${name}: ${JSON.stringify(scenario)}`);
            assert.ok(scenario.acknowledged > 0, "writes were acknowledged during the change");
            return result;
        }

        it("day-2: rotating one generated password updates its Secrets in place, rolls the pods that read it, and they connect with it", async function () {
            const { cluster } = node;
            const before = identities(cluster, NS, [...kept, "secret/pyxis-database-url", "secret/database-role-passwords"]);
            const pyxisPods = podTemplateHashes(cluster, NS, "pyxis");
            const oldUrl = must(cluster, NS, "secret", "pyxis-database-url").data;
            const urn = await urnOf(stack, "random:index/randomPassword:RandomPassword", "asky-pyxis-password");
            const result = await withoutLoss("password rotated (pulumi up --replace)", () => stack.up({ replace: [urn], onOutput: outputLog(workdir, "4a-rotate-password") }));
            assert.strictEqual(result.summary.result, "succeeded");
            const after = identities(cluster, NS, Object.keys(before));
            for (const ref of Object.keys(before)) assert.strictEqual(after[ref].uid, before[ref].uid, `${ref} kept (not deleted and created again)`);
            for (const ref of ["secret/pyxis-database-url", "secret/database-role-passwords"]) {
                assert.notStrictEqual(after[ref].resourceVersion, before[ref].resourceVersion, `${ref} updated`);
            }
            assert.notDeepStrictEqual(must(cluster, NS, "secret", "pyxis-database-url").data, oldUrl);
            await waitFor("the pyxis pods to roll", () => {
                const now = podTemplateHashes(cluster, NS, "pyxis");
                return now.length === 1 && !pyxisPods.includes(now[0]);
            });
            // The new pod logs in with the new password, as a new login of asky_pyxis: its contract reads pyxis' schema.
            const rm = await http(`${gateway}/requests/contract`);
            assert.ok(rm.body.checks.viaGatewayPyxis.ok, JSON.stringify(rm.body.checks.viaGatewayPyxis));
            assert.strictEqual(rm.body.checks.viaGatewayPyxis.body.checks.database.tables["pyxis.dispenser"].rows, 5);
            const login = rm.body.checks.viaGatewayPyxis.body.checks.database.user as string;
            // The old login stays open for asky:database.previousPasswordMinutes (30 in dev), the new one has no deadline.
            const logins = psql(node, "SELECT rolname || ' ' || CASE WHEN rolvaliduntil = 'infinity' THEN 'none' ELSE round(extract(epoch FROM rolvaliduntil - now()) / 60)::text END FROM pg_roles WHERE rolname ~ '^asky_pyxis_' AND rolcanlogin ORDER BY rolname").split("\n");
            assert.strictEqual(logins.length, 2, logins.join("; "));
            for (const l of logins) {
                const [name, minutes] = l.split(" ");
                if (name === login) assert.strictEqual(minutes, "none", l);
                else assert.ok(Number(minutes) > 0 && Number(minutes) <= 30, `the previous login closes within 30 minutes: ${l}`);
            }
        });

        it("day-2: changing the gateway config updates gateway-config in place and rolls the gateway", async function () {
            const { cluster } = node;
            const before = identities(cluster, NS, [...kept, "configmap/gateway-config"]);
            const gatewayPods = podTemplateHashes(cluster, NS, "gateway");
            editStackConfig(workdir, STACK, (c) => {
                c["asky:gateway"].limits.clientMaxBodySize = "3m";
            });
            const result = await withoutLoss("gateway config changed", () => stack.up({ onOutput: outputLog(workdir, "4b-gateway-config") }));
            assert.strictEqual(result.summary.result, "succeeded");
            const after = identities(cluster, NS, Object.keys(before));
            for (const ref of Object.keys(before)) assert.strictEqual(after[ref].uid, before[ref].uid, `${ref} kept`);
            const conf = Object.values(must(cluster, NS, "configmap", "gateway-config").data ?? {}).join("\n");
            assert.match(conf, /client_max_body_size\s+3m;/);
            await waitFor("the gateway pods to roll", () => {
                const now = podTemplateHashes(cluster, NS, "gateway");
                return now.length === 1 && !gatewayPods.includes(now[0]);
            });
            // The new NGINX takes a 2 MB body (over the old 1m limit) as far as the upstream.
            const big = await http(`${gateway}/requests/medicine_requests`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(2 << 20) });
            assert.notStrictEqual(big.status, 413, "the new limit is in force");
        });

        it("day-2: a new image tag of the services rolls them under load", async function () {
            const { cluster } = node;
            const before = Object.fromEntries(["pyxis", "request-management"].map((d) => [d, podTemplateHashes(cluster, NS, d)]));
            const images = { pyxis: retagStackImage(node, node.images.services.pyxis, "1.0.1-e2e"), rm: retagStackImage(node, node.images.services["request-management"], "1.0.1-e2e") };
            editStackConfig(workdir, STACK, (c) => {
                c["asky:services"].pyxis.image = images.pyxis;
                c["asky:services"]["request-management"].image = images.rm;
            });
            const result = await withoutLoss("service image tag changed", () => stack.up({ onOutput: outputLog(workdir, "4c-image-tag") }));
            assert.strictEqual(result.summary.result, "succeeded");
            for (const [d, hashes] of Object.entries(before)) {
                const now = podTemplateHashes(cluster, NS, d);
                assert.ok(now.length === 1 && !hashes.includes(now[0]), `${d} rolled`);
            }
            assert.strictEqual(must(cluster, NS, "deployment", "pyxis").spec.template.spec.containers[0].image, images.pyxis);
        });

        it("day-2: adding a seeded user updates the users' Secret in place and runs the schema again; the user can log in", async function () {
            const { cluster } = node;
            const before = identities(cluster, NS, [...kept, "secret/initial-user-passwords"]);
            const jobsBefore = list(cluster, NS, "jobs").map((j) => j.metadata.name);
            editStackConfig(workdir, STACK, (c) => {
                const users = c["asky:database"].users as Record<string, unknown>[];
                const template = users[users.length - 1];
                users.push({ ...template, name: "Farmacêutica", email: "pharmacist@asky.local", phoneNumber: "+5511990010099", role: "nurse" });
            });
            const result = await stack.up({ onOutput: outputLog(workdir, "4c-seed-user") });
            assert.strictEqual(result.summary.result, "succeeded");
            const after = identities(cluster, NS, Object.keys(before));
            for (const ref of Object.keys(before)) assert.strictEqual(after[ref].uid, before[ref].uid, `${ref} kept`);
            const keys = Object.keys(must(cluster, NS, "secret", "initial-user-passwords").data ?? {});
            assert.ok(keys.includes(userPasswordEnv("pharmacist@asky.local")), `the new user's password among ${keys}`);
            const newJobs = list(cluster, NS, "jobs").filter((j) => !jobsBefore.includes(j.metadata.name) && j.metadata.name.startsWith("postgres-bootstrap-"));
            assert.strictEqual(newJobs.length, 1, "a new schema Job");
            assert.strictEqual(newJobs[0].status.succeeded, 1);
            const outputs = await stack.outputs();
            assert.ok(outputs.initialUserPasswords.secret, "initialUserPasswords stays secret");
            const password = (outputs.initialUserPasswords.value as Record<string, string>)["pharmacist@asky.local"];
            const login = await http(`${gateway}/auth/login`, { method: "POST", headers: { "content-type": "application/json" },
                body: JSON.stringify({ email: "pharmacist@asky.local", password }) });
            assert.strictEqual(login.status, 200, "the new user logs in with the password of the stack output");
        });

        it("day-2: growing asky:storage.size updates the PV and the claim in place (StorageClass manual allows expansion)", async function () {
            const { cluster } = node;
            const before = identities(cluster, NS, kept);
            const pvBefore = must(cluster, undefined, "pv", "postgres-pv-volume").metadata.uid;
            editStackConfig(workdir, STACK, (c) => {
                c["asky:storage"].size = "6Gi";
            });
            const result = await stack.up({ onOutput: outputLog(workdir, "4d-storage-grow") });
            assert.strictEqual(result.summary.result, "succeeded");
            const after = identities(cluster, NS, kept);
            for (const ref of kept) assert.strictEqual(after[ref].uid, before[ref].uid, `${ref} kept`);
            const pv = must(cluster, undefined, "pv", "postgres-pv-volume");
            assert.strictEqual(pv.metadata.uid, pvBefore, "PV kept");
            assert.strictEqual(pv.spec.capacity.storage, "6Gi");
            assert.strictEqual(must(cluster, NS, "pvc", "postgres-pv-claim").spec.resources.requests.storage, "6Gi");
        });

        it("day-2: a hostPath change the volume cannot take is refused before any resource, naming the key", async function () {
            const { cluster } = node;
            editStackConfig(workdir, STACK, (c) => {
                c["asky:storage"].hostPath = "/srv/asky-e2e/elsewhere";
            });
            const resourceVersions = identities(cluster, NS, [...kept, "configmap/gateway-config"]);
            await assert.rejects(stack.up({ onOutput: outputLog(workdir, "4e-hostpath-refused") }), /asky:storage\.hostPath/);
            assert.deepStrictEqual(identities(cluster, NS, Object.keys(resourceVersions)), resourceVersions, "nothing touched");
            editStackConfig(workdir, STACK, (c) => {
                c["asky:storage"].hostPath = E2E_HOST_PATH;
            });
        });

        it("day-2: after the changes, another preview still plans no change", async function () {
            await stack.preview({ expectNoChanges: true, onOutput: outputLog(workdir, "4f-preview-no-changes") });
        });

        let marker: number;
        it("pulumi destroy leaves nothing of the stack in the cluster, and the hostPath volume keeps the data (Retain)", async function () {
            const { cluster } = node;
            const passwords = (await stack.outputs()).initialUserPasswords.value as Record<string, string>;
            const login = await http(`${gateway}/auth/login`, { method: "POST", headers: { "content-type": "application/json" },
                body: JSON.stringify({ email: "nurse@asky.local", password: passwords["nurse@asky.local"] }) });
            const created = await http(`${gateway}/requests/medicine_requests`, { method: "POST",
                headers: { "content-type": "application/json", Authorization: `Bearer ${login.body.access_token}` },
                body: JSON.stringify({ dispenser_id: 1, medicine_id: 3, requested_by: 2, emergency: true, batch_number: "E2E-RETAIN" }) });
            assert.strictEqual(created.status, 201, JSON.stringify(created.body));
            marker = created.body.id;

            const result = await stack.destroy({ onOutput: outputLog(workdir, "5-destroy") });
            assert.strictEqual(result.summary.result, "succeeded");
            await waitFor("the namespace to be gone", () => cluster.get(["namespace", NS]) === undefined, 180_000);
            assert.deepStrictEqual(leftovers(cluster, "asky"), []);
            const state = await stack.exportStack();
            assert.deepStrictEqual((state.deployment.resources ?? []).map((r: any) => r.type).filter((t: string) => t !== "pulumi:pulumi:Stack"), []);
            assert.ok(fs.existsSync(path.join(E2E_HOST_PATH, "pgdata", "PG_VERSION")), "the data directory outlives the stack");
        });

        it("the next pulumi up starts on the kept data directory and serves the same rows", async function () {
            const result = await stack.up({ onOutput: outputLog(workdir, "6-up-again") });
            assert.strictEqual(result.summary.result, "succeeded");
            const psql = (sql: string) => node.cluster.kubectl(["-n", NS, "exec", "postgres-0", "-c", "postgres", "--",
                "psql", "-X", "-qAt", "-U", "postgres", "-d", "asky", "-c", sql]).trim();
            assert.strictEqual(psql(`SELECT batch_number FROM requests.medicine_requests WHERE id = ${Number(marker)}`), "E2E-RETAIN");
            // The generated passwords are new (the stack's secrets went with it): the superuser hook and the schema Job set them again.
            const rm = await http(`${gateway}/requests/contract`);
            assert.strictEqual(rm.status, 200, JSON.stringify(rm.body));
            const destroyed = await stack.destroy({ onOutput: outputLog(workdir, "7-destroy") });
            assert.strictEqual(destroyed.summary.result, "succeeded");
            await waitFor("the namespace to be gone", () => node.cluster.get(["namespace", NS]) === undefined, 180_000);
            await stack.workspace.removeStack(STACK);
        });
    });
});

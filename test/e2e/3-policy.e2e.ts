import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Cluster, startCluster } from "./support/cluster";
import { prodOverlay, provideStorageClass, useManagedStorage } from "./support/managed";
import { cliEnv, e2eStack, outputLog, ROOT } from "./support/stack";

const bin = process.env.ASKY_E2E_BIN!;
const workdir = process.env.ASKY_E2E_DIR!;
const clusterName = process.env.ASKY_E2E_CLUSTER!;
const keep = process.env.ASKY_E2E_KEEP === "1";
const PACK = path.join(ROOT, "policy");
/** The pack's config for an environment: each rule's level and the stack's environment and namespace. */
const packConfig = (env: "dev" | "prod") => [path.join(PACK, `${env}.json`)];
const NS = "asky";
/** What a managed cluster provides, as in 2-prod: a Retain StorageClass with volumes of it, and load balancer addresses. */
const LB_ADDRESS = "203.0.113.10";

interface PolicyLine {
    level: "mandatory" | "advisory";
    id: string;
    /** `type: name` of the resource, as the CLI prints it. */
    resource: string;
    /** The violation's message: the line after the policy's description. */
    message: string;
}

/** The policy findings of a CLI run: each `- [level]  ID  (type: name)` line and the lines under it (a description, if any, then the message). */
function policyLines(output: string): PolicyLine[] {
    const lines = output.split("\n");
    const out: PolicyLine[] = [];
    lines.forEach((l, i) => {
        const m = /^(\s+)- \[(mandatory|advisory)\]\s+(\S+)\s+\((.+)\)\s*$/.exec(l);
        if (!m) return;
        const under: string[] = [];
        for (let j = i + 1; j < lines.length && /^\s*$/.test(lines[j]) === false && lines[j].search(/\S/) > m[1].length && !/^\s+- \[/.test(lines[j]); j++) under.push(lines[j].trim());
        out.push({ level: m[2] as PolicyLine["level"], id: m[3], resource: m[4], message: under[under.length - 1] ?? "" });
    });
    return out;
}

const summary = (found: PolicyLine[]) => found.map((f) => `[${f.level}] ${f.id} (${f.resource}) ${f.message}`).join("\n");

/** Deep-merges `overlay` into `target` (objects key by key, everything else replaced). */
function merge(target: Record<string, any>, overlay: Record<string, any>): void {
    for (const [k, v] of Object.entries(overlay)) {
        if (v && typeof v === "object" && !Array.isArray(v) && target[k] && typeof target[k] === "object") merge(target[k], v);
        else target[k] = v;
    }
}

/**
 * A copy of the pack (policy/ and the checklist/ it imports, the same node_modules) whose committed level file for
 * `env` is changed by `change`: what a branch that edits policy/<env>.json would run.
 */
function packCopyWith(env: "dev" | "prod", change: (config: Record<string, Record<string, string>>) => void): string {
    const root = fs.mkdtempSync(path.join(workdir, "pack-copy-"));
    for (const dir of ["policy", "checklist"]) {
        fs.cpSync(path.join(ROOT, dir), path.join(root, dir), { recursive: true, filter: (src) => path.basename(src) !== "node_modules" });
    }
    fs.symlinkSync(path.join(PACK, "node_modules"), path.join(root, "policy", "node_modules"));
    const file = path.join(root, "policy", `${env}.json`);
    const config = JSON.parse(fs.readFileSync(file, "utf8"));
    change(config);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    return path.join(root, "policy");
}

/** Runs a CLI operation, collecting its output, and resolves with the output whether it succeeded or not. */
async function run(step: string, op: (onOutput: (s: string) => void) => Promise<unknown>): Promise<{ ok: boolean; output: string; error: string }> {
    let output = "";
    const log = outputLog(workdir, step);
    const onOutput = (s: string) => {
        output += s;
        log(s);
    };
    try {
        await op(onOutput);
        return { ok: true, output, error: "" };
    } catch (e) {
        return { ok: false, output, error: String((e as Error).message) };
    }
}

(keep ? describe.skip : describe)("e2e: the checklist policy pack (policy/) under the real CLI: pulumi preview --policy-pack", function () {
    let cluster: Cluster;

    before(function () {
        // The pack's own dependencies, as the README and the workflow install them.
        const npm = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--prefix", PACK], { encoding: "utf8" });
        assert.strictEqual(npm.status, 0, `npm ci --prefix policy: ${npm.stderr}`);
        cluster = startCluster({ name: clusterName, bin, workdir, nodes: 1 });
        provideStorageClass(cluster);
    });

    /** Gives the gateway's LoadBalancer Service an address while the engine waits for one. */
    function loadBalancerController(): () => void {
        let stopped = false;
        const tick = () => {
            if (stopped) return;
            try {
                const svc = cluster.get<any>(["-n", NS, "service", "gateway"]);
                if (svc?.spec.type === "LoadBalancer" && !svc.status?.loadBalancer?.ingress?.length)
                    cluster.kubectl(["-n", NS, "patch", "service", "gateway", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: LB_ADDRESS }] } } })]);
            } catch {
                /* not created yet */
            }
            setTimeout(tick, 1000);
        };
        tick();
        return () => (stopped = true);
    }

    let failed = false;
    afterEach(function () {
        failed ||= this.currentTest?.state === "failed";
    });
    after(function () {
        if (cluster && !failed) cluster.delete();
    });

    const stacks: Partial<Record<"dev" | "prod", Stack>> = {};

    for (const base of ["dev", "prod"] as const) {
        it(`pulumi preview --policy-pack ./policy --policy-pack-config ./policy/${base}.json of a fresh ${base} stack: 0 mandatory violations`, async function () {
            const overlay = base === "prod" ? prodOverlay() : {};
            const stack = await e2eStack({
                name: `policy-${base}`, base, workdir, bin,
                configure: (c) => {
                    merge(c, overlay);
                    c["asky:kubeconfig"] = cluster.kubeconfig;
                    c["asky:kubeContext"] = cluster.context;
                    if (base === "prod") useManagedStorage(cluster, c);
                },
            });
            stacks[base] = stack;
            const { ok, output } = await run(`14-policy-${base}`, (onOutput) => stack.preview({ policyPacks: [PACK], policyPackConfigs: packConfig(base), onOutput }));
            const found = policyLines(output);
            assert.ok(ok, `preview failed:\n${output.slice(-4000)}`);
            assert.match(output, /asky-checklist@v0\.1\.0/, "the pack ran");
            assert.deepStrictEqual(found.filter((f) => f.level === "mandatory"), [], summary(found));
            // What a fresh preview cannot decide is said so, never passed or failed: values computed at apply.
            for (const f of found) assert.match(f.message, /can't run policy '.+' from policy pack 'asky-checklist@v0\.1\.0' during preview/, summary([f]));
            console.log(`      ${base}: ${found.length} advisory (undecided until apply): ${[...new Set(found.map((f) => f.id))].join(", ")}`);
        });
    }

    it("pulumi up --policy-pack of dev passes every rule with the values known, and the next preview reports nothing at all", async function () {
        const up = await run("14-policy-dev-up", (onOutput) => stacks.dev!.up({ policyPacks: [PACK], policyPackConfigs: packConfig("dev"), onOutput }));
        assert.ok(up.ok, `up failed:\n${up.output.slice(-4000)}${up.error.slice(-2000)}`);
        assert.deepStrictEqual(policyLines(up.output), [], summary(policyLines(up.output)));
        const again = await run("14-policy-dev-preview-after-up", (onOutput) => stacks.dev!.preview({ policyPacks: [PACK], policyPackConfigs: packConfig("dev"), expectNoChanges: true, onOutput }));
        assert.ok(again.ok, again.output.slice(-4000));
        assert.match(again.output, /asky-checklist@v0\.1\.0/, "the pack ran");
        assert.deepStrictEqual(policyLines(again.output), [], "nothing undecided once every value exists");
        await stacks.dev!.destroy({ onOutput: outputLog(workdir, "14-policy-dev-destroy") });
    });

    it("pulumi up --policy-pack of prod: the stack rules (HA, DATA) hold on the deployed stack, and the next preview reports nothing", async function () {
        const stopLb = loadBalancerController();
        try {
            const up = await run("14-policy-prod-up", (onOutput) => stacks.prod!.up({ policyPacks: [PACK], policyPackConfigs: packConfig("prod"), onOutput }));
            assert.ok(up.ok, `up failed:\n${up.output.slice(-4000)}${up.error.slice(-2000)}`);
            assert.deepStrictEqual(policyLines(up.output), [], summary(policyLines(up.output)));
        } finally {
            stopLb();
        }
        // The state now holds live objects (replicas set by the HPAs, claims bound): the pack judges what the program declares.
        const again = await run("14-policy-prod-preview-after-up", (onOutput) => stacks.prod!.preview({ policyPacks: [PACK], policyPackConfigs: packConfig("prod"), expectNoChanges: true, onOutput }));
        assert.ok(again.ok, again.output.slice(-4000));
        assert.match(again.output, /asky-checklist@v0\.1\.0/, "the pack ran");
        assert.deepStrictEqual(policyLines(again.output), [], summary(policyLines(again.output)));
    });

    /** Only the ConfigMap of the generated password (and its namespace): what the update step judges. */
    let generatedOnly = false;

    /** A deliberately bad program: the pack must stop it (prod's policy config, for its namespace). */
    function fixtureProgram(cluster: Cluster) {
        return async () => {
            const provider = new k8s.Provider("kubernetes", { kubeconfig: cluster.kubeconfig, context: cluster.context });
            const opts = { provider };
            const ns = new k8s.core.v1.Namespace("fixture", { metadata: { name: "fixture" } }, opts);
            const namespace = ns.metadata.name;
            // A secret in a ConfigMap only known at apply (a generated password under a secret's name) ...
            const pw = new random.RandomPassword("fixture-password", { length: 24, special: false });
            new k8s.core.v1.ConfigMap("leaky-generated", { metadata: { name: "leaky-generated", namespace }, data: { DB_PASSWORD: pw.result } }, opts);
            if (generatedOnly) return {};
            // ... the same under a name no rule knows, and in an annotation: only the engine's secret mark gives it away.
            new k8s.core.v1.ConfigMap("leaky-renamed", { metadata: { name: "leaky-renamed", namespace, annotations: { note: pw.result } }, data: { DB_PASS: pw.result } }, opts);
            // A patch of a live object the pack cannot see: refused as unjudgeable (PACK-1), whatever it sets.
            new k8s.apps.v1.DeploymentPatch("patched", {
                metadata: { name: "someone-elses", namespace },
                spec: { template: { spec: { hostNetwork: true, containers: [{ name: "app", securityContext: { privileged: true } }] } } },
            }, opts);
            // ... and one known at preview (a literal connection string with its password).
            new k8s.core.v1.ConfigMap("leaky", { metadata: { name: "leaky", namespace }, data: { "app.env": "DATABASE_URL=postgresql://app:s3cr3t-pw@db:5432/app" } }, opts);
            new k8s.apps.v1.Deployment("privileged", {
                metadata: { name: "privileged", namespace },
                spec: {
                    selector: { matchLabels: { app: "privileged" } },
                    template: {
                        metadata: { labels: { app: "privileged" } },
                        spec: { hostNetwork: true, containers: [{ name: "app", image: "busybox:latest", securityContext: { privileged: true } }] },
                    },
                },
            }, opts);
            return {};
        };
    }

    let fixture: Stack;
    /** An environment's committed policy config for the namespace "fixture", changed by `change`, as a --policy-pack-config list. */
    const fixtureConfig = (env: "dev" | "prod", name: string, change: (config: Record<string, Record<string, string>>) => void = () => {}) => {
        const file = path.join(workdir, "policy-fixture", `policy-${name}.json`);
        const config = JSON.parse(fs.readFileSync(path.join(PACK, `${env}.json`), "utf8"));
        for (const c of Object.values<Record<string, string>>(config)) c.namespace = "fixture";
        change(config);
        fs.writeFileSync(file, JSON.stringify(config, null, 2));
        return [file];
    };
    /** prod's policy config for the namespace "fixture", its levels as committed. */
    let fixturePolicyConfig: string[] = [];
    let blocked: { ok: boolean; output: string; error: string };

    it("the pack blocks a bad program at preview: a privileged pod, a secret in a ConfigMap, a patch it cannot judge, named by checklist ID; neither a lowered level file nor the stack config lowers a prod rule", async function () {
        const dir = path.join(workdir, "policy-fixture");
        fs.mkdirSync(dir, { recursive: true });
        const env = cliEnv(workdir, bin);
        const ws = await LocalWorkspace.create({
            workDir: dir,
            program: fixtureProgram(cluster),
            projectSettings: { name: "asky-policy-fixture", runtime: "nodejs" },
            pulumiHome: env.PULUMI_HOME,
            envVars: env,
            pulumiCommand: await PulumiCommand.get({ root: path.dirname(bin) }),
        });
        fixture = await Stack.createOrSelect("policy-fixture", ws);
        // Without a config file the CLI refuses to start the pack, naming each policy's missing key.
        const bare = await run("15-policy-fixture-no-config", (onOutput) => fixture.preview({ policyPacks: [PACK], onOutput }));
        assert.strictEqual(bare.ok, false);
        assert.match(bare.error, /validating policy config: asky-checklist 0\.1\.0\s+POD-1: environment is required/);
        assert.match(bare.error, /validating policy config: asky-checklist 0\.1\.0\s+POD-1: namespace is required/);
        // A level that does not exist stops the pack before anything is judged, naming the policy.
        const refused = await run("15-policy-fixture-bad-config", (onOutput) => fixture.preview({ policyPacks: [PACK], policyPackConfigs: fixtureConfig("prod", "warn", (c) => (c["POD-11"].enforcementLevel = "warn")), onOutput }));
        assert.strictEqual(refused.ok, false);
        assert.match(refused.error, /"POD-11": "warn" is not a valid enforcement level/);
        // A policy cannot see its level, so the pack checks its own level files before it starts: a copy of the pack
        // whose policy/prod.json switches POD-6 off refuses to start, naming the file, the rule and the floor.
        const lowered = await run("15-policy-fixture-lowered-pack", (onOutput) => fixture.preview({ policyPacks: [packCopyWith("prod", (c) => (c["POD-6"].enforcementLevel = "disabled"))], policyPackConfigs: fixtureConfig("prod", "prod"), onOutput }));
        assert.strictEqual(lowered.ok, false);
        assert.match(lowered.error + lowered.output, /policy\/prod\.json\.POD-6: "disabled" would lower a prod rule below its checklist level \(mandatory\); prod may only raise levels/);
        // The stack's config lowers nothing: the pack reads none. The key the pack once read (asky-checklist:enforcement), set as
        // an old prod stack would have it, changes no level.
        await fixture.setAllConfig({ "asky-checklist:enforcement": { value: JSON.stringify({ "POD-6": "disabled", "SEC-1": "advisory", "POD-11": "advisory" }) } });
        // prod's file for the namespace "fixture", its levels as committed.
        fixturePolicyConfig = fixtureConfig("prod", "prod");
        blocked = await run("15-policy-fixture-preview", (onOutput) => fixture.preview({ policyPacks: [PACK], policyPackConfigs: fixturePolicyConfig, onOutput }));
        assert.strictEqual(blocked.ok, false, "the preview of the bad program must fail");
        const found = policyLines(blocked.output);
        console.log(summary(found).replace(/^/gm, "      "));
        const mandatory = (id: string, resource: string) => found.find((f) => f.level === "mandatory" && f.id === id && f.resource === resource);
        assert.ok(mandatory("POD-6", "kubernetes:apps/v1:Deployment: privileged"), summary(found));
        assert.match(mandatory("POD-6", "kubernetes:apps/v1:Deployment: privileged")!.message, /hostNetwork must not be true|privileged must not be true/);
        assert.ok(mandatory("SEC-1", "kubernetes:core/v1:ConfigMap: leaky"), summary(found));
        assert.match(mandatory("SEC-1", "kubernetes:core/v1:ConfigMap: leaky")!.message, /a URL with an embedded password/);
        for (const id of ["POD-1", "POD-2", "POD-3", "POD-7", "POD-9", "POD-10", "WIRE-5"]) assert.ok(mandatory(id, "kubernetes:apps/v1:Deployment: privileged"), `${id}:\n${summary(found)}`);
        assert.ok(found.some((f) => f.level === "mandatory" && f.id === "POD-13"), "the stack rule on the namespace");
        // A moving tag in prod: mandatory (prod's file), whatever the stack's config says.
        assert.ok(found.some((f) => f.id === "POD-11" && f.level === "mandatory"), summary(found));
        assert.ok(!found.some((f) => f.id === "POD-11" && f.level === "advisory"), summary(found));
        // The generated password is unknown at preview, but the engine marks it secret: refused already (issue 22 item 3).
        const generated = found.filter((f) => f.id === "SEC-1" && f.resource === "kubernetes:core/v1:ConfigMap: leaky-generated");
        assert.deepStrictEqual(generated.map((f) => f.level), ["mandatory"], summary(found));
        assert.match(generated[0].message, /data\.DB_PASSWORD is a Pulumi secret outside a Secret's data/);
        const renamed = found.filter((f) => f.id === "SEC-1" && f.resource === "kubernetes:core/v1:ConfigMap: leaky-renamed");
        assert.deepStrictEqual(renamed.map((f) => f.level).sort(), ["mandatory", "mandatory"], summary(found));
        assert.ok(renamed.some((f) => /data\.DB_PASS is a Pulumi secret/.test(f.message)) && renamed.some((f) => /metadata\.annotations\.note is a Pulumi secret/.test(f.message)), summary(renamed));
        const patch = found.find((f) => f.id === "PACK-1" && f.resource === "kubernetes:apps/v1:DeploymentPatch: patched");
        assert.ok(patch && patch.level === "mandatory", summary(found));
        assert.match(patch!.message, /DeploymentPatch changes a live object the pack cannot see/);
        assert.match(blocked.output, /error: preview failed/);
    });

    it("the level is the config file's: a dev file may lower one of its rules (POD-6 advisory), which is then reported without blocking", async function () {
        const lowered = fixtureConfig("dev", "dev-pod6-advisory", (c) => (c["POD-6"].enforcementLevel = "advisory"));
        const dev = await run("15-policy-fixture-dev", (onOutput) => fixture.preview({ policyPacks: [PACK], policyPackConfigs: lowered, onOutput }));
        assert.strictEqual(dev.ok, false, "the other rules still block");
        const found = policyLines(dev.output);
        assert.ok(found.some((f) => f.id === "POD-6" && f.level === "advisory"), summary(found));
        assert.ok(!found.some((f) => f.id === "POD-6" && f.level === "mandatory"), summary(found));
        assert.ok(found.some((f) => f.id === "POD-1" && f.level === "mandatory"), summary(found));
    });

    it("pulumi up refuses the generated password's ConfigMap before it exists", async function () {
        // The update stops at the first refused resource: leave out those the preview already refused.
        generatedOnly = true;
        const { ok, output } = await run("16-policy-fixture-up", (onOutput) => fixture.up({ policyPacks: [PACK], policyPackConfigs: fixturePolicyConfig, onOutput }));
        assert.strictEqual(ok, false, "the update must fail");
        const found = policyLines(output);
        const generated = found.find((f) => f.id === "SEC-1" && f.resource === "kubernetes:core/v1:ConfigMap: leaky-generated");
        assert.ok(generated && generated.level === "mandatory", summary(found));
        assert.match(generated!.message, /DB_PASSWORD/);
        assert.ok(cluster.get(["namespace", "fixture"]), "the namespace, which no resource rule refuses, was created");
        assert.strictEqual(cluster.get(["-n", "fixture", "configmap", "leaky-generated"]), undefined, "the ConfigMap was not created");
    });
});

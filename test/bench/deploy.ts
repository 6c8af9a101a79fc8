// npm run bench:deploy [-- --pod-start-seconds 5 --rounds 1 --parallel N]: wall time of `pulumi up` of the dev
// stack on the local control plane (scripts/toolchain.sh, KWOK nodes whose pods take a set time to
// become Ready), with the time each wave finished, beside a strictly sequential apply of the same
// manifests (the offline render, in creation order) with a wait after each object, as run.sh did.
// npm run bench:deploy -- --real-node [--rounds 2 --parallel N --keep]: the same on the e2e's real node
// (the images pulled onto it from its local registry once, before the first round; real start-up), with the critical path read from the
// cluster's timestamps, and a no-change `pulumi preview` and `pulumi up` of the deployed stack.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { K8sManifest, renderStack, reveal, toYaml } from "../../scripts/render";
import { CLUSTER as E2E_CLUSTER, toolchain, WORKDIR as E2E_WORKDIR } from "../e2e/run";
import { Cluster, deleteCluster, startCluster } from "../e2e/support/cluster";
import { configureDevStack, hostPathVolume, pullStackImages, startRealNodeCluster, tearDownRealNode } from "../e2e/support/realNode";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { E2eStackOptions, e2eStack, outputLog, ROOT as REPO } from "../e2e/support/stack";
import { waitFor } from "../e2e/support/kube";
import { deployObjects, DeployTimeline, deployTimeline, orderingViolations } from "../e2e/support/timeline";

const ROOT = path.resolve(__dirname, "..", "..");
const WORKDIR = path.join(ROOT, ".bench", "deploy");
const CLUSTER = "asky-bench";
const NS = "asky";

/** The waves of the deploy order (README), each finished when its last object is ready. */
const WAVES: { wave: string; match: (kind: string, name: string) => boolean }[] = [
    { wave: "namespace and network policies", match: (k) => k === "Namespace" || k === "NetworkPolicy" },
    { wave: "database ready (StatefulSet)", match: (k, n) => k === "StatefulSet" && n === "postgres" },
    { wave: "schema Job complete", match: (k, n) => k === "Job" && n.startsWith("postgres-bootstrap") },
    { wave: "cache and services available", match: (k, n) => (k === "Deployment" || k === "Service") && ["auth", "pyxis", "request-management", "redis"].includes(n) },
    { wave: "gateway available", match: (k, n) => (k === "Deployment" || k === "Service") && n.startsWith("gateway") },
];

function flag(args: string[], name: string, def: number): number {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
}

/** KWOK's "general" pod lifecycle (create, init, ready, complete, delete) from the kwok module, with
 * a fixed delay before a pod is Ready and before a Job's pod completes; the fast node stages as usual. */
function stages(tc: string, podStartMs: number): string {
    const versions = fs.readFileSync(path.join(ROOT, "scripts", "toolchain", "versions.sh"), "utf8");
    const kwok = /^KWOK_VERSION=(\S+)/m.exec(versions)![1];
    const dir = path.join(tc, "go", "mod", "sigs.k8s.io", `kwok@${kwok}`, "kustomize", "stage");
    const read = (f: string) => YAML.parse(fs.readFileSync(path.join(dir, f), "utf8"));
    const docs = [
        read("node/fast/node-initialize.yaml"),
        read("node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"),
        ...["pod-create", "pod-init-container-running", "pod-init-container-completed", "pod-ready", "pod-complete", "pod-delete"]
            .map((s) => read(`pod/general/${s}.yaml`)),
    ];
    for (const d of docs) {
        if (!d.spec.delay || d.spec.resourceRef.kind !== "Pod") continue;
        const ms = d.metadata.name === "pod-ready" || d.metadata.name === "pod-complete" ? podStartMs : 0;
        d.spec.delay = { durationMilliseconds: ms, jitterDurationMilliseconds: ms };
    }
    return docs.map((d) => YAML.stringify(d)).join("---\n");
}

function kubectl(cluster: Cluster, args: string[], input?: string): void {
    cluster.kubectl(args, input);
}

/** Applies every rendered object in creation order, waiting for each workload to be ready (or
 * complete) before the next, as run.sh waited on pods. `objects` default to the committed dev
 * stack's render (Secret values redacted: KWOK runs no container). */
async function sequential(cluster: Cluster, given?: K8sManifest[]): Promise<{ total: number; finished: Map<string, number> }> {
    const objects = given ?? (await renderStack("dev")).objects;
    const start = Date.now();
    const finished = new Map<string, number>();
    for (const o of objects) {
        const kind = o.kind;
        const name = o.metadata.name;
        const ns = o.metadata.namespace ? ["-n", o.metadata.namespace] : [];
        kubectl(cluster, ["apply", "-f", "-"], toYaml([o]));
        if (kind === "Deployment" || kind === "StatefulSet") {
            kubectl(cluster, [...ns, "rollout", "status", `${kind.toLowerCase()}/${name}`, "--timeout=10m"]);
        } else if (kind === "Job") {
            kubectl(cluster, [...ns, "wait", "--for=condition=complete", `job/${name}`, "--timeout=20m"]);
        } else if (kind === "PersistentVolumeClaim") {
            kubectl(cluster, [...ns, "wait", "--for=jsonpath={.status.phase}=Bound", `pvc/${name}`, "--timeout=5m"]);
        }
        // A Service comes before the workload it selects: its endpoints follow the pods waited for above.
        finished.set(`${kind}/${name}`, (Date.now() - start) / 1000);
    }
    return { total: (Date.now() - start) / 1000, finished };
}

/** `pulumi up` of the dev stack, with when each Kubernetes object's step finished. */
async function pulumiUp(cluster: Cluster, bin: string, parallel: number | undefined): Promise<{ total: number; finished: Map<string, number> }> {
    const stack = await e2eStack({
        name: "bench-dev", base: "dev", workdir: WORKDIR, bin,
        configure: (c) => {
            c["asky:kubeconfig"] = cluster.kubeconfig;
            c["asky:kubeContext"] = cluster.context;
        },
    });
    const finished = new Map<string, number>();
    const start = Date.now();
    await stack.up({
        // The CLI's default is 4 operations per core (8 here): an awaiting Deployment or Service holds one.
        ...(parallel ? { parallel } : {}),
        onOutput: outputLog(WORKDIR, "bench-up"),
        onEvent: (e) => {
            const out = e.resOutputsEvent?.metadata;
            const outputs = out?.new?.outputs as { kind?: string; metadata?: { name?: string } } | undefined;
            if (out && outputs?.kind && outputs.metadata?.name) finished.set(`${outputs.kind}/${outputs.metadata.name}`, (Date.now() - start) / 1000);
        },
    });
    const total = (Date.now() - start) / 1000;
    await stack.destroy({ onOutput: outputLog(WORKDIR, "bench-destroy") });
    await stack.workspace.removeStack("bench-dev");
    return { total, finished };
}

function waveTimes(finished: Map<string, number>): (number | undefined)[] {
    return WAVES.map(({ match }) => {
        const times = [...finished].filter(([ref]) => match(...(ref.split("/") as [string, string]))).map(([, t]) => t);
        return times.length ? Math.max(...times) : undefined;
    });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The dev stack as the real-node e2e deploys it, rendered with every secret value in clear (the mock
 * engine's generated passwords and keys): objects a sequential `kubectl apply` can start for real.
 * Rendered in a process of its own: the render's mocks and config are process-wide, and this one runs
 * the program under the real engine. */
function realNodeManifests(configure: E2eStackOptions["configure"]): K8sManifest[] {
    const config = structuredClone(YAML.parse(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8")).config);
    configure(config);
    const dir = fs.mkdtempSync(path.join(E2E_WORKDIR, "render-"));
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    const r = spawnSync(path.join(REPO, "node_modules", ".bin", "ts-node"), ["--transpile-only", __filename, MANIFESTS_FLAG, dir], { cwd: REPO, encoding: "utf8", stdio: ["ignore", "ignore", "inherit"] });
    if (r.status !== 0) throw new Error(`rendering the real node's manifests failed (${r.status})`);
    const objects = JSON.parse(fs.readFileSync(path.join(dir, "manifests.json"), "utf8")) as K8sManifest[];
    fs.rmSync(dir, { recursive: true, force: true });
    return objects;
}
const MANIFESTS_FLAG = "--render-manifests-into";

/** The child of {@link realNodeManifests}: renders `dir`/config.json into `dir`/manifests.json. */
async function renderManifestsInto(dir: string): Promise<void> {
    const { resources } = await renderStack("dev", JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")));
    const objects = resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => reveal(r.inputs));
    fs.writeFileSync(path.join(dir, "manifests.json"), JSON.stringify(objects));
}

/** Removes what the sequential path applied: the namespace (with its objects), then the cluster-scoped objects. */
function removeApplied(cluster: Cluster, objects: K8sManifest[]): void {
    kubectl(cluster, ["delete", "namespace", NS, "--wait=true", "--timeout=5m"]);
    for (const o of objects.filter((o) => !o.metadata.namespace && o.kind !== "Namespace")) {
        kubectl(cluster, ["delete", o.kind.toLowerCase(), o.metadata.name, "--ignore-not-found", "--wait=true", "--timeout=2m"]);
    }
}

interface RealRound {
    /** `pulumi up` from empty: the CLI run (start to the engine's summary), and the engine's own start to end as the stack's history records it. */
    up: number;
    engine: number;
    timeline: DeployTimeline;
    /** The program's own run under the engine, during that up. */
    program: number;
    sequential: number;
    sequentialTimeline: DeployTimeline;
    preview: number;
    noChangeUp: number;
    noChangeUpEngine: number;
}

/** `pulumi up` of the dev stack from empty on the real node, what the cluster's timestamps say of it, then a no-change preview and up, a destroy, and the sequential path. */
async function realNodeRound(node: Awaited<ReturnType<typeof startRealNodeCluster>>, bin: string, parallel: number | undefined, r: number): Promise<RealRound> {
    const { cluster } = node;
    const configure = (c: Record<string, any>) => configureDevStack(c, node);
    hostPathVolume({ empty: true });
    const programRuns: number[] = [];
    const stack = await e2eStack({ name: "bench-dev", base: "dev", workdir: E2E_WORKDIR, bin, configure, onProgramRun: (_start, ms) => programRuns.push(ms) });
    const slots = parallel ? { parallel } : {};
    /** The CLI run, from the call until the engine's summary event: what `pulumi up`/`preview` takes, without the
     * Automation API's reads after it (`stack output` twice, `stack history`). */
    const timed = async <T>(f: (onEvent: (e: EngineEvent) => void) => Promise<T>): Promise<[T, number]> => {
        const start = Date.now();
        let summaryAt: number | undefined;
        const out = await f((e) => {
            if (e.summaryEvent) summaryAt = Date.now();
        });
        return [out, ((summaryAt ?? Date.now()) - start) / 1000];
    };
    const [result, up] = await timed((onEvent) => stack.up({ ...slots, onEvent, onOutput: outputLog(E2E_WORKDIR, `bench-up-${r}`) }));
    // Typed as Date, parsed from the CLI's JSON as strings: new Date() reads both.
    const engineOf = (summary: typeof result.summary) => (new Date(summary.endTime).getTime() - new Date(summary.startTime).getTime()) / 1000;
    const engine = engineOf(result.summary);
    const objects = deployObjects(cluster, NS);
    const broken = orderingViolations(objects);
    if (broken.length) throw new Error(`the deploy order was broken: ${broken.join("; ")}`);
    const timeline = deployTimeline(objects);
    const program = programRuns[programRuns.length - 1] / 1000;
    const [, preview] = await timed((onEvent) => stack.preview({ ...slots, onEvent, expectNoChanges: true, onOutput: outputLog(E2E_WORKDIR, `bench-preview-${r}`) }));
    const [again, noChangeUp] = await timed((onEvent) => stack.up({ ...slots, onEvent, expectNoChanges: true, onOutput: outputLog(E2E_WORKDIR, `bench-up-no-change-${r}`) }));
    await stack.destroy({ onOutput: outputLog(E2E_WORKDIR, `bench-destroy-${r}`) });
    await stack.workspace.removeStack("bench-dev");
    await waitFor("namespace gone after destroy", () => cluster.get(["namespace", NS]) === undefined, 300_000);

    hostPathVolume({ empty: true });
    const manifests = realNodeManifests(configure);
    const seq = await sequential(cluster, manifests);
    const sequentialTimeline = deployTimeline(deployObjects(cluster, NS));
    removeApplied(cluster, manifests);
    return { up, engine, timeline, program, sequential: seq.total, sequentialTimeline, preview, noChangeUp, noChangeUpEngine: engineOf(again.summary) };
}

async function realNodeMain(args: string[]): Promise<void> {
    const rounds = flag(args, "--rounds", 2);
    const parallel = args.includes("--parallel") ? flag(args, "--parallel", 0) : undefined;
    const bin = toolchain();
    const opts = { name: E2E_CLUSTER, bin, workdir: E2E_WORKDIR };
    const node = await startRealNodeCluster(opts);
    const results: RealRound[] = [];
    let pull = NaN;
    try {
        // Both paths of every round start with the images on the node: otherwise the first round's `pulumi up`
        // alone pays the pulls, and the sequential path after it, in the same round, finds them there.
        pull = pullStackImages(node, E2E_WORKDIR);
        console.log(`the stack's images pulled onto the node from the local registry before round 1: ${pull.toFixed(1)} s`);
        for (let r = 1; r <= rounds; r++) {
            const round = await realNodeRound(node, bin, parallel, r);
            results.push(round);
            console.log(`round ${r}: pulumi up ${round.up.toFixed(1)} s (engine ${round.engine.toFixed(1)} s), critical path ${round.timeline.criticalPath.toFixed(0)} s ` +
                `(gateway beside the services ${round.timeline.criticalPathGatewayBeside.toFixed(0)} s), sequential ${round.sequential.toFixed(1)} s, ` +
                `no-change preview ${round.preview.toFixed(1)} s, no-change up ${round.noChangeUp.toFixed(1)} s, program ${round.program.toFixed(2)} s`);
        }
    } finally {
        if (!args.includes("--keep")) await tearDownRealNode(opts);
    }
    const m = (f: (r: RealRound) => number) => median(results.map(f));
    const len = (w: { start: number; end: number }) => (w.end - w.start) / 1000;
    const row = (what: string, f: (r: RealRound) => number, digits = 1) =>
        console.log(`| ${what} | ${results.map((r) => f(r).toFixed(digits)).join(" | ")} | **${m(f).toFixed(digits)} s** |`);
    const slots = parallel ? `pulumi up --parallel ${parallel}` : "the CLI's default parallelism";
    console.log(`\nDeploy of the dev stack from empty on the real node, ${slots}, ${rounds} round(s) (median last), ` +
        `the images on the node before each path (pulled once before round 1 in ${pull.toFixed(1)} s):\n`);
    console.log(`| figure | ${results.map((_, i) => `round ${i + 1}`).join(" | ")} | median |`);
    console.log(`|---|${results.map(() => "---|").join("")}---|`);
    row("`pulumi up --skip-preview` from empty (the CLI run)", (r) => r.up);
    row("`pulumi up`, the engine's own start to end", (r) => r.engine);
    row("critical path: policies + database + schema + slowest service + gateway", (r) => r.timeline.criticalPath, 0);
    row("critical path with the gateway beside the services", (r) => r.timeline.criticalPathGatewayBeside, 0);
    row("… network policies", (r) => len(r.timeline.policies), 0);
    row("… database Ready (StatefulSet → pod Ready)", (r) => len(r.timeline.database), 0);
    row("… schema Job Complete", (r) => len(r.timeline.schema), 0);
    row("… slowest service Ready (Deployment → pod Ready)", (r) => len(r.timeline.services[0]), 0);
    row("… gateway Ready (Deployment → pod Ready)", (r) => len(r.timeline.gateway), 0);
    row("span: namespace → last pod Ready", (r) => r.timeline.span, 0);
    row("sequential apply-and-wait", (r) => r.sequential);
    row("… its own critical path", (r) => r.sequentialTimeline.criticalPath, 0);
    row("no-change `pulumi preview`", (r) => r.preview);
    row("no-change `pulumi up`", (r) => r.noChangeUp);
    row("no-change `pulumi up`, the engine's own start to end", (r) => r.noChangeUpEngine);
    row("the program's own run under the engine (during the up)", (r) => r.program, 2);
    const up = m((r) => r.up);
    console.log(`\npulumi up / critical path: ${(up / m((r) => r.timeline.criticalPath)).toFixed(2)}× (goal ≤ 1.3×); ` +
        `with the gateway beside the services: ${(up / m((r) => r.timeline.criticalPathGatewayBeside)).toFixed(2)}×`);
    console.log(`sequential / pulumi up: ${(m((r) => r.sequential) / up).toFixed(2)}× (goal ≥ 1.5×)`);
    console.log(`no-change preview ${m((r) => r.preview).toFixed(1)} s, no-change up ${m((r) => r.noChangeUp).toFixed(1)} s (goal < 15 s each)`);
}

async function main(args: string[]): Promise<void> {
    if (args[0] === MANIFESTS_FLAG) return renderManifestsInto(args[1]);
    if (args.includes("--real-node")) return realNodeMain(args);
    const podStart = flag(args, "--pod-start-seconds", 5);
    const rounds = flag(args, "--rounds", 1);
    const parallel = args.includes("--parallel") ? flag(args, "--parallel", 0) : undefined;
    const bin = toolchain();
    const tc = path.dirname(bin);
    fs.rmSync(WORKDIR, { recursive: true, force: true });
    const cluster = startCluster({ name: CLUSTER, bin, workdir: WORKDIR, nodes: 3, config: stages(tc, podStart * 1000) });
    const results: {
        engine: number; seq: number; engineWaves: (number | undefined)[]; seqWaves: (number | undefined)[];
        engineObjects: Map<string, number>; seqObjects: Map<string, number>;
    }[] = [];
    try {
        for (let r = 1; r <= rounds; r++) {
            const up = await pulumiUp(cluster, bin, parallel);
            await waitFor("namespace gone after destroy", () => cluster.get(["namespace", NS]) === undefined, 300_000);
            const seq = await sequential(cluster);
            kubectl(cluster, ["delete", "namespace", NS, "--wait=true", "--timeout=5m"]);
            kubectl(cluster, ["delete", "pv", "--all", "--wait=true", "--timeout=2m"]);
            kubectl(cluster, ["delete", "storageclass", "manual", "--ignore-not-found"]);
            results.push({
                engine: up.total, seq: seq.total, engineWaves: waveTimes(up.finished), seqWaves: waveTimes(seq.finished),
                engineObjects: up.finished, seqObjects: seq.finished,
            });
            console.log(`round ${r}: pulumi up ${up.total.toFixed(1)} s, sequential apply-and-wait ${seq.total.toFixed(1)} s`);
        }
    } finally {
        if (!args.includes("--keep")) deleteCluster({ name: CLUSTER, bin, workdir: WORKDIR });
    }
    const fmt = (x: number | undefined) => (x === undefined ? "—" : `${x.toFixed(1)} s`);
    const slots = parallel ? `pulumi up --parallel ${parallel}` : "pulumi up with the CLI's default parallelism";
    console.log(`\nDeploy of the dev stack, pods Ready ${podStart} s after they start (KWOK), ${slots}, median of ${rounds} round(s):\n`);
    console.log("| wave finished | pulumi up (engine, parallel) | sequential apply + wait (run.sh) |");
    console.log("|---|---|---|");
    WAVES.forEach((w, i) => {
        const e = results.map((r) => r.engineWaves[i]).filter((x): x is number => x !== undefined);
        const s = results.map((r) => r.seqWaves[i]).filter((x): x is number => x !== undefined);
        console.log(`| ${w.wave} | ${fmt(e.length ? median(e) : undefined)} | ${fmt(s.length ? median(s) : undefined)} |`);
    });
    const engine = median(results.map((r) => r.engine));
    const seq = median(results.map((r) => r.seq));
    console.log(`| **total** | **${fmt(engine)}** | **${fmt(seq)}** |`);
    console.log(`\npulumi up / sequential: ${(engine / seq).toFixed(2)}×`);
    // Every object's finish time in the last round, both paths side by side (where the time went).
    // The schema Job's name carries a hash of its SQL and credentials, which differ between the two paths.
    const byObject = (m: Map<string, number>) => new Map([...m].map(([ref, t]) => [ref.replace(/^(Job\/postgres-bootstrap)-[0-9a-f]+$/, "$1-…"), t]));
    const raw = results[results.length - 1];
    const last = { engineObjects: byObject(raw.engineObjects), seqObjects: byObject(raw.seqObjects) };
    const refs = [...new Set([...last.engineObjects.keys(), ...last.seqObjects.keys()])]
        .sort((a, b) => (last.engineObjects.get(a) ?? Infinity) - (last.engineObjects.get(b) ?? Infinity));
    const timeline = ["| object | pulumi up | sequential |", "|---|---|---|",
        ...refs.map((ref) => `| ${ref} | ${fmt(last.engineObjects.get(ref))} | ${fmt(last.seqObjects.get(ref))} |`)];
    fs.writeFileSync(path.join(WORKDIR, "timeline.md"), timeline.join("\n") + "\n");
    console.log(`\nEvery object's finish time in round ${rounds}: ${path.relative(ROOT, path.join(WORKDIR, "timeline.md"))}`);
}

main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
});

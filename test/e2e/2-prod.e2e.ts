import { Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Cluster, startCluster } from "./support/cluster";
import { list, must, waitFor } from "./support/kube";
import { LB_ADDRESS, managedClusterStandIn, merge, prodOverlay, provideStorageClass, useManagedStorage } from "./support/managed";
import { cliEnv, E2E, e2eStack, outputLog, ROOT } from "./support/stack";
import { spawnSync } from "child_process";

const { bin, workdir, clusterName, keep } = E2E;
const NS = "asky";
const STACK = "e2e-prod";
/** Runs the CLI directly, as an operator would (commands that run no program). */
function pulumiCli(args: string[]): string {
    const env = { ...process.env, ...cliEnv(workdir, bin) };
    const r = spawnSync(path.join(bin, "pulumi"), [...args, "--non-interactive"], {
        cwd: path.join(workdir, "project"), env, encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")}: ${r.stderr || r.stdout}`);
    return r.stdout;
}

(keep ? describe.skip : describe)("e2e: a prod-shaped stack on the same kind of cluster", function () {
    let cluster: Cluster;
    let stack: Stack;

    before(async function () {
        cluster = startCluster({ name: clusterName, bin, workdir, nodes: 3 });
        provideStorageClass(cluster);
        const overlay = prodOverlay();
        stack = await e2eStack({
            name: STACK, base: "prod", workdir, bin,
            configure: (c) => {
                merge(c, overlay);
                c["asky:kubeconfig"] = cluster.kubeconfig;
                c["asky:kubeContext"] = cluster.context;
                useManagedStorage(cluster, c);
            },
        });
    });

    let failed = false;
    afterEach(function () {
        failed ||= this.currentTest?.state === "failed";
    });
    after(function () {
        if (cluster && !failed) cluster.delete();
    });

    it("pulumi preview of prod plans every object without an error", async function () {
        const result = await stack.preview({ onOutput: outputLog(workdir, "6-prod-preview") });
        assert.ok((result.changeSummary.create ?? 0) > 40, `plans ${result.changeSummary.create} creates`);
    });

    it("pulumi up of prod: HPAs, PDBs, the LoadBalancer address, protected data objects", async function () {
        const stopLb = managedClusterStandIn(cluster, workdir);
        try {
            const result = await stack.up({ onOutput: outputLog(workdir, "7-prod-up") });
            assert.strictEqual(result.summary.result, "succeeded");
            // prod names its public host (asky:gateway.tls.hostname): that is the URL, and the load balancer got its address.
            assert.strictEqual(result.outputs.gatewayUrl.value, `https://${prodOverlay()["asky:gateway"].tls.hostname}`);
            assert.strictEqual(cluster.get<any>(["-n", "asky", "service", "gateway"])?.status?.loadBalancer?.ingress?.[0]?.ip, LB_ADDRESS);
        } finally {
            stopLb();
        }
        const hpas = list(cluster, NS, "horizontalpodautoscalers");
        for (const name of ["gateway", "pyxis", "request-management"]) {
            const hpa = hpas.find((h) => h.metadata.name === name);
            assert.ok(hpa, `HPA ${name}`);
            assert.ok(hpa!.spec.minReplicas >= 2 && hpa!.spec.maxReplicas > hpa!.spec.minReplicas);
        }
        const pdbs = list(cluster, NS, "poddisruptionbudgets").map((p) => p.metadata.name);
        for (const name of ["auth", "gateway", "pyxis", "request-management"]) assert.ok(pdbs.includes(name), `PDB ${name}`);
        assert.strictEqual(must(cluster, NS, "pvc", "postgres-pv-claim").status.phase, "Bound");
        const state = await stack.exportStack();
        const protectedKinds = (state.deployment.resources ?? []).filter((r: any) => r.protect).map((r: any) => r.type).sort();
        for (const t of ["kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Namespace", "kubernetes:core/v1:PersistentVolumeClaim"]) {
            assert.ok(protectedKinds.includes(t), `${t} protected: ${protectedKinds}`);
        }
    });

    it("a second preview of prod plans no change", async function () {
        await stack.preview({ expectNoChanges: true, onOutput: outputLog(workdir, "8-prod-preview-no-changes") });
    });

    it("pulumi destroy of prod stops at the protected objects, which stay in the cluster", async function () {
        await assert.rejects(stack.destroy({ onOutput: outputLog(workdir, "9-prod-destroy") }), /protected/);
        must(cluster, undefined, "namespace", NS);
        must(cluster, NS, "statefulset", "postgres");
        must(cluster, NS, "pvc", "postgres-pv-claim");
    });

    it("once unprotected, destroy removes the stack and retainOnDelete keeps the data objects in the cluster", async function () {
        pulumiCli(["state", "unprotect", "--all", "--yes", "--stack", STACK]);
        const result = await stack.destroy({ onOutput: outputLog(workdir, "10-prod-destroy-unprotected") });
        assert.strictEqual(result.summary.result, "succeeded");
        must(cluster, undefined, "namespace", NS);
        must(cluster, NS, "statefulset", "postgres");
        must(cluster, NS, "pvc", "postgres-pv-claim");
        await waitFor("the unprotected workloads to be gone", () => !list(cluster, NS, "deployments").length);
    });

    it("the README's adoption path takes the retained objects back into a fresh up: same UIDs, then no change", async function () {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("### Adopting objects the stack kept"));
        const commands = /```bash\n([\s\S]*?)\n```/.exec(section)![1];
        const upsert = /^(\w+)=true pulumi up/m.exec(commands);
        assert.ok(upsert, `the README adopts with an environment switch on pulumi up:\n${commands}`);
        assert.match(commands, /pulumi preview --stack prod --expect-no-changes/);
        const retained = ["namespace/asky", "statefulset/postgres", "pvc/postgres-pv-claim", "pvc/postgres-backup"];
        const uids = () => Object.fromEntries(retained.map((ref) => {
            const [kind, name] = ref.split("/");
            return [ref, must(cluster, kind === "namespace" ? undefined : NS, kind, name).metadata.uid];
        }));
        const before = uids();
        const env = stack.workspace.envVars; // the environment of every CLI run of this workspace
        env[upsert![1]] = "true";
        const stopLb = managedClusterStandIn(cluster, workdir);
        try {
            assert.strictEqual((await stack.up({ onOutput: outputLog(workdir, "11-adopt-up") })).summary.result, "succeeded");
        } finally {
            stopLb();
            delete env[upsert![1]];
        }
        assert.deepStrictEqual(uids(), before, "adopted in place, not deleted and created again");
        await stack.preview({ expectNoChanges: true, onOutput: outputLog(workdir, "12-adopt-preview") });
        pulumiCli(["state", "unprotect", "--all", "--yes", "--stack", STACK]);
        await stack.destroy({ onOutput: outputLog(workdir, "13-prod-teardown") });
    });
});

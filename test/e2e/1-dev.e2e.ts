import { Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { Cluster, serverVersion, startCluster } from "./support/cluster";
import { userPasswordEnv } from "../../sql/seedUsers";
import { identities, KObject, leftovers, list, must, podTemplateHashes, waitFor } from "./support/kube";
import { E2E, e2eStack, editStackConfig, outputLog } from "./support/stack";

const { bin, workdir, clusterName, keep } = E2E;
const NS = "asky";
const STACK = "e2e-dev";

/** The URN of the one resource of `type` whose name is `name`, from the stack's state. */
async function urnOf(stack: Stack, type: string, name: string): Promise<string> {
    const state = await stack.exportStack();
    const found = (state.deployment.resources ?? []).filter((r: any) => r.type === type && r.urn.endsWith(`::${name}`));
    assert.strictEqual(found.length, 1, `one ${type} named ${name} in the state`);
    return found[0].urn;
}


describe("e2e: the dev stack, deployed by the Pulumi CLI on a local control plane with KWOK nodes", function () {
    let cluster: Cluster;
    let stack: Stack;

    before(async function () {
        cluster = startCluster({ name: clusterName, bin, workdir, nodes: 3 });
        stack = await e2eStack({
            name: STACK,
            base: "dev",
            workdir,
            bin,
            // Only where the cluster is: the committed dev stack otherwise, unchanged.
            configure: (c) => {
                c["asky:kubeconfig"] = cluster.kubeconfig;
                c["asky:kubeContext"] = cluster.context;
            },
        });
    });

    let failed = false;
    afterEach(function () {
        failed ||= this.currentTest?.state === "failed";
    });
    after(function () {
        // A failed run leaves the cluster up for a look (npm run e2e:down removes it).
        if (!keep && cluster && !failed) cluster.delete();
    });

    it("the API server enforces Pod Security admission, and three nodes are Ready", function () {
        assert.match(serverVersion(cluster), /^v1\.\d+\.\d+$/);
        const nodes = cluster.get<{ items: KObject[] }>(["nodes"])!.items;
        assert.strictEqual(nodes.length, 3);
        for (const n of nodes) assert.ok(n.status.allocatable["ephemeral-storage"], `${n.metadata.name} has ephemeral-storage`);
        // A privileged pod in a namespace that enforces restricted is refused by the API server itself.
        cluster.kubectl(["create", "namespace", "psa-probe"]);
        cluster.kubectl(["label", "namespace", "psa-probe", "pod-security.kubernetes.io/enforce=restricted"]);
        assert.throws(
            () => cluster.kubectl(["-n", "psa-probe", "run", "privileged", "--image=busybox:1.36", "--privileged"]),
            /violates PodSecurity "restricted/,
        );
        cluster.kubectl(["delete", "namespace", "psa-probe", "--wait=false"]);
    });

    it("pulumi preview of the fresh stack plans every object and creates nothing", async function () {
        const result = await stack.preview({ onOutput: outputLog(workdir, "1-preview"), diff: true });
        const creates = result.changeSummary.create ?? 0;
        assert.ok(creates > 30, `preview plans ${creates} creates`);
        assert.strictEqual(cluster.get(["namespace", NS]), undefined, "preview created the namespace");
    });

    it("pulumi up creates everything and awaits it: database ready, schema Job complete, Deployments available, Services with endpoints", async function () {
        const result = await stack.up({ onOutput: outputLog(workdir, "2-up") });
        assert.strictEqual(result.summary.result, "succeeded");
        const ns = must(cluster, undefined, "namespace", NS);
        assert.strictEqual(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");

        const sts = must(cluster, NS, "statefulset", "postgres");
        assert.strictEqual(sts.status.readyReplicas, 1, "postgres ready");
        const jobs = list(cluster, NS, "jobs").filter((j) => j.metadata.name.startsWith("postgres-bootstrap-"));
        assert.strictEqual(jobs.length, 1);
        assert.ok(jobs[0].status.conditions?.some((c: any) => c.type === "Complete" && c.status === "True"), "schema Job complete");
        const deployments = list(cluster, NS, "deployments").map((d) => d.metadata.name).sort();
        for (const name of ["auth", "gateway", "pyxis", "redis", "request-management"]) assert.ok(deployments.includes(name), `Deployment ${name}`);
        for (const d of list(cluster, NS, "deployments")) {
            assert.ok(d.status.conditions?.some((c: any) => c.type === "Available" && c.status === "True"), `${d.metadata.name} available`);
            assert.strictEqual(d.status.updatedReplicas, d.spec.replicas, `${d.metadata.name} rolled out`);
        }
        for (const svc of list(cluster, NS, "services")) {
            if (svc.spec.clusterIP === "None") continue; // a headless governing Service may select the StatefulSet only
            const slices = cluster.get<{ items: KObject[] }>(["-n", NS, "endpointslices", "-l", `kubernetes.io/service-name=${svc.metadata.name}`])!.items;
            const ready = slices.flatMap((s) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready);
            assert.ok(ready.length > 0, `Service ${svc.metadata.name} has ready endpoints`);
        }
        const pv = must(cluster, undefined, "pv", "postgres-pv-volume");
        assert.strictEqual(pv.status.phase, "Bound");
        assert.strictEqual(must(cluster, NS, "pvc", "postgres-pv-claim").status.phase, "Bound");
        assert.ok(list(cluster, NS, "networkpolicies").some((p) => p.metadata.name === "default-deny"), "default-deny policy");
    });

    if (keep) return;

    it("a second pulumi preview with nothing changed plans no change (--expect-no-changes)", async function () {
        const result = await stack.preview({ expectNoChanges: true, onOutput: outputLog(workdir, "3-preview-no-changes") });
        // "read" is the program's StackReference to its own last outputs (asky:storage guard), not a change.
        const changed = Object.entries(result.changeSummary).filter(([op, n]) => op !== "same" && op !== "read" && n);
        assert.deepStrictEqual(changed, [], "no operation other than same");
    });

    /** What a day-2 change must never replace: the database and its claim. */
    const kept = ["statefulset/postgres", "pvc/postgres-pv-claim"];

    it("day-2: rotating one generated password updates its Secrets in place and rolls the pods that read it", async function () {
        const before = identities(cluster, NS, [...kept, "secret/pyxis-database-url", "secret/database-role-passwords"]);
        const pyxisPods = podTemplateHashes(cluster, NS, "pyxis");
        const oldUrl = must(cluster, NS, "secret", "pyxis-database-url").data;
        const urn = await urnOf(stack, "random:index/randomPassword:RandomPassword", "asky-pyxis-password");
        const result = await stack.up({ replace: [urn], onOutput: outputLog(workdir, "4a-rotate-password") });
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
        const jobs = list(cluster, NS, "jobs").filter((j) => j.metadata.name.startsWith("postgres-bootstrap-"));
        assert.ok(jobs.some((j) => j.status.succeeded === 1), "the schema Job of the new credentials completed");
    });

    it("day-2: changing the gateway config updates gateway-config in place and rolls the gateway", async function () {
        const before = identities(cluster, NS, [...kept, "configmap/gateway-config"]);
        const gatewayPods = podTemplateHashes(cluster, NS, "gateway");
        editStackConfig(workdir, STACK, (c) => {
            c["asky:gateway"].limits.clientMaxBodySize = "3m";
        });
        const result = await stack.up({ onOutput: outputLog(workdir, "4b-gateway-config") });
        assert.strictEqual(result.summary.result, "succeeded");
        const after = identities(cluster, NS, Object.keys(before));
        for (const ref of Object.keys(before)) assert.strictEqual(after[ref].uid, before[ref].uid, `${ref} kept`);
        const conf = Object.values(must(cluster, NS, "configmap", "gateway-config").data ?? {}).join("\n");
        assert.match(conf, /client_max_body_size\s+3m;/);
        await waitFor("the gateway pods to roll", () => {
            const now = podTemplateHashes(cluster, NS, "gateway");
            return now.length === 1 && !gatewayPods.includes(now[0]);
        });
    });

    it("day-2: adding a seeded user updates the users' Secret in place and runs the schema again, the database kept", async function () {
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
        assert.ok("pharmacist@asky.local" in (outputs.initialUserPasswords.value as Record<string, string>));
    });

    it("day-2: growing asky:storage.size updates the PV and the claim in place (StorageClass manual allows expansion)", async function () {
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
        editStackConfig(workdir, STACK, (c) => {
            c["asky:storage"].hostPath = "/mnt/elsewhere";
        });
        const resourceVersions = identities(cluster, NS, [...kept, "configmap/gateway-config"]);
        await assert.rejects(stack.up({ onOutput: outputLog(workdir, "4e-hostpath-refused") }), /asky:storage\.hostPath/);
        assert.deepStrictEqual(identities(cluster, NS, Object.keys(resourceVersions)), resourceVersions, "nothing touched");
        editStackConfig(workdir, STACK, (c) => {
            c["asky:storage"].hostPath = "/mnt/data";
        });
    });

    it("day-2: after the changes, another preview still plans no change", async function () {
        await stack.preview({ expectNoChanges: true, onOutput: outputLog(workdir, "4d-preview-no-changes") });
    });

    it("pulumi destroy leaves nothing of the stack in the cluster", async function () {
        const result = await stack.destroy({ onOutput: outputLog(workdir, "5-destroy") });
        assert.strictEqual(result.summary.result, "succeeded");
        await waitFor("the namespace to be gone", () => cluster.get(["namespace", NS]) === undefined, 180_000);
        assert.deepStrictEqual(leftovers(cluster, "asky"), []);
        const state = await stack.exportStack();
        assert.deepStrictEqual((state.deployment.resources ?? []).map((r: any) => r.type).filter((t: string) => t !== "pulumi:pulumi:Stack"), []);
        await stack.workspace.removeStack(STACK);
    });
});

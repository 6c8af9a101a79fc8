// The deploy timeline the real-node e2e asserts the ordering with and bench:deploy -- --real-node reports
// (test/e2e/support/timeline.ts), on fixed objects shaped as the API server returns them.
import * as assert from "assert";
import { KObject } from "./e2e/support/kube";
import { DeployObjects, deployTimeline, orderingViolations } from "./e2e/support/timeline";

/** 2026-12-02T18:00:00Z plus `s` seconds, as the API server writes it. */
const t = (s: number) => new Date(Date.UTC(2026, 11, 2, 18, 0, s)).toISOString().replace(".000Z", "Z");

function object(kind: string, name: string, createdAt: number, extra: Omit<Partial<KObject>, "metadata"> & { metadata?: Partial<KObject["metadata"]> } = {}): KObject {
    return {
        apiVersion: "v1", kind, ...extra,
        metadata: { name, namespace: "asky", uid: `${kind}-${name}`, resourceVersion: "1", creationTimestamp: t(createdAt), labels: { "app.kubernetes.io/name": name }, ...extra.metadata },
    };
}
const pod = (workload: string, createdAt: number, readyAt: number, suffix = "abc") => object("Pod", workload, createdAt, {
    metadata: { name: `${workload}-${suffix}`, labels: { "app.kubernetes.io/name": workload } },
    status: { conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: t(createdAt) }, { type: "Ready", status: "True", lastTransitionTime: t(readyAt) }] },
});

/** A deploy in the program's order: policies at 1 s, the database Ready at 12 s, the schema Job done at 20 s, the services, the gateway beside them. */
function deploy(): DeployObjects {
    return {
        namespace: object("Namespace", "asky", 0),
        policies: [object("NetworkPolicy", "default-deny", 0), object("NetworkPolicy", "gateway", 1)],
        services: ["auth", "pyxis", "request-management", "gateway"].map((s) => object("Service", s, 0)),
        statefulSets: [object("StatefulSet", "postgres", 2)],
        deployments: [object("Deployment", "auth", 21), object("Deployment", "pyxis", 21), object("Deployment", "request-management", 22), object("Deployment", "gateway", 21)],
        jobs: [object("Job", "postgres-bootstrap-1a2b", 13, { status: { completionTime: t(20) } })],
        pods: [
            pod("postgres", 2, 12, "0"),
            object("Pod", "postgres-bootstrap-1a2b-xyz", 13, { metadata: { labels: { "app.kubernetes.io/name": "postgres-bootstrap" } } }),
            pod("auth", 21, 27), pod("pyxis", 21, 30), pod("request-management", 22, 29), pod("gateway", 21, 25),
        ],
    };
}

describe("deploy timeline from the cluster's timestamps (test/e2e/support/timeline.ts)", () => {
    it("the critical path is the sum of each wait's own length: policies, database, schema Job, slowest service, gateway", () => {
        const tl = deployTimeline(deploy());
        assert.deepStrictEqual([tl.policies, tl.database, tl.schema].map((w) => (w.end - w.start) / 1000), [1, 10, 7]);
        assert.deepStrictEqual(tl.services.map((s) => [s.what, (s.end - s.start) / 1000]), [["pyxis", 9], ["request-management", 7], ["auth", 6]]);
        assert.strictEqual((tl.gateway.end - tl.gateway.start) / 1000, 4);
        assert.strictEqual(tl.criticalPath, 1 + 10 + 7 + 9 + 4);
        assert.strictEqual(tl.criticalPathGatewayBeside, 1 + 10 + 7 + 9, "the gateway's 4 s hide behind pyxis' 9 s");
        assert.strictEqual(tl.span, 30, "namespace at 0 s, the last pod Ready at 30 s");
    });

    it("the gaps between waits (the orchestrator's) are not part of the critical path", () => {
        const d = deploy();
        // The schema Job sent 5 s after the database was Ready: the span grows, the critical path does not.
        d.jobs = [object("Job", "postgres-bootstrap-1a2b", 17, { status: { completionTime: t(24) } })];
        assert.strictEqual(deployTimeline(d).criticalPath, deployTimeline(deploy()).criticalPath);
    });

    it("the gateway counts in full when it is slower than every service", () => {
        const d = deploy();
        d.pods = d.pods.map((p) => (p.metadata.name === "gateway-abc" ? pod("gateway", 21, 40) : p));
        const tl = deployTimeline(d);
        assert.strictEqual(tl.criticalPathGatewayBeside, 1 + 10 + 7 + 19);
        assert.strictEqual(tl.span, 40);
    });

    it("a workload without pods, or a Job not complete, is an error rather than a figure", () => {
        const noPods = deploy();
        noPods.pods = noPods.pods.filter((p) => !p.metadata.name.startsWith("pyxis"));
        assert.throws(() => deployTimeline(noPods), /no pods of Deployment pyxis/);
        const running = deploy();
        running.jobs = [object("Job", "postgres-bootstrap-1a2b", 13, { status: {} })];
        assert.throws(() => deployTimeline(running), /completionTime: no timestamp/);
    });

    it("the program's order holds: no broken promise", () => {
        assert.deepStrictEqual(orderingViolations(deploy()), []);
    });

    it("names each broken promise: a pod before the policies, a service before the schema, the gateway before a Service (GW-9)", () => {
        const d = deploy();
        d.pods.push(pod("redis", 0, 3));
        d.pods = d.pods.map((p) => (p.metadata.name === "auth-abc" ? pod("auth", 19, 27) : p));
        d.services = d.services.map((s) => (s.metadata.name === "pyxis" ? object("Service", "pyxis", 22) : s));
        assert.deepStrictEqual(orderingViolations(d), [
            "pod redis-abc created before the last NetworkPolicy",
            "pod auth-abc created before the schema Job completed",
            "gateway pod gateway-abc created before Service pyxis",
        ]);
    });
});

// What the common manifest linters (kube-score, Polaris, kube-linter) found on the render and the program
// fixed (README "What the linters report"): probes that are the same check, the database's governing Service,
// priority classes for the database and the gateway, and the image pull policy.

import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { imagePullPolicy } from "../components/podHardening";
import { renderedStack } from "./support/render";

type Obj = Record<string, any>;

function podSpecs(objects: readonly Obj[]): { owner: Obj; spec: Obj }[] {
    return objects.flatMap((o) => {
        if (o.kind === "CronJob") return [{ owner: o, spec: o.spec.jobTemplate.spec.template.spec }];
        if (["Deployment", "StatefulSet", "Job", "DaemonSet"].includes(o.kind)) return [{ owner: o, spec: o.spec.template.spec }];
        return [];
    });
}

/** kube-score's pod-probes-identical, as it compares (intstr IntValue: a named port counts as 0). */
function kubeScoreIdentical(r: Obj, l: Obj): boolean {
    const intValue = (p: unknown) => (typeof p === "number" ? p : Number.parseInt(String(p), 10) || 0);
    if (r.httpGet && l.httpGet) return r.httpGet.path === l.httpGet.path && intValue(r.httpGet.port) === intValue(l.httpGet.port);
    if (r.tcpSocket && l.tcpSocket) return JSON.stringify(r.tcpSocket.port) === JSON.stringify(l.tcpSocket.port);
    if (r.exec && l.exec) return JSON.stringify(r.exec.command) === JSON.stringify(l.exec.command);
    return false;
}

const resolve = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));

describe("linter findings on the render, fixed (README: what the linters report)", () => {
    for (const stack of ["dev", "prod"] as const) {
        describe(stack, () => {
            it("POD-10 no long-running container has readiness and liveness that kube-score's pod-probes-identical takes for the same check", async () => {
                const { objects } = await renderedStack(stack);
                const checked: string[] = [];
                for (const { owner, spec } of podSpecs(objects as Obj[])) {
                    if (owner.kind === "Job" || owner.kind === "CronJob") continue;
                    for (const c of spec.containers) {
                        assert.ok(c.readinessProbe && c.livenessProbe, `${owner.kind}/${owner.metadata.name} ${c.name} has both probes`);
                        assert.ok(!kubeScoreIdentical(c.readinessProbe, c.livenessProbe), `${owner.kind}/${owner.metadata.name} ${c.name}: ${JSON.stringify([c.readinessProbe, c.livenessProbe])}`);
                        checked.push(c.name);
                    }
                }
                assert.deepStrictEqual(checked.sort(), [
                    "access-log-exporter", "auth", "nginx", "nginx-exporter", "postgres", "postgres-exporter",
                    "pyxis", "redis", "redis-exporter", "request-management",
                ], "every long-running container, the exporters included");
            });

            it("HA-5 the database StatefulSet's serviceName is a headless Service that selects its pod (kube-score statefulset-has-servicename)", async () => {
                const { objects } = await renderedStack(stack);
                const sts = (objects as Obj[]).filter((o) => o.kind === "StatefulSet");
                assert.strictEqual(sts.length, 1);
                for (const s of sts) {
                    const svc = (objects as Obj[]).find((o) => o.kind === "Service" && o.metadata.name === s.spec.serviceName && o.metadata.namespace === s.metadata.namespace);
                    assert.ok(svc, `Service ${s.spec.serviceName}`);
                    assert.strictEqual(svc!.spec.clusterIP, "None", "headless");
                    const labels = s.spec.template.metadata.labels;
                    assert.ok(Object.entries(svc!.spec.selector).every(([k, v]) => labels[k] === v), "selects the StatefulSet's pods");
                }
            });

            it(`priorityClassName: ${stack === "prod" ? "the database and the gateway run at PriorityClasses of the stack, the database higher" : "none (availability.priorityClasses is off)"}`, async () => {
                const { objects } = await renderedStack(stack);
                const classes = (objects as Obj[]).filter((o) => o.kind === "PriorityClass");
                const withClass = podSpecs(objects as Obj[]).filter((p) => p.spec.priorityClassName).map((p) => `${p.owner.kind}/${p.owner.metadata.name}=${p.spec.priorityClassName}`);
                if (stack === "dev") {
                    assert.deepStrictEqual([classes.length, withClass], [0, []]);
                    return;
                }
                assert.deepStrictEqual(withClass.sort(), ["Deployment/gateway=asky-prod-gateway", "StatefulSet/postgres=asky-prod-database"]);
                const value = (n: string) => classes.find((c) => c.metadata.name === n)!.value;
                assert.ok(value("asky-prod-database") > value("asky-prod-gateway") && value("asky-prod-gateway") > 0);
                assert.ok(value("asky-prod-database") < 1_000_000_000, "below the cluster's system classes");
                for (const c of classes) assert.strictEqual(c.globalDefault, false, `${c.metadata.name} is nobody's default`);
            });

            it("imagePullPolicy is explicit on every container: Always for a tag (it can be pushed again), IfNotPresent only for a digest", async () => {
                const { objects } = await renderedStack(stack);
                for (const { owner, spec } of podSpecs(objects as Obj[]))
                    for (const c of [...(spec.initContainers ?? []), ...spec.containers])
                        assert.strictEqual(c.imagePullPolicy, c.image.includes("@sha256:") ? "IfNotPresent" : "Always", `${owner.kind}/${owner.metadata.name} ${c.name} (${c.image})`);
            });
        });
    }

    it("imagePullPolicy: a digest, also after a tag, is IfNotPresent; tags, version tags and latest are Always", async () => {
        const digest = "sha256:" + "ab".repeat(32);
        assert.strictEqual(await resolve(imagePullPolicy(`postgres@${digest}`)), "IfNotPresent");
        assert.strictEqual(await resolve(imagePullPolicy(`registry.local:5000/postgres:16.6-bookworm@${digest}`)), "IfNotPresent");
        for (const image of ["postgres:16.6-bookworm", "registry.local:5000/redis:7.4.1", "elisaflemer/asky-auth:latest", "nginx"])
            assert.strictEqual(await resolve(imagePullPolicy(image)), "Always", image);
    });
});

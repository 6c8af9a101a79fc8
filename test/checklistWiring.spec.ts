// WIRE-1..6 (checklist/wiring.ts) at their edges: a failing case per branch with the message an operator
// reads, and the passing case beside it. The mutation run over the file
// (npm run test:mutation -- checklist-wiring) showed which of them no spec asserted.
import assert from "node:assert/strict";
import { Check, K8sObject, PolicyContext } from "../checklist";
import { hasHashSuffix, wire1, wire2, wire3, wire5, wire6 } from "../checklist/wiring";
import { reasons as checkReasons, k8sObject as k8s } from "./support/checklist";

const ctx: PolicyContext = { stack: "dev", namespace: "asky" };
const reasons = (check: Check, objects: K8sObject[]) => checkReasons(check, objects, ctx);
/** A workload whose pod template carries `labels`; its own selector matches them unless given. */
const workload = (kind: string, name: string, labels: Record<string, string>, podSpec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, namespace: string | null = "asky") =>
    k8s(kind, name, { spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "app" }], ...podSpec } }, ...extra } }, namespace);
const service = (name: string, spec: Record<string, unknown>, namespace = "asky") => k8s("Service", name, { spec }, namespace);

describe("WIRE-1..6 at their edges (checklist/wiring.ts)", () => {
    it("WIRE-1: a Service selects exactly one workload of its namespace; ExternalName selects none by design", () => {
        const pyxis = workload("Deployment", "pyxis", { app: "pyxis", tier: "api" });
        assert.deepEqual(reasons(wire1, [pyxis, service("pyxis", { selector: { app: "pyxis" } })]), []);
        assert.deepEqual(reasons(wire1, [service("db", { type: "ExternalName", externalName: "db.example" })]), []);
        for (const selector of [undefined, {}, ["app=pyxis"], "app=pyxis"])
            assert.deepEqual(reasons(wire1, [pyxis, service("s", selector === undefined ? {} : { selector })]), ["Service/s: has no selector"], JSON.stringify(selector));
        assert.deepEqual(reasons(wire1, [k8s("Service", "s")]), ["Service/s: has no selector"]);
        assert.deepEqual(reasons(wire1, [pyxis, service("s", { selector: { app: "pyxis", tier: "db" } })]), ["Service/s: selector app=pyxis,tier=db matches no workload's pod labels"]);
        assert.deepEqual(reasons(wire1, [pyxis, service("s", { selector: { app: "pyxis" } }, "other")]), ["Service/s: selector app=pyxis matches no workload's pod labels"], "pods of another namespace");
        const twin = workload("StatefulSet", "pyxis-copy", { app: "pyxis" });
        assert.deepEqual(reasons(wire1, [pyxis, twin, service("s", { selector: { app: "pyxis" } })]), ["Service/s: selector app=pyxis matches 2 workloads: Deployment/pyxis, StatefulSet/pyxis-copy"]);
    });

    it("WIRE-1: a workload's own selector must select its pods; Jobs may leave it to the API server, Pods and CronJobs have none", () => {
        const labels = { app: "pyxis" };
        const mismatch = (kind: string) => [`${kind}/w: spec.selector does not match the pod template labels`];
        assert.deepEqual(reasons(wire1, [k8s("Deployment", "w", { spec: { selector: { matchLabels: { app: "auth" } }, template: { metadata: { labels } } } })]), mismatch("Deployment"));
        assert.deepEqual(reasons(wire1, [k8s("Deployment", "w", { spec: { template: { metadata: { labels } } } })]), mismatch("Deployment"), "no selector");
        assert.deepEqual(reasons(wire1, [k8s("Deployment", "w", { spec: { selector: {}, template: { metadata: { labels } } } })]), mismatch("Deployment"), "an empty selector selects everything");
        assert.deepEqual(reasons(wire1, [k8s("Deployment", "w", { spec: { selector: { matchExpressions: [{ key: "app", operator: "In", values: ["pyxis"] }] }, template: { metadata: { labels } } } })]), []);
        assert.deepEqual(reasons(wire1, [k8s("Job", "w", { spec: { template: { metadata: { labels } } } })]), []);
        assert.deepEqual(reasons(wire1, [k8s("Job", "w", { spec: { selector: { matchLabels: { app: "auth" } }, template: { metadata: { labels } } } })]), mismatch("Job"));
        assert.deepEqual(reasons(wire1, [k8s("Pod", "w", { spec: { containers: [] } }), k8s("CronJob", "w", { spec: { jobTemplate: { spec: { template: { metadata: { labels } } } } } })]), []);
    });

    it("WIRE-2: each Service port reaches a declared container port, by number, name or its own port, with the same protocol", () => {
        const pods = workload("Deployment", "pyxis", { app: "pyxis" }, {
            containers: [{ name: "app", ports: [{ name: "http", containerPort: 8000 }, { name: "dns", containerPort: 53, protocol: "UDP" }] }],
            initContainers: [{ name: "init", ports: [{ name: "setup", containerPort: 9000 }] }],
        });
        const svc = (ports: unknown[]) => reasons(wire2, [pods, service("pyxis", { selector: { app: "pyxis" }, ports })]);
        assert.deepEqual(svc([{ port: 80, targetPort: 8000 }, { port: 81, targetPort: "http" }, { port: 8000 }, { port: 53, targetPort: "dns", protocol: "UDP" }, { port: 54, targetPort: 53, protocol: "UDP" }]), []);
        assert.deepEqual(svc([{ name: "web", port: 80, targetPort: 8080 }, { port: 81, targetPort: "https" }, { port: 82 }, { name: "dns-tcp", port: 53, targetPort: "dns" }, { port: 90, targetPort: 9000 }, null]), [
            "Service/pyxis: port web targets TCP 8080, which no selected container declares",
            'Service/pyxis: port 81 targets TCP "https", which no selected container declares',
            "Service/pyxis: port 82 targets TCP 82, which no selected container declares",
            'Service/pyxis: port dns-tcp targets TCP "dns", which no selected container declares',
            "Service/pyxis: port 90 targets TCP 9000, which no selected container declares",
            "Service/pyxis: port undefined targets TCP undefined, which no selected container declares",
        ]);
        assert.deepEqual(svc([{ port: 8000, protocol: "UDP" }]), ["Service/pyxis: port 8000 targets UDP 8000, which no selected container declares"]);
        // No selected pods is WIRE-1's to report; an ExternalName Service has no ports of ours.
        assert.deepEqual(reasons(wire2, [service("s", { selector: { app: "none" }, ports: [{ port: 1 }] }), service("e", { type: "ExternalName", selector: { app: "pyxis" }, ports: [{ port: 2 }] }), pods]), []);
    });

    it("WIRE-3: every ConfigMap, Secret and claim a pod reads exists in its namespace with the keys it reads; optional ones may be absent", () => {
        const pod = (podSpec: Record<string, unknown>, kind = "Deployment", extra: Record<string, unknown> = {}, namespace: string | null = "asky") =>
            workload(kind, "w", { app: "w" }, podSpec, extra, namespace);
        const volumes = [{ name: "conf", configMap: { name: "conf", items: [{ key: "a", path: "a" }] } }, { name: "data", persistentVolumeClaim: { claimName: "data" } },
            { name: "opt", secret: { secretName: "maybe", optional: true } }];
        const present = [k8s("ConfigMap", "conf", { data: { a: "1" } }), k8s("PersistentVolumeClaim", "data")];
        assert.deepEqual(reasons(wire3, [pod({ volumes }), ...present]), []);
        assert.deepEqual(reasons(wire3, [pod({ volumes }), k8s("ConfigMap", "conf", { binaryData: { a: "AQ==" } }), k8s("PersistentVolumeClaim", "data")]), []);
        assert.deepEqual(reasons(wire3, [pod({ volumes }), k8s("ConfigMap", "conf", { stringData: { a: "1" } }), k8s("PersistentVolumeClaim", "data")]), []);
        assert.deepEqual(reasons(wire3, [pod({ volumes }), k8s("ConfigMap", "conf", { data: { b: "1" } }), k8s("PersistentVolumeClaim", "data", {}, "other")]), [
            'Deployment/w: volume "conf" reads key "a", which ConfigMap "conf" does not have',
            'Deployment/w: volume "data" references PersistentVolumeClaim "data", which does not exist in namespace asky',
        ]);
        assert.deepEqual(reasons(wire3, [pod({ volumes: volumes.slice(0, 1) }, "Deployment", {}, null)]), ['Deployment/w: volume "conf" references ConfigMap "conf", which does not exist in namespace (none)']);
        assert.deepEqual(reasons(wire3, [pod({ volumes: [], containers: [{ name: "app", volumeMounts: [{ name: "ghost", mountPath: "/x" }] }], initContainers: [{ name: "init", volumeMounts: [{ mountPath: "/y" }] }] })]), [
            'Deployment/w: initContainer "init" mounts volume "undefined", which the pod does not declare',
            'Deployment/w: container "app" mounts volume "ghost", which the pod does not declare',
        ]);
        const claimMount = { containers: [{ name: "app", volumeMounts: [{ name: "pgdata", mountPath: "/var/lib/postgresql/data" }] }] };
        const claimTemplates = { volumeClaimTemplates: [{ metadata: { name: "pgdata" } }, null] };
        assert.deepEqual(reasons(wire3, [pod(claimMount, "StatefulSet", claimTemplates)]), [], "a StatefulSet's claim template is a volume");
        assert.deepEqual(reasons(wire3, [pod(claimMount, "Deployment", claimTemplates)]), ['Deployment/w: container "app" mounts volume "pgdata", which the pod does not declare'], "only a StatefulSet's");
    });

    it("WIRE-5: the five recommended labels, part-of and managed-by fixed, one instance for the stack (the majority's)", () => {
        const labels = (instance: string, over: Record<string, string> = {}) => ({
            "app.kubernetes.io/name": "pyxis", "app.kubernetes.io/instance": instance, "app.kubernetes.io/component": "api",
            "app.kubernetes.io/part-of": "asky", "app.kubernetes.io/managed-by": "pulumi", ...over,
        });
        const labelled = (name: string, l: Record<string, string>, kind = "ConfigMap") => k8s(kind, name, { metadata: { labels: l } });
        assert.deepEqual(reasons(wire5, [labelled("a", labels("asky-dev")), k8s("Deployment", "d", { metadata: { labels: labels("asky-dev") }, spec: { template: { metadata: { labels: labels("asky-dev") } } } }),
            labelled("n", labels("asky-dev"), "Namespace")]), []);
        assert.deepEqual(reasons(wire5, [labelled("a", labels("asky-dev", { "app.kubernetes.io/component": "", "app.kubernetes.io/part-of": "other", "app.kubernetes.io/managed-by": "helm" }))]), [
            "ConfigMap/a: metadata.labels lack app.kubernetes.io/component",
            'ConfigMap/a: metadata.labels: app.kubernetes.io/part-of must be "asky" (is "other")',
            'ConfigMap/a: metadata.labels: app.kubernetes.io/managed-by must be "pulumi" (is "helm")',
        ]);
        assert.deepEqual(reasons(wire5, [k8s("Secret", "bare")]), ["Secret/bare: metadata.labels lack app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, app.kubernetes.io/part-of, app.kubernetes.io/managed-by"]);
        // A workload's pod template is judged too (a bare Pod's labels are its metadata's).
        const d = k8s("Deployment", "d", { metadata: { labels: labels("asky-dev") }, spec: { template: { metadata: { labels: { app: "d" } } } } });
        assert.deepEqual(reasons(wire5, [d]), ["Deployment/d: pod template labels lack app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, app.kubernetes.io/part-of, app.kubernetes.io/managed-by"]);
        assert.deepEqual(reasons(wire5, [k8s("Pod", "p", { metadata: { labels: labels("asky-dev") }, spec: { containers: [] } })]), []);
        assert.deepEqual(reasons(wire5, [k8s("Pod", "p", { metadata: { labels: { app: "p" } }, spec: { containers: [] } })]),
            ["Pod/p: metadata.labels lack app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, app.kubernetes.io/part-of, app.kubernetes.io/managed-by"], "once, not again as a template");
        // The odd instance out is named, whether it comes first or last; an object without one only lacks it.
        const stray = 'ConfigMap/x: metadata.labels: app.kubernetes.io/instance is "asky-old", the rest of the stack uses "asky-dev"';
        const most = [labelled("a", labels("asky-dev")), labelled("b", labels("asky-dev"))];
        assert.deepEqual(reasons(wire5, [labelled("x", labels("asky-old")), ...most]), [stray]);
        assert.deepEqual(reasons(wire5, [...most, labelled("x", labels("asky-old"))]), [stray]);
        const { "app.kubernetes.io/instance": _, ...noInstance } = labels("asky-dev");
        assert.deepEqual(reasons(wire5, [...most, labelled("x", labels("asky-old")), labelled("y", noInstance)]), ["ConfigMap/y: metadata.labels lack app.kubernetes.io/instance", stray]);
        assert.deepEqual(reasons(wire5, [...most, labelled("x", labels("asky-old")), k8s("Secret", "bare")]),
            ["Secret/bare: metadata.labels lack app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, app.kubernetes.io/part-of, app.kubernetes.io/managed-by", stray], "an object without labels among two instances");
        assert.deepEqual(reasons(wire5, [labelled("a", labels("asky-dev")), labelled("y", noInstance), labelled("z", noInstance)]),
            ["ConfigMap/y: metadata.labels lack app.kubernetes.io/instance", "ConfigMap/z: metadata.labels lack app.kubernetes.io/instance"], "objects without an instance are no second instance");
    });

    it("a name carries a content hash: six or more of [0-9a-z] with a digit, or eight or more hex digits, after the last dash", () => {
        for (const name of ["gateway-conf-5f8d9c7b", "conf-abc123", "conf-deadbeef", "conf-0123456g", "a-b-c-x1y2z3"]) assert.equal(hasHashSuffix(name), true, name);
        for (const name of ["conf", "gateway-conf", "conf-abcdef", "conf-abc12", "conf-deadbee", "conf-abcdefgh", "conf-DEADBEEF1", "conf-abc123-", "conf_abc123", "conf-abc123x!", "conf-zzzdeadbeef"]) assert.equal(hasHashSuffix(name), false, name);
    });

    it("WIRE-6: a rolling workload's ConfigMaps and Secrets are hashed in their names or in checksum/ annotations; one generic checksum covers all", () => {
        const uses = (annotations: Record<string, unknown> | undefined, kind = "Deployment") => reasons(wire6, [k8s(kind, "w", { spec: { template: {
            metadata: annotations ? { annotations } : {},
            spec: {
                volumes: [{ name: "a", configMap: { name: "conf" } }, { name: "b", secret: { secretName: "keys" } }, { name: "c", configMap: { name: "static-5f8d9c7b" } }, { name: "d", persistentVolumeClaim: { claimName: "data" } }],
                containers: [{ name: "app", env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "conf", key: "x" } } }] }],
                imagePullSecrets: [{ name: "registry" }],
            },
        } } })]);
        assert.deepEqual(uses(undefined), ["Deployment/w: pod template uses ConfigMap/conf, Secret/keys but has no checksum/ annotation and the names carry no content hash"]);
        assert.deepEqual(uses({ "other/annotation": "5f8d9c7b" }, "StatefulSet"), ["StatefulSet/w: pod template uses ConfigMap/conf, Secret/keys but has no checksum/ annotation and the names carry no content hash"]);
        assert.deepEqual(uses(undefined, "DaemonSet"), ["DaemonSet/w: pod template uses ConfigMap/conf, Secret/keys but has no checksum/ annotation and the names carry no content hash"]);
        assert.deepEqual(uses(undefined, "Job"), [], "a Job's new pods read the current content");
        assert.deepEqual(uses({ "checksum/config": "c2hhMjU2OmFiYw==" }), []);
        assert.deepEqual(uses({ "checksum/conf": "5f8d9c7b", "checksum/keys": "0a1b2c3d" }), []);
        assert.deepEqual(uses({ "checksum/conf": "5f8d9c7b" }), ["Deployment/w: no checksum/keys annotation for Secret/keys, while other references have their own"]);
        assert.deepEqual(uses({ "checksum/conf": "5f8d9c7b", "checksum/all": "0a1b2c3d" }), [], "a generic key covers the rest");
        assert.deepEqual(uses({ "checksum/config": "abc1234", "checksum/x": "not a hash", "checksum/y": 12345678, "checksum/z": "0123456789abcdef!", "checksum/w": "sha256 0123456789abcdef" }), [
            'Deployment/w: annotation checksum/config is not a hash: "abc1234"',
            'Deployment/w: annotation checksum/x is not a hash: "not a hash"',
            "Deployment/w: annotation checksum/y is not a hash: 12345678",
            'Deployment/w: annotation checksum/z is not a hash: "0123456789abcdef!"',
            'Deployment/w: annotation checksum/w is not a hash: "sha256 0123456789abcdef"',
        ]);
        // Only hashed names, claims and pull secrets: nothing to annotate.
        assert.deepEqual(reasons(wire6, [k8s("DaemonSet", "w", { spec: { template: { spec: {
            volumes: [{ name: "c", configMap: { name: "static-5f8d9c7b" } }, { name: "d", persistentVolumeClaim: { claimName: "data" } }], imagePullSecrets: [{ name: "registry" }], containers: [],
        } } } })]), []);
    });
});

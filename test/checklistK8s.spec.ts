// checklist/k8s.ts at its edges: the Kubernetes semantics every check stands on (which kinds have a
// namespace, where a workload keeps its pod template, label selectors, what a pod reads, which
// workloads run several pods). A check is only as right as these; the mutation run over the file
// (npm run test:mutation -- checklist-k8s) showed which of them no spec asserted.
import assert from "node:assert/strict";
import {
    K8sObject, configRefs, containersOf, findObject, hpasFor, isEmptySelector, mapSelects, multiReplicaWorkloads,
    namespaceLabels, podTemplateOf, podTemplates, ref, selectorMatches,
} from "../checklist/k8s";
import { wire4 } from "../checklist/wiring";
import { k8sObject as obj } from "./support/checklist";

const ctx = { stack: "dev" as const, namespace: "asky" };
const podSpec = { containers: [{ name: "app", image: "nginx:1.27" }] };

// kube-apiserver v1.36.3 with every API group on: `kubectl api-resources --namespaced=false` and `=true`.
const DISCOVERY_CLUSTER_SCOPED = [
    "APIService", "CSIDriver", "CSINode", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ComponentStatus",
    "CustomResourceDefinition", "DeviceClass", "DeviceTaintRule", "FlowSchema", "IPAddress", "IngressClass", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PriorityClass",
    "PriorityLevelConfiguration", "ResourcePoolStatusRequest", "ResourceSlice", "RuntimeClass", "SelfSubjectAccessReview", "SelfSubjectReview",
    "SelfSubjectRulesReview", "ServiceCIDR", "StorageClass", "StorageVersion", "SubjectAccessReview", "TokenReview", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment", "VolumeAttributesClass",
];
const DISCOVERY_NAMESPACED = [
    "Binding", "CSIStorageCapacity", "ConfigMap", "ControllerRevision", "CronJob", "DaemonSet", "Deployment", "EndpointSlice", "Endpoints",
    "Event", "HorizontalPodAutoscaler", "Ingress", "Job", "Lease", "LeaseCandidate", "LimitRange", "LocalSubjectAccessReview", "NetworkPolicy",
    "PersistentVolumeClaim", "Pod", "PodDisruptionBudget", "PodTemplate", "ReplicaSet", "ReplicationController", "ResourceClaim",
    "ResourceClaimTemplate", "ResourceQuota", "Role", "RoleBinding", "Secret", "Service", "ServiceAccount", "StatefulSet",
];

describe("the Kubernetes semantics the checks stand on (checklist/k8s.ts)", () => {
    it("WIRE-4: every kind the API server serves without a namespace needs none; every namespaced kind, and a custom one, needs the stack's", () => {
        assert.deepEqual(wire4(DISCOVERY_CLUSTER_SCOPED.map((k) => obj(k, "x", {}, null)), ctx), []);
        const flagged = wire4(DISCOVERY_NAMESPACED.map((k) => obj(k, "x", {}, null)), ctx).map((v) => v.object);
        assert.deepEqual(flagged, DISCOVERY_NAMESPACED.map((k) => `${k}/x`));
        assert.deepEqual(wire4([obj("Certificate", "tls", {}, "default")], ctx).map((v) => v.reason), ['metadata.namespace is "default", expected "asky"']);
        // An object without metadata is reported, not a crash of the whole pack.
        assert.deepEqual(wire4([{ apiVersion: "v1", kind: "ConfigMap" } as unknown as K8sObject], ctx),
            [{ id: "WIRE-4", object: "ConfigMap/undefined", reason: "metadata.namespace is undefined, expected \"asky\"" }]);
    });

    it("finds an object by kind and name, in one namespace when asked, past objects without metadata", () => {
        const objects = [{ kind: "Secret" } as unknown as K8sObject, obj("Secret", "db", {}, "other"), obj("ConfigMap", "db"), obj("Secret", "db")];
        assert.equal(findObject(objects, "Secret", "db"), objects[1]);
        assert.equal(findObject(objects, "Secret", "db", "asky"), objects[3]);
        assert.equal(findObject(objects, "Secret", "db", "nowhere"), undefined);
        assert.equal(findObject(objects, "Secret", "cache"), undefined);
        assert.equal(ref({ kind: "Pod" } as unknown as K8sObject), "Pod/undefined");
    });

    it("a workload's pod template is where its kind keeps it, with the path messages name; long-running only for pods that run until stopped", () => {
        const tpl = { metadata: { labels: { a: "1" } }, spec: podSpec };
        const cases: [string, Record<string, unknown>, string, boolean][] = [
            ["Deployment", { spec: { template: tpl } }, "spec.template.spec", true],
            ["StatefulSet", { spec: { template: tpl } }, "spec.template.spec", true],
            ["DaemonSet", { spec: { template: tpl } }, "spec.template.spec", true],
            ["ReplicaSet", { spec: { template: tpl } }, "spec.template.spec", true],
            ["Job", { spec: { template: tpl } }, "spec.template.spec", false],
            ["CronJob", { spec: { jobTemplate: { spec: { template: tpl } } } }, "spec.jobTemplate.spec.template.spec", false],
        ];
        for (const [kind, extra, path, longRunning] of cases) {
            const t = podTemplateOf(obj(kind, "w", extra));
            assert.ok(t, kind);
            assert.deepEqual({ path: t.path, longRunning: t.longRunning, spec: t.spec, labels: t.metadata.labels }, { path, longRunning, spec: podSpec, labels: { a: "1" } }, kind);
        }
        const pod = podTemplateOf(obj("Pod", "p", { spec: podSpec }));
        assert.deepEqual({ path: pod?.path, longRunning: pod?.longRunning, spec: pod?.spec, name: pod?.metadata.name }, { path: "spec", longRunning: true, spec: podSpec, name: "p" });
        // Not workloads, or workloads without a usable template: nothing to judge, no crash.
        for (const o of [obj("Service", "s", { spec: { template: tpl } }), obj("Deployment", "d"), obj("Deployment", "d", { spec: { template: "x" } }),
            obj("CronJob", "c"), obj("CronJob", "c", { spec: { jobTemplate: {} } })]) assert.equal(podTemplateOf(o), undefined, JSON.stringify(o));
        // A template without metadata or spec is judged as empty.
        assert.deepEqual(podTemplateOf(obj("Job", "j", { spec: { template: {} } }))?.spec, {});
        assert.deepEqual(podTemplates([obj("Service", "s"), obj("Job", "j", { spec: { template: tpl } })]).map((t) => t.owner.metadata.name), ["j"]);
    });

    it("init containers first, each labelled for messages; a spec without containers has none", () => {
        const refs = containersOf({ initContainers: [{ name: "wait" }], containers: [{ name: "app" }, { name: "exporter" }] });
        assert.deepEqual(refs.map(({ init, label }) => [init, label]), [[true, 'initContainer "wait"'], [false, 'container "app"'], [false, 'container "exporter"']]);
        assert.deepEqual(containersOf(undefined), []);
        assert.deepEqual(containersOf({ containers: "app" }), []);
        assert.deepEqual(containersOf({ containers: [null] }).map((r) => r.label), ['container "undefined"']);
    });

    it("label selectors as the API server reads them: matchLabels, the four operators, unknown operators match nothing", () => {
        const labels = { app: "pyxis", tier: "api" };
        assert.equal(selectorMatches(undefined, labels), true);
        assert.equal(selectorMatches({}, undefined), true);
        assert.equal(selectorMatches({ matchLabels: { app: "pyxis" } }, labels), true);
        assert.equal(selectorMatches({ matchLabels: { app: "auth" } }, labels), false);
        assert.equal(selectorMatches({ matchLabels: { app: "pyxis" } }, undefined), false);
        const expr = (operator: string, key = "tier", values?: string[]) => ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });
        assert.equal(selectorMatches(expr("In", "tier", ["api", "db"]), labels), true);
        assert.equal(selectorMatches(expr("In", "tier", ["db"]), labels), false);
        assert.equal(selectorMatches(expr("In", "zone", ["api"]), labels), false);
        assert.equal(selectorMatches(expr("In"), labels), false);
        assert.equal(selectorMatches(expr("NotIn", "tier", ["db"]), labels), true);
        assert.equal(selectorMatches(expr("NotIn", "tier", ["api"]), labels), false);
        assert.equal(selectorMatches(expr("NotIn", "zone", ["api"]), labels), true);
        assert.equal(selectorMatches(expr("Exists"), labels), true);
        assert.equal(selectorMatches(expr("Exists", "zone"), labels), false);
        assert.equal(selectorMatches(expr("DoesNotExist", "zone"), labels), true);
        assert.equal(selectorMatches(expr("DoesNotExist"), labels), false);
        assert.equal(selectorMatches(expr("Exists", "toString"), labels), false, "a key inherited by every object is no label");
        assert.equal(selectorMatches(expr("exists"), labels), false);
        // Every requirement must hold.
        assert.equal(selectorMatches({ matchLabels: { app: "pyxis" }, matchExpressions: [{ key: "tier", operator: "In", values: ["db"] }] }, labels), false);
        assert.equal(isEmptySelector(undefined), true);
        assert.equal(isEmptySelector({ matchLabels: {}, matchExpressions: [] }), true);
        assert.equal(isEmptySelector({ matchLabels: { app: "pyxis" } }), false);
        assert.equal(isEmptySelector({ matchExpressions: [{ key: "app", operator: "Exists" }] }), false);
    });

    it("a Service's plain selector: empty or missing selects no pod; every pair must match", () => {
        assert.equal(mapSelects(undefined, { app: "pyxis" }), false);
        assert.equal(mapSelects({}, { app: "pyxis" }), false);
        assert.equal(mapSelects({ app: "pyxis" }, undefined), false);
        assert.equal(mapSelects({ app: "pyxis", tier: "api" }, { app: "pyxis" }), false);
        assert.equal(mapSelects({ app: "pyxis" }, { app: "pyxis", tier: "api" }), true);
    });

    it("what a pod reads: every volume, projected source, env ref, envFrom and pull secret, with its keys, optionality and where", () => {
        const t = podTemplateOf(obj("Deployment", "pyxis", { spec: { template: { spec: {
            volumes: [
                { name: "conf", configMap: { name: "pyxis-conf", items: [{ key: "a.conf", path: "a" }, { path: "nokey" }, null] } },
                { name: "flags", configMap: { name: "pyxis-flags", optional: true } },
                { name: "keys", secret: { secretName: "pyxis-keys", optional: true } },
                { name: "data", persistentVolumeClaim: { claimName: "pyxis-data" } },
                { name: "all", projected: { sources: [{ configMap: { name: "ca", optional: true, items: [{ key: "ca.crt", path: "ca" }] } }, { secret: { name: "token", items: [{ key: "t", path: "t" }] } }, { serviceAccountToken: { path: "sa" } }, null] } },
                { name: "scratch", emptyDir: {} },
                null,
            ],
            containers: [{
                name: "app",
                env: [
                    { name: "MODE", valueFrom: { configMapKeyRef: { name: "pyxis-env", key: "mode" } } },
                    { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "pyxis-db", key: "password", optional: true } } },
                    { name: "PLAIN", value: "x" },
                    { name: "NOKEY", valueFrom: { secretKeyRef: { name: "pyxis-db" } } },
                    { name: "CMNOKEY", valueFrom: { configMapKeyRef: { name: "pyxis-env", optional: true } } },
                ],
                envFrom: [{ configMapRef: { name: "pyxis-all" } }, { secretRef: { name: "pyxis-all-secret", optional: true } }, {}],
            }],
            imagePullSecrets: [{ name: "registry" }, {}, null],
        } } } }));
        assert.ok(t);
        assert.deepEqual(configRefs(t), [
            { kind: "ConfigMap", name: "pyxis-conf", optional: false, keys: ["a.conf"], where: 'volume "conf"' },
            { kind: "ConfigMap", name: "pyxis-flags", optional: true, keys: [], where: 'volume "flags"' },
            { kind: "Secret", name: "pyxis-keys", optional: true, keys: [], where: 'volume "keys"' },
            { kind: "PersistentVolumeClaim", name: "pyxis-data", optional: false, keys: [], where: 'volume "data"' },
            { kind: "ConfigMap", name: "ca", optional: true, keys: ["ca.crt"], where: 'volume "all" (projected)' },
            { kind: "Secret", name: "token", optional: false, keys: ["t"], where: 'volume "all" (projected)' },
            { kind: "ConfigMap", name: "pyxis-env", optional: false, keys: ["mode"], where: 'container "app" env MODE' },
            { kind: "Secret", name: "pyxis-db", optional: true, keys: ["password"], where: 'container "app" env DB_PASSWORD' },
            { kind: "Secret", name: "pyxis-db", optional: false, keys: [], where: 'container "app" env NOKEY' },
            { kind: "ConfigMap", name: "pyxis-env", optional: true, keys: [], where: 'container "app" env CMNOKEY' },
            { kind: "ConfigMap", name: "pyxis-all", optional: false, keys: [], where: 'container "app" envFrom' },
            { kind: "Secret", name: "pyxis-all-secret", optional: true, keys: [], where: 'container "app" envFrom' },
            { kind: "Secret", name: "registry", optional: false, keys: [], where: "imagePullSecrets" },
        ]);
        const bare = podTemplateOf(obj("Pod", "p", { spec: { containers: [{ name: "c" }] } }));
        assert.ok(bare);
        assert.deepEqual(configRefs(bare), []);
    });

    it("a workload runs several pods when it asks for two or more replicas or an HPA in its namespace targets it by kind and name", () => {
        const deploy = (name: string, replicas?: unknown) => obj("Deployment", name, { spec: { ...(replicas === undefined ? {} : { replicas }), template: { spec: podSpec } } });
        const hpa = (name: string, target: Record<string, unknown>, namespace = "asky") => obj("HorizontalPodAutoscaler", name, { spec: { scaleTargetRef: target } }, namespace);
        const objects = [
            deploy("one"), deploy("two", 2), deploy("text", "3"), deploy("scaled", 1), deploy("elsewhere"), deploy("otherkind"),
            obj("StatefulSet", "db", { spec: { replicas: 3 } }), obj("DaemonSet", "agent", { spec: { replicas: 5 } }), obj("Job", "batch", { spec: { replicas: 2 } }),
            hpa("scaled", { kind: "Deployment", name: "scaled" }),
            hpa("elsewhere", { kind: "Deployment", name: "elsewhere" }, "other"),
            hpa("otherkind", { kind: "StatefulSet", name: "otherkind" }),
            hpa("broken", {}), obj("HorizontalPodAutoscaler", "nospec", {}), { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" } as unknown as K8sObject,
            // KEDA's ScaledObject names its target the same way; it is not an HPA (KEDA makes one).
            obj("ScaledObject", "one", { spec: { scaleTargetRef: { kind: "Deployment", name: "one" } } }),
        ];
        assert.deepEqual(multiReplicaWorkloads(objects).map(ref), ["Deployment/two", "Deployment/scaled", "StatefulSet/db"]);
        assert.deepEqual(hpasFor(objects, objects[3]).map(ref), ["HorizontalPodAutoscaler/scaled"]);
        assert.deepEqual(hpasFor(objects, objects[0]), []);
    });

    it("a namespace's labels for namespaceSelectors: its own labels and always kubernetes.io/metadata.name, which no label can fake", () => {
        const ns = obj("Namespace", "asky", { metadata: { name: "asky", labels: { team: "platform", "kubernetes.io/metadata.name": "fake" } } }, null);
        assert.deepEqual(namespaceLabels([ns], "asky"), { team: "platform", "kubernetes.io/metadata.name": "asky" });
        assert.deepEqual(namespaceLabels([obj("Namespace", "asky", {}, null)], "asky"), { "kubernetes.io/metadata.name": "asky" });
        assert.deepEqual(namespaceLabels([ns], "monitoring"), { "kubernetes.io/metadata.name": "monitoring" });
    });
});

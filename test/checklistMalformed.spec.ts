// Every checklist check on objects with parts missing or null: a check that throws stops the whole policy
// pack (every rule of every resource unjudged), so a half-written object must come back as violations.
import assert from "node:assert/strict";
import { K8sObject, checks } from "../checklist";
import { k8sObject as obj } from "./support/checklist";

const KINDS = [
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
    "PersistentVolumeClaim", "PersistentVolume", "NetworkPolicy", "ConfigMap", "Secret", "Namespace", "ServiceAccount",
];
const NAMES = ["postgres", "pyxis", "gateway", "asky", "postgres-backup"];
const nulled = (kind: string) => {
    const podSpec = { containers: [null, { name: "c", ports: [null], env: [null], envFrom: [null], volumeMounts: [null], securityContext: null, resources: null, readinessProbe: null }], initContainers: null, volumes: [null, { name: "v" }] };
    const template = { metadata: null, spec: podSpec };
    return {
        replicas: null, selector: null, template, jobTemplate: { spec: { template } }, volumeClaimTemplates: [null, { metadata: null }],
        ports: [null], strategy: null, updateStrategy: null, scaleTargetRef: null, minReplicas: null, podSelector: null, ingress: [null, { from: [null], ports: [null] }],
        egress: [null, { to: [null, { ipBlock: null }], ports: [null] }], policyTypes: null, accessModes: null, claimRef: null, volumeName: "missing",
        ...(kind === "Pod" ? podSpec : {}),
    };
};

function malformed(): K8sObject[] {
    const out: K8sObject[] = [];
    for (const kind of KINDS)
        for (const name of NAMES) {
            const metadata = { name, namespace: "asky" };
            out.push({ apiVersion: "v1", kind, metadata } as K8sObject);
            out.push({ apiVersion: "v1", kind, metadata: { ...metadata, labels: null, annotations: null }, spec: null, data: null } as unknown as K8sObject);
            out.push({ apiVersion: "v1", kind, metadata, spec: nulled(kind) } as unknown as K8sObject);
        }
    return out;
}

const pgServer = (volumeMounts: unknown[]) => ({ name: "postgres", ports: [{ containerPort: 5432 }], env: [{ name: "PGDATA", value: "/data/pgdata" }], volumeMounts });
/** Parts missing where a check only looks once another object leads it there (an HPA to its target, a claim to its volume). */
const SCENARIOS: [string, K8sObject[]][] = [
    ["workloads without a spec that an HPA targets, a budget without a spec, an affinity without its parts", [
        obj("Deployment", "pyxis"), obj("StatefulSet", "auth"), obj("PodDisruptionBudget", "pyxis"),
        obj("HorizontalPodAutoscaler", "pyxis", { spec: { scaleTargetRef: { kind: "Deployment", name: "pyxis" } } }),
        obj("HorizontalPodAutoscaler", "auth", { spec: { scaleTargetRef: { kind: "StatefulSet", name: "auth" } } }),
        obj("Deployment", "gateway", { spec: { replicas: 2, selector: {}, template: { metadata: {}, spec: { affinity: {}, containers: [] } } } }),
    ]],
    ["the database's claim without a spec, null volumes, mounts and claim templates", [
        obj("StatefulSet", "postgres", { spec: { volumeClaimTemplates: [null, { metadata: null }], template: { spec: { containers: [pgServer([null, { name: "data", mountPath: "/data" }])], volumes: [null, { name: "data", persistentVolumeClaim: { claimName: "pg" } }] } } } }),
        obj("PersistentVolumeClaim", "pg"),
    ]],
    ["the database's claim bound to a volume without a spec", [
        obj("StatefulSet", "postgres", { spec: { template: { spec: { containers: [pgServer([{ name: "data", mountPath: "/data" }])], volumes: [{ name: "data", persistentVolumeClaim: { claimName: "pg" } }] } } } }),
        obj("PersistentVolumeClaim", "pg", { spec: { volumeName: "pv1", storageClassName: "manual" } }), { apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "pv1" } } as K8sObject,
    ]],
    ["the database on a claim template without a spec", [
        obj("StatefulSet", "postgres", { spec: { volumeClaimTemplates: [{ metadata: { name: "data" } }], template: { spec: { containers: [pgServer([{ name: "data", mountPath: "/data" }])] } } } }),
    ]],
    ["exposure objects with parts missing: Services, Ingresses and routes", [
        obj("Service", "gateway", { spec: { type: "NodePort", ports: [null] } }), obj("Service", "pyxis", { spec: null }),
        obj("Ingress", "web", { spec: { defaultBackend: { service: null }, rules: [null, { http: null }, { http: { paths: [null, { backend: null }, { backend: { service: null } }] } }] } }), obj("Ingress", "bare"),
        obj("HTTPRoute", "r", { spec: { rules: [null, { backendRefs: [null, {}] }] } }), obj("GRPCRoute", "bare"),
    ]],
    ["the gateway's first container with null ports, mounts and volumes and no securityContext", [
        obj("Deployment", "gateway", { spec: { template: { spec: { containers: [{ name: "nginx", ports: [null], volumeMounts: [null, { name: "tmp", mountPath: "/tmp" }] }], volumes: [null] } } } }),
    ]],
    ["a NetworkPolicy naming a port of pods whose ports are null", [
        obj("NetworkPolicy", "p", { spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ port: "http" }] }] } }),
        obj("Deployment", "pyxis", { spec: { template: { metadata: { labels: { "app.kubernetes.io/name": "pyxis" } }, spec: { containers: [{ name: "app", ports: [null] }] } } } }),
    ]],
    ["a Service selecting pods with a null container and null ports", [
        obj("Service", "pyxis", { spec: { selector: { app: "pyxis" }, ports: [null, { port: 80 }] } }),
        obj("Deployment", "pyxis", { spec: { selector: { matchLabels: { app: "pyxis" } }, template: { metadata: { labels: { app: "pyxis" } }, spec: { containers: [null, { name: "app", ports: [null] }] } } } }),
    ]],
];

describe("every checklist check on malformed objects", () => {
    for (const [what, objects] of SCENARIOS)
        it(`${what}: no check throws`, () => {
            for (const [id, check] of Object.entries(checks)) for (const stack of ["dev", "prod"] as const) assert.doesNotThrow(() => check(objects, { stack, namespace: "asky" }), `${id} (${stack})`);
        });

    for (const stack of ["dev", "prod"] as const)
        it(`${stack}: reports violations for objects with missing or null parts, and never throws`, () => {
            const objects = malformed();
            let total = 0;
            for (const [id, check] of Object.entries(checks)) {
                assert.doesNotThrow(() => (total += check(objects, { stack, namespace: "asky" }).length), id);
                // One object at a time too: a check must not need a companion object to avoid a crash.
                for (const o of objects) assert.doesNotThrow(() => check([o], { stack, namespace: "asky" }), `${id} on ${JSON.stringify(o)}`);
            }
            assert.ok(total > 100, `only ${total} violations`);
        });
});

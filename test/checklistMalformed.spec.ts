// Every checklist check on objects with parts missing or null: a check that throws stops the whole policy
// pack (every rule of every resource unjudged), so a half-written object must come back as violations.
import assert from "node:assert/strict";
import { K8sObject, checks } from "../checklist";

const KINDS = [
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
    "PersistentVolumeClaim", "PersistentVolume", "NetworkPolicy", "ConfigMap", "Secret", "Namespace", "ServiceAccount",
];
const NAMES = ["postgres", "pyxis", "gateway", "asky"];
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

describe("every checklist check on malformed objects", () => {
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

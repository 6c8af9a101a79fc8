import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parseImage, type Resources } from "../config";

/**
 * The one place that decides labels, security contexts, resources and probes for every
 * workload of the stack (POD-1..10, WIRE-5), so no component hardens its pods its own way.
 */

type Input<T> = pulumi.Input<T>;
type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;
type Probe = k8s.types.input.core.v1.Probe;

/** Identity of one workload: drives its labels and selectors. */
export interface WorkloadIdentity {
    /** `app.kubernetes.io/name`, also the Kubernetes object name (e.g. `pyxis`). */
    name: string;
    /** `app.kubernetes.io/component` (api, database, cache, gateway, backup, migration, ...). */
    component: string;
    /** `app.kubernetes.io/instance`: one per stack, e.g. `asky-dev`. */
    instance: string;
}

/** The recommended labels every object carries (WIRE-5). */
export function recommendedLabels(id: WorkloadIdentity): Record<string, string> {
    return {
        "app.kubernetes.io/name": id.name,
        "app.kubernetes.io/instance": id.instance,
        "app.kubernetes.io/component": id.component,
        "app.kubernetes.io/part-of": "asky",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/**
 * How an object that must outlive its stack is kept (DATA-1): protected from `pulumi destroy`, left in
 * the cluster when it leaves the stack (retainOnDelete), and applied under a fixed server-side-apply
 * field manager. The provider otherwise names a random manager per create, so a later stack adopting
 * the object (README: "Adopting objects the stack kept") would conflict on every field it changes.
 */
export function retainedObject(protect: boolean): {
    opts: { protect: boolean; retainOnDelete: boolean };
    annotations: Record<string, string> | undefined;
} {
    return {
        opts: { protect, retainOnDelete: protect },
        annotations: protect ? { "pulumi.com/patchFieldManager": "asky-retained" } : undefined,
    };
}

/** The stable subset used by selectors: a selector never changes when a label is added. */
export function selectorLabels(id: WorkloadIdentity): Record<string, string> {
    return { "app.kubernetes.io/name": id.name, "app.kubernetes.io/instance": id.instance };
}

/** Metadata of a namespaced object: explicit name (as in ARCHITECTURE.md), namespace and labels. */
export function objectMeta(id: WorkloadIdentity, namespace: Input<string>, name: string = id.name, annotations?: Record<string, Input<string>>) {
    return { name, namespace, labels: recommendedLabels(id), ...(annotations ? { annotations } : {}) };
}

/** Pod-level security: restricted PSS, a numeric non-root identity, no service-account token. */
export function podSecurity(uid: number, gid: number = uid, fsGroup?: number): Pick<PodSpec, "securityContext" | "automountServiceAccountToken" | "enableServiceLinks"> {
    return {
        automountServiceAccountToken: false,
        // Service env vars (REDIS_PORT=tcp://...) would shadow what the images read.
        enableServiceLinks: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: uid,
            runAsGroup: gid,
            // OnRootMismatch: a large volume is not re-chowned file by file on every start.
            ...(fsGroup !== undefined ? { fsGroup, fsGroupChangePolicy: "OnRootMismatch" } : {}),
            seccompProfile: { type: "RuntimeDefault" },
        },
    };
}

/** Container-level security: no escalation, no capabilities, read-only root (POD-1,3,4,7). */
export function containerSecurity(): k8s.types.input.core.v1.SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/**
 * How the kubelet gets an image (kube-score container-image-pull-policy): a digest never changes, so the node's copy
 * is it; a tag, a version tag too, can be pushed again, so every start asks the registry which image it names
 * (cached layers are not downloaded again) and every node runs the same one.
 */
export function imagePullPolicy(image: Input<string | undefined>): pulumi.Output<"Always" | "IfNotPresent"> {
    return pulumi.output(image).apply((ref) => (ref !== undefined && parseImage(ref).digest !== undefined ? "IfNotPresent" : "Always"));
}

/** Requests and limits from config, in Kubernetes' field names (POD-9). */
export function containerResources(r: Resources): k8s.types.input.core.v1.ResourceRequirements {
    const amounts = (a: Resources["limits"]) => ({ cpu: a.cpu, memory: a.memory, "ephemeral-storage": a.ephemeralStorage });
    return { requests: amounts(r.requests), limits: amounts(r.limits) };
}


/** What to check: a TCP connect, an HTTP GET, or a command. */
export type ProbeCheck =
    | { tcpPort: string | number }
    | { httpPort: string | number; path: string }
    | { command: string[] };

function probeAction(check: ProbeCheck): Probe {
    if ("tcpPort" in check) return { tcpSocket: { port: check.tcpPort } };
    if ("httpPort" in check) return { httpGet: { port: check.httpPort, path: check.path } };
    return { exec: { command: check.command } };
}

/**
 * Readiness and liveness that are never identical (POD-10): readiness reacts fast and takes a
 * pod out of the Service; liveness is slow and tolerant, so a slow dependency does not restart it.
 */
export function probes(readiness: ProbeCheck, liveness: ProbeCheck = readiness): Pick<Container, "readinessProbe" | "livenessProbe" | "startupProbe"> {
    return {
        startupProbe: { ...probeAction(liveness), periodSeconds: 5, failureThreshold: 36, timeoutSeconds: 3 },
        readinessProbe: { ...probeAction(readiness), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 1 },
        livenessProbe: { ...probeAction(liveness), periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6, successThreshold: 1 },
    };
}

/** An emptyDir volume for a path a read-only-root container must write (POD-7). */
export function scratchVolume(name: string, sizeLimit: string, medium?: "Memory"): k8s.types.input.core.v1.Volume {
    return { name, emptyDir: { sizeLimit, ...(medium ? { medium } : {}) } };
}

/**
 * A checksum of what a pod mounts, put in a pod-template annotation so a change of a
 * ConfigMap or Secret rolls the pods (WIRE-6). Secret inputs stay secret: only the digest leaves.
 */
export function contentChecksum(...parts: Input<string>[]): pulumi.Output<string> {
    return pulumi.unsecret(
        pulumi.all(parts).apply((values) => {
            const hash = crypto.createHash("sha256");
            values.forEach((v) => hash.update(v).update("\0"));
            return hash.digest("hex");
        }),
    );
}

/** Spread replicas across nodes (HA-4): preferred anti-affinity plus a soft topology spread. */
export function spreadAcrossNodes(id: WorkloadIdentity): Pick<PodSpec, "affinity" | "topologySpreadConstraints"> {
    const labelSelector = { matchLabels: selectorLabels(id) };
    return {
        affinity: {
            podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                    { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector } },
                ],
            },
        },
        topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector },
        ],
    };
}

/** Requests and limits of the short-lived Jobs (schema bootstrap, backup): psql and pg_dump need little. */
export const JOB_RESOURCES: Resources = {
    requests: { cpu: "50m", memory: "64Mi", ephemeralStorage: "64Mi" },
    limits: { cpu: "500m", memory: "256Mi", ephemeralStorage: "256Mi" },
};

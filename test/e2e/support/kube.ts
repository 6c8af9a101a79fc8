import { Cluster } from "./cluster";

/** A Kubernetes object as kubectl returns it. */
export interface KObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; uid: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp: string; deletionTimestamp?: string };
    spec?: any;
    status?: any;
    data?: Record<string, string>;
    [k: string]: any;
}

/** Every object of `kinds` in the namespace. */
export function list(cluster: Cluster, namespace: string, kinds: string): KObject[] {
    return cluster.get<{ items: KObject[] }>(["-n", namespace, kinds])?.items ?? [];
}

/** The object, which must exist. */
export function must(cluster: Cluster, namespace: string | undefined, kind: string, name: string): KObject {
    const o = cluster.get<KObject>([...(namespace ? ["-n", namespace] : []), kind, name]);
    if (!o) throw new Error(`${kind}/${name} does not exist${namespace ? ` in namespace ${namespace}` : ""}`);
    return o;
}

/** UID and resourceVersion of each named object: a UID that changes means the object was deleted and created again. */
export function identities(cluster: Cluster, namespace: string, refs: string[]): Record<string, { uid: string; resourceVersion: string }> {
    return Object.fromEntries(refs.map((ref) => {
        const [kind, name] = ref.split("/");
        const o = must(cluster, namespace, kind, name);
        return [ref, { uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion }];
    }));
}

/** The pod-template-hash of each Deployment's current pods (a rollout gives new ones). */
export function podTemplateHashes(cluster: Cluster, namespace: string, deployment: string): string[] {
    const d = must(cluster, namespace, "deployment", deployment);
    const selector = Object.entries(d.spec.selector.matchLabels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(",");
    const pods = cluster.get<{ items: KObject[] }>(["-n", namespace, "pods", "-l", selector])?.items ?? [];
    return [...new Set(pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.labels?.["pod-template-hash"] ?? ""))].sort();
}

/** Waits until `check` returns true (polling), or throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 120_000, everyMs = 1000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        let last: unknown;
        try {
            if (check()) return;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${last}` : ""}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

/** Objects anywhere in the cluster that carry the stack's part-of label. */
export function leftovers(cluster: Cluster, partOf: string): string[] {
    const kinds = "all,configmaps,secrets,persistentvolumeclaims,networkpolicies,poddisruptionbudgets,horizontalpodautoscalers,cronjobs,jobs";
    const namespaced = cluster.get<{ items: KObject[] }>(["-A", kinds, "-l", `app.kubernetes.io/part-of=${partOf}`])?.items ?? [];
    const clusterScoped = cluster.get<{ items: KObject[] }>(["persistentvolumes,storageclasses,priorityclasses,namespaces", "-l", `app.kubernetes.io/part-of=${partOf}`])?.items ?? [];
    return [...namespaced, ...clusterScoped].map((o) => `${o.kind}/${o.metadata.namespace ? o.metadata.namespace + "/" : ""}${o.metadata.name}`);
}

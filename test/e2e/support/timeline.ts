import { Cluster } from "./cluster";
import { KObject, list, must } from "./kube";

/**
 * The deploy read back from the cluster's own timestamps (creationTimestamp, the pods' Ready
 * condition, the Job's completionTime; whole seconds, as the API server keeps them), whatever made
 * the objects (`pulumi up` or a sequential `kubectl apply`).
 */
export interface DeployObjects {
    namespace: KObject;
    policies: KObject[];
    services: KObject[];
    statefulSets: KObject[];
    deployments: KObject[];
    jobs: KObject[];
    pods: KObject[];
}

/** One wait of the chain: from its object's creation to Ready (or Complete), epoch milliseconds. */
export interface Wait {
    what: string;
    start: number;
    end: number;
}

export interface DeployTimeline {
    /** The namespace's creation: the deploy's first object. */
    start: number;
    /** Namespace → last NetworkPolicy; the database's StatefulSet → its pod Ready; the schema Job → Complete. */
    policies: Wait;
    database: Wait;
    schema: Wait;
    /** Each API service's Deployment → its pods Ready, slowest first. */
    services: Wait[];
    /** The gateway's Deployment → its pods Ready. */
    gateway: Wait;
    /**
     * The chain, each wait after the one before: policies + database + schema + the slowest
     * service + the gateway, in seconds (each wait's own length, not the gaps between them).
     */
    criticalPath: number;
    /** The same chain with the gateway beside the services (all it needs is their names: GW-9): policies + database + schema + max(slowest service, gateway). */
    criticalPathGatewayBeside: number;
    /** The namespace's creation → the last of the services' and the gateway's pods Ready, in seconds. */
    span: number;
}

/** The API services the gateway proxies (their Deployments and Services share the name). */
export const API_SERVICES = ["auth", "pyxis", "request-management"] as const;

const at = (timestamp: string | undefined, what: string): number => {
    const t = timestamp ? Date.parse(timestamp) : NaN;
    if (Number.isNaN(t)) throw new Error(`${what}: no timestamp`);
    return t;
};
const created = (o: KObject) => at(o.metadata.creationTimestamp, `${o.kind}/${o.metadata.name} creationTimestamp`);
const nameOf = (o: KObject) => o.metadata.labels?.["app.kubernetes.io/name"];

/** When a pod's Ready condition last turned True. */
export function podReadyAt(pod: KObject): number {
    const ready = (pod.status?.conditions ?? []).find((c: any) => c.type === "Ready" && c.status === "True");
    return at(ready?.lastTransitionTime, `pod ${pod.metadata.name} Ready`);
}

/** The pods of a workload (by app.kubernetes.io/name), not those being deleted. */
export function podsOf(objects: Pick<DeployObjects, "pods">, name: string): KObject[] {
    return objects.pods.filter((p) => nameOf(p) === name && !p.metadata.deletionTimestamp);
}

/** A workload from its object's creation to the last of its pods Ready. */
function workloadWait(objects: DeployObjects, kind: "Deployment" | "StatefulSet", name: string): Wait {
    const workload = (kind === "Deployment" ? objects.deployments : objects.statefulSets).find((o) => o.metadata.name === name);
    if (!workload) throw new Error(`no ${kind} ${name}`);
    const pods = podsOf(objects, name);
    if (!pods.length) throw new Error(`no pods of ${kind} ${name}`);
    return { what: name, start: created(workload), end: Math.max(...pods.map(podReadyAt)) };
}

/** The schema Job: the bootstrap Job (its name carries a hash of its SQL and credentials); the newest if there are several. */
function schemaJob(objects: DeployObjects): KObject {
    const jobs = objects.jobs.filter((j) => j.metadata.name.startsWith("postgres-bootstrap-")).sort((a, b) => created(b) - created(a));
    if (!jobs.length) throw new Error("no schema Job (postgres-bootstrap-*)");
    return jobs[0];
}

const seconds = (w: Wait) => (w.end - w.start) / 1000;

/** The chain of waits that cannot overlap, and the observed span, from the objects. */
export function deployTimeline(objects: DeployObjects): DeployTimeline {
    const start = created(objects.namespace);
    if (!objects.policies.length) throw new Error("no NetworkPolicy");
    const policies = { what: "network policies", start, end: Math.max(...objects.policies.map(created)) };
    const database = workloadWait(objects, "StatefulSet", "postgres");
    const job = schemaJob(objects);
    const schema = { what: "schema Job", start: created(job), end: at(job.status?.completionTime, `Job ${job.metadata.name} completionTime`) };
    const services = API_SERVICES.map((s) => workloadWait(objects, "Deployment", s)).sort((a, b) => seconds(b) - seconds(a));
    const gateway = workloadWait(objects, "Deployment", "gateway");
    const before = seconds(policies) + seconds(database) + seconds(schema);
    return {
        start, policies, database, schema, services, gateway,
        criticalPath: before + seconds(services[0]) + seconds(gateway),
        criticalPathGatewayBeside: before + Math.max(seconds(services[0]), seconds(gateway)),
        span: (Math.max(gateway.end, ...services.map((s) => s.end)) - start) / 1000,
    };
}

/** Reads the deploy's objects from the cluster. */
export function deployObjects(cluster: Cluster, namespace: string): DeployObjects {
    return {
        namespace: must(cluster, undefined, "namespace", namespace),
        policies: list(cluster, namespace, "networkpolicies"),
        services: list(cluster, namespace, "services"),
        statefulSets: list(cluster, namespace, "statefulsets"),
        deployments: list(cluster, namespace, "deployments"),
        jobs: list(cluster, namespace, "jobs"),
        pods: list(cluster, namespace, "pods"),
    };
}

/**
 * What the deploy order promises, from the cluster's timestamps (whole seconds: "after" reads "not
 * before"): no pod before the last NetworkPolicy; no API service pod before the schema Job completed;
 * no gateway pod before the Services it proxies (GW-9). Returns each broken promise, empty when all hold.
 */
export function orderingViolations(objects: DeployObjects): string[] {
    const broken: string[] = [];
    const lastPolicy = Math.max(...objects.policies.map(created));
    for (const pod of objects.pods) {
        if (created(pod) < lastPolicy) broken.push(`pod ${pod.metadata.name} created before the last NetworkPolicy`);
    }
    const job = schemaJob(objects);
    const complete = at(job.status?.completionTime, `Job ${job.metadata.name} completionTime`);
    for (const s of API_SERVICES) {
        for (const pod of podsOf(objects, s)) {
            if (created(pod) < complete) broken.push(`pod ${pod.metadata.name} created before the schema Job completed`);
        }
    }
    for (const s of API_SERVICES) {
        const service = objects.services.find((o) => o.metadata.name === s);
        if (!service) {
            broken.push(`no Service ${s}`);
            continue;
        }
        for (const pod of podsOf(objects, "gateway")) {
            if (created(pod) < created(service)) broken.push(`gateway pod ${pod.metadata.name} created before Service ${s}`);
        }
    }
    return broken;
}

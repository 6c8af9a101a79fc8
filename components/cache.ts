import * as pulumi from "@pulumi/pulumi";
import { AskyConfig, parseQuantity } from "../config";
import { EXPORTER_PORTS, metricsService, redisExporterSidecar } from "./monitoring";
import { WorkloadIdentity, probes, scratchVolume } from "./podHardening";
import { AskyWorkload } from "./workload";

/** The services reach Redis at host `redis`, port 6379: both are hard-coded in the images. */
export const REDIS_PORT = 6379;
/** The `redis` user of the official image. */
export const REDIS_UID = 999;

export interface AskyCacheArgs {
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Image and resources (`asky:cache`). */
    cache: AskyConfig["cache"];
    /** Exporter image and discovery (`asky:monitoring`): redis_exporter runs beside Redis. */
    monitoring: AskyConfig["monitoring"];
}

/**
 * Redis as a pure cache: one replica, no persistence (nothing in it outlives a restart), reachable
 * only from pyxis and request-management through the NetworkPolicies.
 */
export class AskyCache extends pulumi.ComponentResource {
    /** In-cluster host name: always `redis`, as the images expect. */
    public readonly host: pulumi.Output<string>;
    public readonly workload: AskyWorkload;

    constructor(name: string, args: AskyCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Cache", name, {}, opts);
        const id: WorkloadIdentity = { name: "redis", component: "cache", instance: args.instance };
        this.workload = new AskyWorkload(`${name}-workload`, {
            identity: id,
            namespace: args.namespace,
            runAsUser: REDIS_UID,
            resources: args.cache.resources,
            // A second cache replica would not share keys: the cache stays single (no PDB).
            replicas: 1,
            disruptionBudget: false,
            spreadAcrossNodes: false,
            container: {
                name: "redis",
                image: args.cache.image,
                // A bounded LRU cache inside its memory limit (a quarter left for Redis itself), never OOM-killed for being full.
                args: ["redis-server", "--save", "", "--appendonly", "no", "--dir", "/data",
                    "--maxmemory", String(Math.floor(parseQuantity(args.cache.resources.limits.memory) * 0.75)), "--maxmemory-policy", "allkeys-lru"],
                ports: [{ name: "redis", containerPort: REDIS_PORT, protocol: "TCP" }],
                volumeMounts: [{ name: "data", mountPath: "/data" }],
                ...probes({ command: ["redis-cli", "-p", String(REDIS_PORT), "ping"] }, { tcpPort: "redis" }),
            },
            sidecars: [redisExporterSidecar(args.monitoring.images.redisExporter, REDIS_PORT)],
            volumes: [scratchVolume("data", "64Mi")],
            service: { port: REDIS_PORT, targetPort: "redis" },
        }, { parent: this, dependsOn: opts?.dependsOn });
        metricsService(`${name}-metrics`, {
            namespace: args.namespace, pods: id, serviceName: "redis-metrics", port: EXPORTER_PORTS.redis, targetPort: "metrics", monitoring: args.monitoring,
        }, { parent: this });
        this.host = this.workload.serviceName;
        this.registerOutputs({ host: this.host });
    }
}

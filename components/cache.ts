import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AskyConfig, parseQuantity } from "../config";
import { EXPORTER_PORTS, metricsService, redisExporterSidecar } from "./monitoring";
import { WorkloadIdentity, contentChecksum, objectMeta, probes, scratchVolume } from "./podHardening";
import { AskyWorkload } from "./workload";

/** Where Redis reads its users (the Secret `redis-acl`). */
export const REDIS_ACL_DIR = "/etc/redis/acl";
export const REDIS_ACL_FILE = "users.acl";
/** The exporter's own Redis user: what redis_exporter reads, nothing of the data. */
export const REDIS_METRICS_USER = "metrics";

/**
 * Redis' users. `default` is what pyxis and request-management use (no password: host `redis` is hard-coded
 * in the images, and only they may reach it): every data command, but no scripting (EVAL, FUNCTION: the
 * Lua use-after-free of CVE-2025-49844 and its kin) and no dangerous command (CONFIG, DEBUG, FLUSHALL,
 * KEYS, MONITOR, SHUTDOWN, ACL, MODULE, CLIENT KILL, …). The exporter gets a user of its own, by password
 * (stored as its SHA-256, as Redis does): INFO, CONFIG GET, SLOWLOG, LATENCY and CLIENT LIST only.
 */
export function redisAcl(metricsPassword: string): string {
    const digest = crypto.createHash("sha256").update(metricsPassword).digest("hex");
    return [
        "user default on nopass sanitize-payload ~* &* +@all -@dangerous -@scripting",
        `user ${REDIS_METRICS_USER} on #${digest} resetchannels -@all +auth +hello +ping +echo +select +info +dbsize +lastsave +role ` +
            "+config|get +slowlog|get +slowlog|len +latency|latest +latency|histogram +client|list +client|info +client|setname +memory|stats +module|list",
        "",
    ].join("\n");
}

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
        const metricsPassword = new random.RandomPassword(`${name}-metrics-password`, { length: 32, special: false }, { parent: this }).result;
        const acl = pulumi.secret(metricsPassword.apply(redisAcl));
        const aclSecret = new k8s.core.v1.Secret(`${name}-acl`, {
            metadata: objectMeta(id, args.namespace, "redis-acl"),
            type: "Opaque",
            stringData: { [REDIS_ACL_FILE]: acl, password: metricsPassword },
        }, { parent: this });
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
                    "--maxmemory", String(Math.floor(parseQuantity(args.cache.resources.limits.memory) * 0.75)), "--maxmemory-policy", "allkeys-lru",
                    "--aclfile", `${REDIS_ACL_DIR}/${REDIS_ACL_FILE}`],
                ports: [{ name: "redis", containerPort: REDIS_PORT, protocol: "TCP" }],
                volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "acl", mountPath: REDIS_ACL_DIR, readOnly: true }],
                ...probes({ command: ["redis-cli", "-p", String(REDIS_PORT), "ping"] }, { tcpPort: "redis" }),
            },
            sidecars: [redisExporterSidecar(args.monitoring.images.redisExporter, REDIS_PORT, { user: REDIS_METRICS_USER, passwordSecret: aclSecret.metadata.name })],
            volumes: [
                scratchVolume("data", "64Mi"),
                { name: "acl", secret: { secretName: aclSecret.metadata.name, defaultMode: 0o440, items: [{ key: REDIS_ACL_FILE, path: REDIS_ACL_FILE }] } },
            ],
            // Redis reads its users at start: a new ACL rolls the pod.
            podAnnotations: { "checksum/redis-acl": contentChecksum(acl) },
            service: { port: REDIS_PORT, targetPort: "redis" },
        }, { parent: this, dependsOn: opts?.dependsOn });
        metricsService(`${name}-metrics`, {
            namespace: args.namespace, pods: id, serviceName: "redis-metrics", port: EXPORTER_PORTS.redis, targetPort: "metrics", monitoring: args.monitoring,
        }, { parent: this });
        this.host = this.workload.serviceName;
        this.registerOutputs({ host: this.host });
    }
}

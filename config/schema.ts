import { z } from "zod";
import { MAX_BCRYPT_COST, MIN_BCRYPT_COST } from "../sql/render";
import { gatewayLimitsSchema, gatewayTlsSchema, publicRoutesSchema } from "./gateway";
import { BYTE_QUANTITY, CPU_QUANTITY } from "./quantity";

/** CPU: cores or millicores, e.g. `250m`, `1`. */
const cpu = z.string().regex(CPU_QUANTITY, { message: "must be a CPU quantity such as 250m or 1" });
/** Memory and storage: bytes with a suffix, e.g. `512Mi`, `5Gi` (never `m`: thousandths of a byte). */
const quantity = z.string().regex(BYTE_QUANTITY, { message: "must be a Kubernetes quantity of bytes such as 512Mi or 5Gi" });

/** An RFC 1123 label: what Kubernetes accepts as a namespace name. */
export const dnsLabel = z
    .string()
    .max(63, { message: "must be at most 63 characters" })
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
        message: "must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit",
    });

/**
 * A container image reference: `[registry/]repo[:tag][@sha256:<64 hex>]`.
 * Whether a moving tag is acceptable depends on the stack and is checked in `config/index.ts`.
 */
const image = z
    .string()
    .regex(/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, {
        message: "must be an image reference such as registry/repo:tag or repo@sha256:<digest>",
    });

const port = z.number().int().min(1, { message: "must be a port from 1 to 65535" }).max(65535, {
    message: "must be a port from 1 to 65535",
});

const resourceAmounts = z.strictObject({
    cpu,
    memory: quantity,
    ephemeralStorage: quantity,
});

/** Requests and limits of one container (POD-9). */
const resources = z.strictObject({
    requests: resourceAmounts,
    limits: resourceAmounts,
});

/** How the kubelet checks a service that has no open health endpoint (TCP) or has one (HTTP). */
const probe = z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("tcp") }),
    z.strictObject({ kind: z.literal("http"), path: z.string().regex(/^\/[^\s]*$/, { message: "must be an absolute URL path" }) }),
]);

const apiService = z.strictObject({
    image,
    port,
    replicas: z.number().int().min(0, { message: "must be an integer ≥ 0" }),
    resources,
    probe,
    /** Scale with an HPA (prod): replaces `replicas`. */
    autoscale: z.boolean(),
});

const seedUser = z.strictObject({
    name: z.string().min(1),
    email: z.email({ message: "must be an e-mail address" }),
    role: z.enum(["admin", "nurse", "agent"]),
});

const autoscaling = z.strictObject({
    minReplicas: z.number().int().min(1),
    maxReplicas: z.number().int().min(1),
    cpuUtilizationPercent: z.number().int().min(1).max(100),
});

const cronSchedule = z
    .string()
    .regex(/^(?:@(?:hourly|daily|weekly|monthly|yearly|midnight)|(?:\S+\s+){4}\S+)$/, {
        message: "must be a cron schedule with five fields (e.g. '15 2 * * *') or @daily",
    });

/** The whole stack configuration, as the `asky:` keys of `Pulumi.<stack>.yaml`. */
export const askyConfigSchema = z.strictObject({
    environment: z.enum(["dev", "prod"]),
    namespace: dnsLabel,
    kubeContext: z.string().min(1),
    kubeconfig: z.string().min(1).optional(),
    storage: z.strictObject({
        size: quantity,
        /** `manual` binds the dev hostPath PV; in prod a dynamic StorageClass of the cluster. */
        storageClass: z.string().min(1),
        /** dev only: the node directory behind the PV `postgres-pv-volume`. */
        hostPath: z.string().regex(/^\/.+/, { message: "must be an absolute path" }).optional(),
    }),
    database: z.strictObject({
        image,
        name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: "must be a lower-case SQL identifier" }),
        resources,
        bcryptCost: z.number().int().min(MIN_BCRYPT_COST, { message: `must be ≥ ${MIN_BCRYPT_COST} (SEC-5)` }).max(MAX_BCRYPT_COST),
        users: z.array(seedUser).min(1, { message: "must seed at least one user" }),
    }),
    services: z.strictObject({
        auth: apiService,
        pyxis: apiService,
        "request-management": apiService,
    }),
    cache: z.strictObject({ image, resources }),
    gateway: z.strictObject({
        image,
        exposure: z.enum(["NodePort", "LoadBalancer"]),
        /** LoadBalancer only: wait for the load balancer's address. Default: prod yes, dev no (minikube/kind have none). */
        awaitLoadBalancer: z.boolean().optional(),
        /** Port of the public Service (plain HTTP; 80). */
        port,
        /** dev: the node port (30000-32767); only with exposure NodePort. */
        nodePort: z.number().int().min(30000, { message: "must be a node port from 30000 to 32767" }).max(32767, {
            message: "must be a node port from 30000 to 32767",
        }).optional(),
        replicas: z.number().int().min(0, { message: "must be an integer ≥ 0" }).max(2 ** 31 - 1, { message: "must be below 2^31" }),
        autoscale: z.boolean(),
        resources,
        /** Routes of the public listener; the internal one (GATEWAY_URL) serves every route. */
        publicRoutes: publicRoutesSchema,
        /** TLS on the public listener. */
        tls: gatewayTlsSchema,
        limits: gatewayLimitsSchema,
    }),
    availability: z.strictObject({
        autoscaling,
        /** policy/v1 PDBs for multi-replica workloads (HA-3). */
        disruptionBudgets: z.boolean(),
        /** preferred anti-affinity and topology spread (HA-4). */
        spreadAcrossNodes: z.boolean(),
    }),
    /** Default-deny NetworkPolicies plus the allowed flows (NET-1, NET-2). */
    networkPolicies: z.boolean(),
    /** Protect the database volume, workload and namespace from `pulumi destroy` (DATA-1). */
    protectData: z.boolean(),
    backup: z.strictObject({
        enabled: z.boolean(),
        schedule: cronSchedule,
        retentionDays: z.number().int().min(1),
        storageSize: quantity,
        /** StorageClass of the backup PVC; omit for the cluster default. */
        storageClass: z.string().min(1).optional(),
    }),
});

export type AskyConfigInput = z.input<typeof askyConfigSchema>;
export type AskyConfigShape = z.output<typeof askyConfigSchema>;
export type ServiceName = keyof AskyConfigShape["services"];
export type Resources = z.output<typeof resources>;
export type Probe = z.output<typeof probe>;
export type SeedUser = z.output<typeof seedUser>;

/** The top-level `asky:` keys, to reject keys the program does not know. */
export const knownTopLevelKeys: readonly string[] = Object.keys(askyConfigSchema.shape);

import { z } from "zod";
import { DEFAULT_PREVIOUS_PASSWORD_MINUTES, MAX_BCRYPT_COST, MAX_PREVIOUS_PASSWORD_MINUTES, MIN_BCRYPT_COST } from "../sql/render";
import { seedUserSchema, seedUsersSchema } from "../sql/seedUsers";
import { gatewayLimitsSchema, gatewayTlsSchema, publicRoutesSchema } from "./gateway";
import { BYTE_QUANTITY, CPU_QUANTITY, parseQuantity } from "./quantity";

/** `pulumi config set --path … 2` stores the number 2: a quantity may arrive as a number. */
const quantityText = (rule: z.ZodString) => z.preprocess((v) => (typeof v === "number" ? String(v) : v), rule);
/** CPU: cores or millicores, e.g. `250m`, `1`. */
const cpu = quantityText(z.string().regex(CPU_QUANTITY, { message: "must be a CPU quantity such as 250m or 1" }));
/** Memory and storage: bytes with a suffix, e.g. `512Mi`, `5Gi` (never `m`: thousandths of a byte). */
const quantity = quantityText(z.string().regex(BYTE_QUANTITY, { message: "must be a Kubernetes quantity of bytes such as 512Mi or 5Gi" }));
/** A bound on a quantity; one that failed its format check is not checked again (zod runs refinements anyway). */
const amountAtLeast = (min: number, max = Infinity) => (q: string) => {
    let value: number;
    try {
        value = parseQuantity(q);
    } catch {
        return true;
    }
    return value >= min && value < max;
};
/** A size the API server accepts for a volume: more than 0 bytes, less than 8Ei (int64). */
const volumeSize = quantity.refine(amountAtLeast(1, 2 ** 63), {
    message: "must be more than 0 and less than 8Ei, e.g. 5Gi",
});
/** Replica counts are int32 in the Kubernetes API. */
export const MAX_INT32 = 2 ** 31 - 1;
const replicaCount = (min: number) => z.number().int({ message: "must be an integer" })
    .min(min, { message: `must be an integer ≥ ${min}` })
    .max(MAX_INT32, { message: `must be at most ${MAX_INT32} (the API server's int32)` });

/** An RFC 1123 label: what Kubernetes accepts as a namespace name. */
export const dnsLabel = z
    .string()
    .max(63, { message: "must be at most 63 characters" })
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
        message: "must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit",
    });

/** Namespaces the cluster owns: the stack would put default-deny policies and restricted Pod Security on them. */
export const RESERVED_NAMESPACE = /^(default|kube-.*)$/;
const namespaceName = dnsLabel.refine((n) => !RESERVED_NAMESPACE.test(n), {
    message: "is the cluster's own namespace (default, kube-system, kube-public, kube-node-lease, any kube-*): choose one for the stack, e.g. asky",
});

/** Where a dev hostPath volume may live on the node: never system directories. */
export const HOST_PATH_PREFIXES = ["/mnt/", "/data/", "/srv/"] as const;
const hostPath = z.string().refine(
    (p) => HOST_PATH_PREFIXES.some((prefix) => p.startsWith(prefix) && p.length > prefix.length) &&
        !p.split("/").some((seg, i) => i > 0 && (seg === "" || seg === "." || seg === "..")),
    { message: `must be an absolute directory under ${HOST_PATH_PREFIXES.join(", ")} without '.', '..', '//' or a trailing '/'` },
);

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

/** The container runtime (runc) refuses a memory limit below 6 MiB: the pod would never start. */
export const MIN_MEMORY_LIMIT = "6Mi";
/** Limits are what we set and enforce: never 0 (no limit at all, or Redis' --maxmemory 0 = unlimited). */
const limitAmounts = z.strictObject({
    cpu: cpu.refine(amountAtLeast(0.001), { message: "must be at least 1m (a limit of 0 means no limit)" }),
    memory: quantity.refine(amountAtLeast(parseQuantity(MIN_MEMORY_LIMIT)), {
        message: `must be at least ${MIN_MEMORY_LIMIT} (the container runtime's minimum; 0 means no limit)`,
    }),
    ephemeralStorage: quantity.refine(amountAtLeast(1), { message: "must be more than 0 (a limit of 0 means no limit)" }),
});

/** Requests and limits of one container (POD-9). */
const resources = z.strictObject({
    requests: resourceAmounts,
    limits: limitAmounts,
});

/** How the kubelet checks a service that has no open health endpoint (TCP) or has one (HTTP). */
const probe = z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("tcp") }),
    z.strictObject({ kind: z.literal("http"), path: z.string().regex(/^\/[^\s]*$/, { message: "must be an absolute URL path" }) }),
]);

const apiService = z.strictObject({
    image,
    port,
    replicas: replicaCount(0),
    resources,
    probe,
    /** Scale with an HPA (prod): replaces `replicas`. */
    autoscale: z.boolean(),
});

/**
 * The JWT request-management sends to pyxis, auth and itself (`/app/services/token.json`): an admin
 * credential, so as short-lived as a scheduled `pulumi up` can renew it. A new token is minted for each
 * rotation window; each lasts `lifetimeHours` from the window's start.
 */
const hours = (min: number, max: number) => z.number().int({ message: `must be a whole number of hours from ${min} to ${max}` })
    .min(min, { message: `must be a whole number of hours from ${min} to ${max}` }).max(max, { message: `must be a whole number of hours from ${min} to ${max}` });
const serviceToken = z.strictObject({
    lifetimeHours: hours(2, 720).default(48),
    rotationHours: hours(1, 719).default(24),
});

const autoscaling = z.strictObject({
    minReplicas: replicaCount(1),
    maxReplicas: replicaCount(1),
    cpuUtilizationPercent: z.number().int().min(1).max(100),
});

const cronSchedule = z
    .string()
    .regex(/^(?:@(?:hourly|daily|weekly|monthly|yearly|midnight)|(?:\S+\s+){4}\S+)$/, {
        message: "must be a cron schedule with five fields (e.g. '15 2 * * *') or @daily",
    });

/** A Kubernetes label key (optional DNS-subdomain prefix and '/', then a name of up to 63 characters). */
const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, {
    message: "must be a label key such as app.kubernetes.io/name or release",
});
/** A Kubernetes label value: up to 63 characters, alphanumeric at both ends. */
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, {
    message: "must be a label value: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
});
const labels = z.record(labelKey, labelValue);
/** A Prometheus duration such as 15s, 1m. */
const promDuration = z.string().regex(/^[1-9][0-9]*(ms|s|m|h)$/, { message: "must be a Prometheus duration such as 15s or 1m" });

/** Metrics, discovery, the scraper allowed in, the Grafana dashboard and alerts (`asky:monitoring`). */
const monitoring = z.strictObject({
    /** The cluster has the Prometheus Operator CRDs: ServiceMonitor and PrometheusRule instead of prometheus.io annotations. */
    prometheusOperator: z.boolean(),
    /** Labels the Prometheus selects ServiceMonitors and PrometheusRules by (kube-prometheus-stack: `release: <its release>`). */
    operatorLabels: labels.default({}),
    /** How often Prometheus scrapes the exporters (ServiceMonitor interval; annotations cannot say it). */
    scrapeInterval: promDuration,
    /** The only pods allowed to reach the metrics ports (NetworkPolicy): these labels in this namespace. */
    scraper: z.strictObject({
        namespace: dnsLabel,
        podLabels: labels.refine((l) => Object.keys(l).length > 0, { message: "must name at least one label: an empty selector would admit every pod of the namespace" }),
    }),
    /** A ConfigMap with the dashboard JSON, labelled for the Grafana dashboard sidecar. */
    grafanaDashboard: z.strictObject({
        enabled: z.boolean(),
        /** The sidecar's `sidecar.dashboards.label` (Grafana's Helm chart: grafana_dashboard). */
        label: labelKey,
        /** The sidecar's `sidecar.dashboards.labelValue` (Grafana's Helm chart: "1"). */
        labelValue: labelValue,
    }),
    /** Exporter images, pinned like every other image. */
    images: z.strictObject({
        /** NGINX's stub_status exporter (nginx/nginx-prometheus-exporter). */
        nginxExporter: image,
        /** The access-log exporter of the gateway (mtail). */
        logExporter: image,
        /** quay.io/prometheuscommunity/postgres-exporter. */
        postgresExporter: image,
        /** oliver006/redis_exporter. */
        redisExporter: image,
    }),
});

/**
 * The prod guardrails an operator may lift on purpose, one by one (`asky:breakGlass.<name>`), each with
 * the reason, who and which ticket; every run logs each lifted one loudly until its key is removed.
 */
export const BREAK_GLASS_GUARDRAILS = ["tlsOff", "networkPoliciesOff", "dataUnprotected", "backupsOff"] as const;
export type BreakGlassGuardrail = (typeof BREAK_GLASS_GUARDRAILS)[number];
const breakGlass = z.partialRecord(
    z.enum(BREAK_GLASS_GUARDRAILS, { message: `must be one of ${BREAK_GLASS_GUARDRAILS.join(", ")}` }),
    z.string().trim().min(20, { message: "must say why, who and which ticket (at least 20 characters)" }),
);

/** An ASCII-armored OpenPGP public key (`gpg --armor --export <fingerprint>`); a private key is refused outright. */
const openPgpPublicKey = z.string()
    .refine((k) => !/BEGIN PGP PRIVATE KEY BLOCK/.test(k), { message: "is a PRIVATE key: give the public one (gpg --armor --export <fingerprint>); the private key stays off the cluster, with whoever restores" })
    .refine((k) => /^-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n[\s\S]+\r?\n-----END PGP PUBLIC KEY BLOCK-----\s*$/.test(k.trim() + "\n"), {
        message: "must be an ASCII-armored OpenPGP public key, from -----BEGIN PGP PUBLIC KEY BLOCK----- to -----END PGP PUBLIC KEY BLOCK----- (gpg --armor --export <fingerprint>)",
    });

/** The claim names of ARCHITECTURE.md, used unless `storage.claimName` / `backup.claimName` say otherwise. */
export const DEFAULT_DATABASE_CLAIM = "postgres-pv-claim";
export const DEFAULT_BACKUP_CLAIM = "postgres-backup";

/** The whole stack configuration, as the `asky:` keys of `Pulumi.<stack>.yaml`. */
export const askyConfigSchema = z.strictObject({
    environment: z.enum(["dev", "prod"]),
    namespace: namespaceName,
    kubeContext: z.string().min(1),
    kubeconfig: z.string().min(1).optional(),
    storage: z.strictObject({
        size: volumeSize,
        /** `manual` binds the dev hostPath PV; in prod a dynamic StorageClass of the cluster. */
        storageClass: z.string().min(1),
        /** dev only: the node directory behind the PV `postgres-pv-volume`. */
        hostPath: hostPath.optional(),
        /** The database's PVC; a new name moves the database to a new, empty volume (README: moving the database). */
        claimName: dnsLabel.default(DEFAULT_DATABASE_CLAIM),
    }),
    database: z.strictObject({
        image,
        name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: "must be a lower-case SQL identifier" }),
        resources,
        bcryptCost: z.number().int().min(MIN_BCRYPT_COST, { message: `must be ≥ ${MIN_BCRYPT_COST} (SEC-5)` }).max(MAX_BCRYPT_COST),
        /**
         * Minutes a service's previous database password keeps working after it is rotated (its pods
         * still running open connections with it until the rolled pods replace them); 0 closes it at
         * once, for a leaked password. README: rotating a database password.
         */
        previousPasswordMinutes: z.number().int().min(0).max(MAX_PREVIOUS_PASSWORD_MINUTES).default(DEFAULT_PREVIOUS_PASSWORD_MINUTES),
        /** Users seeded into auth.users; the rules are shared with the SQL renderer (sql/seedUsers.ts). */
        users: seedUsersSchema,
    }),
    /** Left out: 48-hour tokens, a new one every 24 hours (README: renewing the service token). */
    serviceToken: serviceToken.prefault({}),
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
        replicas: replicaCount(0),
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
        /** PriorityClasses for the database and the gateway pods, so a full cluster evicts others first. */
        priorityClasses: z.boolean(),
        /**
         * Seconds a stopping gateway or service pod keeps serving (a preStop sleep) before it is signalled, so the
         * Service's endpoints and the load balancer stop sending it new connections first: rolling updates and
         * evictions drop no request. 0: none (requests in flight at a rollout may fail).
         */
        drainSeconds: z.number().int({ message: "must be a whole number of seconds" })
            .min(0, { message: "must be from 0 to 120 seconds" }).max(120, { message: "must be from 0 to 120 seconds" }),
    }),
    /** Default-deny NetworkPolicies plus the allowed flows (NET-1, NET-2). */
    networkPolicies: z.boolean(),
    /** Node resolvers the DNS policy also opens, each only where the cluster has it; left out, NodeLocal DNSCache only. */
    dnsEgress: z.strictObject({
        /** NodeLocal DNSCache (169.254.20.10 on every node). */
        nodeLocalDnsCache: z.boolean().default(true),
        /** GKE with Cloud DNS: pods resolve through the node's metadata server (169.254.169.254). Elsewhere that address serves instance credentials: leave false. */
        gkeMetadataServer: z.boolean().default(false),
    }).prefault({}),
    /** Protect the database volume, workload and namespace from `pulumi destroy` (DATA-1). */
    protectData: z.boolean(),
    /** Prod guardrails lifted on purpose, by name, each with its reason; left out, none (README: "Break glass"). */
    breakGlass: breakGlass.optional(),
    monitoring,
    backup: z.strictObject({
        enabled: z.boolean(),
        schedule: cronSchedule,
        retentionDays: z.number().int().min(1),
        storageSize: volumeSize,
        /** StorageClass of the backup PVC; omit for the cluster default. */
        storageClass: z.string().min(1).optional(),
        /** The backup PVC; a new name starts a new, empty one. */
        claimName: dnsLabel.default(DEFAULT_BACKUP_CLAIM),
        /** Encrypt every dump to this OpenPGP public key (required in prod); the private key never goes to the cluster. */
        encryption: z.strictObject({ publicKey: openPgpPublicKey }).optional(),
        /** Also copy every dump off the cluster to an S3-compatible bucket; left out, the dumps stay on their claim. */
        offsite: z.strictObject({
            /** The S3 endpoint, https on 443, e.g. https://s3.eu-west-1.amazonaws.com. */
            endpoint: z.string().regex(/^https:\/\/[a-z0-9.-]+(:443)?\/?$/, { message: "must be an https:// S3 endpoint on port 443, e.g. https://s3.eu-west-1.amazonaws.com" }),
            bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "must be an S3 bucket name (3-63 lower-case letters, digits, '.', '-')" }),
            /** Object name prefix, e.g. asky-prod/. */
            prefix: z.string().regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, { message: "must be empty or path segments each ending in '/', e.g. asky-prod/" }).default(""),
            region: z.string().regex(/^[a-z0-9-]+$/, { message: "must be a region name such as eu-west-1" }).default("us-east-1"),
            /** A Secret of the namespace the organisation creates, with keys accessKeyId and secretAccessKey (never in the stack file). */
            credentialsSecret: dnsLabel,
            /** Where the endpoint's addresses are: the only egress the backup pods get (NetworkPolicy ipBlocks). */
            cidrs: z.array(z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, { message: "must be an IPv4 CIDR such as 52.95.128.0/21" })).min(1, { message: "must list the endpoint's address ranges" }),
            /** The rclone image that copies the dump (pinned like every image). */
            image,
        }).optional(),
    }),
});

export type AskyConfigInput = z.input<typeof askyConfigSchema>;
export type AskyConfigShape = z.output<typeof askyConfigSchema>;
export type ServiceName = keyof AskyConfigShape["services"];
export type Resources = z.output<typeof resources>;
export type Probe = z.output<typeof probe>;
export type SeedUser = z.output<typeof seedUserSchema>;
export type MonitoringSettings = z.output<typeof monitoring>;
export type ServiceTokenSettings = z.output<typeof serviceToken>;

/** The top-level `asky:` keys, to reject keys the program does not know. */
export const knownTopLevelKeys: readonly string[] = Object.keys(askyConfigSchema.shape);

// The checklist's rules as the policy pack applies them: which check (checklist/, the same functions
// the tests run on the render), on one resource or on the whole stack, the config each policy takes
// (policy/<environment>.json), and how an engine resource becomes the rendered-object shape the checks read.
// No @pulumi/policy here: index.ts wires this into the PolicyPack, the tests call it directly.

import { PROTECTED_ANNOTATION } from "../checklist/data";
import { REDACTION_MARKER } from "../checklist/secrets";
import { checks, K8sObject, PolicyContext, Violation } from "../checklist";

/** The levels a config file may give a checklist rule (Pulumi's `remediate` is for the secret-marks policy only). */
export type Level = "advisory" | "mandatory" | "disabled";
export const LEVELS: readonly Level[] = ["advisory", "mandatory", "disabled"];
export type Environment = PolicyContext["stack"];

export interface Rule {
    /** The checklist ID, also the policy's name. */
    id: string;
    /** `resource`: judged on each resource alone (before it is created or changed); `stack`: on all of them. */
    scope: "resource" | "stack";
    /** What the rule demands and how to fix a violation. */
    description: string;
    /**
     * The checklist's level per environment (its must: mandatory; its should: advisory): what policy/<environment>.json
     * gives the rule, and in prod the floor no config may go below (resolveLevels).
     */
    levels: Record<Environment, Level>;
}

const MUST: Record<Environment, Level> = { dev: "mandatory", prod: "mandatory" };

/** The pack's own rule, beside the checklist's: a resource it cannot judge is a violation, never a pass. */
export const PACK_JUDGEABLE = "PACK-1";

/**
 * Kinds the checks judge, or that carry neither pods, nor routes, nor permissions (their strings are still
 * scanned by SEC-1): anything else, e.g. a CRD with a pod template (Argo Rollout) or RBAC, is PACK-1.
 */
export const JUDGEABLE_KINDS: ReadonlySet<string> = new Set([
    "Namespace", "ConfigMap", "Secret", "Service", "PersistentVolume", "PersistentVolumeClaim", "StorageClass",
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod",
    "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler", "PriorityClass", "Ingress",
    "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute", "LimitRange", "ResourceQuota",
    // CRDs the program itself creates (cert-manager, the Prometheus Operator): no pods, no routes.
    "Certificate", "ServiceMonitor", "PrometheusRule",
]);

/** Kubernetes component resources: they register their objects as resources of their own, which are judged one by one. */
const COMPONENT_TYPE = /^kubernetes:(yaml|yaml\/v2|kustomize|kustomize\/v2):|^kubernetes:helm\.sh\/v[34]:Chart$/;

/** Why the pack cannot judge a Kubernetes resource type, or undefined when it can (or it is not a Kubernetes object at all). */
export function unjudgeable(type: string): string | undefined {
    if (!type.startsWith("kubernetes:") || COMPONENT_TYPE.test(type)) return undefined;
    if (/^kubernetes:helm\.sh\/v\d+:Release$/.test(type)) return "a Helm Release installs its chart's objects itself, out of the pack's sight: use a Chart (its objects are judged) or write them";
    const m = /^kubernetes:([^:]+):([A-Za-z0-9]+)$/.exec(type);
    if (!m) return `${type} is not a Kubernetes object type the pack knows`;
    const kind = m[2];
    if (kind.endsWith("Patch")) return `a ${kind} changes a live object the pack cannot see, so the result cannot be judged: change the object in the program that owns it`;
    if (kind.endsWith("List")) return `a ${kind} holds objects the pack does not judge one by one: write them as resources of their own`;
    if (!JUDGEABLE_KINDS.has(kind)) return `kind ${kind} is not one the checklist judges (policy/rules.ts JUDGEABLE_KINDS): it may run pods or grant access the checks would not see`;
    return undefined;
}

/** Every rule of the pack, in checklist order (the objects' part of CHECKLIST.md; see checklist/index.ts for the rest). */
export const RULES: readonly Rule[] = [
    { id: "POD-1", scope: "resource", levels: MUST, description: "Every container and init container sets securityContext.allowPrivilegeEscalation: false (components/podHardening.ts containerSecurity())." },
    { id: "POD-2", scope: "resource", levels: MUST, description: "Pods run as non-root: runAsNonRoot: true and a numeric non-zero runAsUser/runAsGroup on the pod or container (podSecurity(uid)); images that start as root get the UID of their unprivileged user." },
    { id: "POD-3", scope: "resource", levels: MUST, description: 'Every container drops all capabilities (securityContext.capabilities.drop: ["ALL"]) and adds none.' },
    { id: "POD-4", scope: "resource", levels: MUST, description: "seccompProfile.type: RuntimeDefault on the pod or every container." },
    { id: "POD-5", scope: "resource", levels: MUST, description: "Pods mount only configMap, secret, emptyDir, projected, downwardAPI and persistentVolumeClaim volumes; no hostPath or other node access." },
    { id: "POD-6", scope: "resource", levels: MUST, description: "No hostNetwork, hostPID, hostIPC, hostPort, privileged or hostProcess: remove them (the restricted Pod Security level of POD-13 refuses such pods)." },
    { id: "POD-7", scope: "resource", levels: MUST, description: "readOnlyRootFilesystem: true on every container, with a writable emptyDir mounted where the image writes (nginx: /tmp; postgres: /var/run/postgresql, /tmp, /dev/shm as Memory)." },
    { id: "POD-8", scope: "stack", levels: MUST, description: "automountServiceAccountToken: false on the pod (or on the ServiceAccount it uses), and no projected service-account token: no workload here calls the Kubernetes API." },
    { id: "POD-9", scope: "resource", levels: MUST, description: "Every container has cpu, memory and ephemeral-storage requests and limits, requests not above limits (set them in the stack config's resources)." },
    { id: "POD-10", scope: "resource", levels: MUST, description: "Long-running containers have readiness and liveness probes on a declared container port, and the two check different things (podHardening.ts probes(readiness, liveness))." },
    { id: "POD-11", scope: "resource", levels: { dev: "advisory", prod: "mandatory" }, description: "Images carry an explicit tag that is not latest, or a digest: pin the version in the stack config (required in prod; dev may follow a moving tag)." },
    { id: "POD-12", scope: "resource", levels: MUST, description: "No secret as a literal env value: read it with valueFrom.secretKeyRef or from a mounted Secret file." },
    { id: "POD-13", scope: "stack", levels: MUST, description: "The stack's Namespace carries pod-security.kubernetes.io/enforce, warn and audit = restricted (components/namespace.ts)." },
    { id: "WIRE-1", scope: "stack", levels: MUST, description: "Every Service selector matches the pod labels of exactly one workload, and every workload's selector matches its own pod template: fix the selector or the labels (selectorLabels())." },
    { id: "WIRE-2", scope: "stack", levels: MUST, description: "Every Service targetPort is a containerPort (number or name) of the pods it selects." },
    { id: "WIRE-3", scope: "stack", levels: MUST, description: "Every ConfigMap, Secret and PVC a pod references exists in its namespace with the keys it reads, and every volumeMount names a declared volume." },
    { id: "WIRE-4", scope: "resource", levels: MUST, description: "Every namespaced object is in the stack's namespace (asky:namespace): set metadata.namespace." },
    { id: "WIRE-5", scope: "stack", levels: MUST, description: "Every object and pod template carries app.kubernetes.io/{name,instance,component,part-of,managed-by}, part-of=asky, managed-by=pulumi, one instance per stack (recommendedLabels())." },
    { id: "WIRE-6", scope: "resource", levels: MUST, description: "A change of a ConfigMap or Secret a Deployment/StatefulSet uses rolls its pods: a content-hashed name or a checksum/<name> pod annotation (contentChecksum())." },
    { id: "HA-1", scope: "stack", levels: MUST, description: "prod: each service runs ≥ 2 replicas, or an autoscaling/v2 HPA with minReplicas ≥ 2 < maxReplicas and no spec.replicas on the Deployment (asky:availability, autoscale)." },
    { id: "HA-2", scope: "stack", levels: MUST, description: "prod: multi-replica Deployments roll with RollingUpdate maxUnavailable 0 and a non-zero surge." },
    { id: "HA-3", scope: "stack", levels: MUST, description: "prod: one policy/v1 PodDisruptionBudget per multi-replica workload, maxUnavailable 1, unhealthyPodEvictionPolicy AlwaysAllow, the workload's own selector (asky:availability.disruptionBudgets)." },
    { id: "HA-4", scope: "stack", levels: MUST, description: "prod: multi-replica workloads spread across nodes: preferred podAntiAffinity on kubernetes.io/hostname and topologySpreadConstraints maxSkew 1, ScheduleAnyway (asky:availability.spreadAcrossNodes)." },
    { id: "HA-5", scope: "stack", levels: MUST, description: "The database is StatefulSet postgres with 1 replica on a ReadWriteOnce PVC, PGDATA a subdirectory of the volume's mount." },
    { id: "NET-1", scope: "stack", levels: MUST, description: "The namespace has a default-deny NetworkPolicy for ingress and egress (podSelector {}, no rules; asky:networkPolicies: true)." },
    { id: "NET-2", scope: "stack", levels: MUST, description: "The NetworkPolicies allow exactly the checklist's flows (anyone → gateway; gateway → services; services → postgres/redis; DNS): add a new flow to index.ts and to EXPECTED_FLOWS in checklist/network.ts together." },
    { id: "NET-3", scope: "resource", levels: MUST, description: "Only the gateway Service is exposed (NodePort 30000 in dev, LoadBalancer in prod); every other Service is ClusterIP without externalIPs, and no Ingress or route targets another Service." },
    { id: "DATA-1", scope: "stack", levels: MUST, description: "PersistentVolumes reclaim with Retain; prod: the database StatefulSet and its PVCs are protected from pulumi destroy (asky:protectData: true) and its StorageClass retains." },
    { id: "DATA-2", scope: "stack", levels: MUST, description: "The backup CronJob (required in prod) runs pg_dump on a schedule with concurrencyPolicy Forbid, history limits, startingDeadlineSeconds and a PVC of its own (asky:backup)." },
    { id: "SEC-1", scope: "resource", levels: MUST, description: "No password, token, key or password hash in a ConfigMap, a literal env value, a command line or an annotation: put it in a Secret and reference it." },
    { id: "SEC-4", scope: "resource", levels: MUST, description: "The database never trusts: no POSTGRES_HOST_AUTH_METHOD other than scram-sha-256, no trust lines in pg_hba, password_encryption scram-sha-256." },
    { id: "GW-7", scope: "resource", levels: MUST, description: "The gateway's readiness and liveness probes are httpGet on its local /healthz (answered by NGINX itself, never proxied)." },
    { id: "GW-8", scope: "resource", levels: MUST, description: "The gateway listens on 8080 as a non-root UID with a read-only root filesystem and /tmp on an emptyDir (nginx-unprivileged)." },
    // The pack's own rule: what it cannot judge is not passed (fail closed).
    { id: PACK_JUDGEABLE, scope: "resource", levels: MUST, description: "Every Kubernetes resource is one the checklist can judge: an object of a kind the checks know (JUDGEABLE_KINDS), not a patch of a live object, a list, or a Helm Release that installs objects out of the pack's sight. Write the object itself, or add its kind to policy/rules.ts with the checks it needs." },
];

// ---------------------------------------------------------------------------
// Policy config of the pack (--policy-pack-config policy/<environment>.json)

/** The environments a config file may name, as asky:environment does; the checklist's rules differ between them. */
export const ENVIRONMENTS: readonly Environment[] = ["dev", "prod"];

/**
 * Every policy's configSchema: the stack's environment and namespace, which the checks judge against (HA-* only in
 * prod, WIRE-4 and the NET rules by namespace). The CLI checks a config file against it before any policy runs and
 * refuses a missing or bad value naming the policy and the key; levels are Pulumi's own `enforcementLevel` beside them.
 */
export const CONTEXT_SCHEMA = {
    properties: {
        environment: { type: "string" as const, enum: [...ENVIRONMENTS], description: "The stack's asky:environment" },
        namespace: { type: "string" as const, minLength: 1, description: "The stack's asky:namespace" },
    },
    required: ["environment", "namespace"],
};

/** The checks' context from a policy's config; throws naming the policy and key for a value the CLI did not refuse. */
export function policyContext(id: string, config: Readonly<Record<string, unknown>>): PolicyContext {
    const { environment, namespace } = config;
    if (typeof environment !== "string" || !(ENVIRONMENTS as readonly string[]).includes(environment))
        throw new Error(`asky-checklist: ${id}.environment = ${JSON.stringify(environment)}; allowed: ${ENVIRONMENTS.join(", ")} (run with --policy-pack-config policy/<environment>.json)`);
    if (typeof namespace !== "string" || namespace === "")
        throw new Error(`asky-checklist: ${id}.namespace = ${JSON.stringify(namespace)}; the stack's namespace is required (run with --policy-pack-config policy/<environment>.json)`);
    return { stack: environment as Environment, namespace };
}

/** How strict a level is: a config file may move a rule up this scale, and in prod never down. */
const STRICTNESS: Record<Level, number> = { disabled: 0, advisory: 1, mandatory: 2 };

/**
 * Each rule's level for an environment, from the checklist's levels and the levels a config asks for
 * (`requested`, by ID; `keyPath` names the place it was read from in errors). dev may move a rule either way;
 * prod may only raise one: a prod config that lowers a rule (POD-6 disabled, SEC-1 advisory, PACK-1 …) is an
 * error, so no edit of the prod levels switches a guardrail off. An unknown ID or level is an error too.
 */
export function resolveLevels(environment: Environment, requested: Readonly<Record<string, unknown>>, keyPath: string): { levels: Record<string, Level>; errors: string[] } {
    const errors: string[] = [];
    const ids = RULES.map((r) => r.id);
    const levels: Record<string, Level> = Object.fromEntries(RULES.map((r) => [r.id, r.levels[environment]]));
    for (const [id, level] of Object.entries(requested)) {
        const rule = RULES.find((r) => r.id === id);
        if (!rule) errors.push(`${keyPath}.${id}: not a rule of this pack; allowed: ${ids.join(", ")}`);
        else if (!LEVELS.includes(level as Level)) errors.push(`${keyPath}.${id}: ${JSON.stringify(level)} is not an enforcement level; allowed: ${LEVELS.join(", ")}`);
        else if (environment === "prod" && STRICTNESS[level as Level] < STRICTNESS[rule.levels.prod]) {
            const allowed = LEVELS.filter((l) => STRICTNESS[l] >= STRICTNESS[rule.levels.prod]);
            errors.push(`${keyPath}.${id}: ${JSON.stringify(level)} would lower a prod rule below its checklist level (${rule.levels.prod}); ` +
                `prod may only raise levels (allowed: ${allowed.join(", ")}). Fix what the rule reports instead`);
        } else levels[id] = level as Level;
    }
    return { levels, errors };
}

/**
 * What is wrong with a policy config file for `environment` (`file` names it in each problem; none when it is
 * good): every rule exactly once, each line only Pulumi's `enforcementLevel` and the schema's keys, the file's
 * own environment, and levels that {@link resolveLevels} accepts (in prod: never below the checklist's).
 * No `all` key: it would set every policy's level at once, secret-marks' too.
 */
export function policyConfigProblems(environment: Environment, config: Readonly<Record<string, unknown>>, file: string): string[] {
    const problems: string[] = [];
    const requested: Record<string, unknown> = {};
    for (const [id, line] of Object.entries(config)) {
        if (id === "all") {
            problems.push(`${file}.all: sets every policy's level at once (secret-marks' too, which SEC-1 needs at remediate); give each rule its own line`);
            continue;
        }
        if (typeof line !== "object" || line === null || Array.isArray(line)) {
            problems.push(`${file}.${id}: ${JSON.stringify(line)}; allowed: { "enforcementLevel": …, "environment": "${environment}", "namespace": … }`);
            continue;
        }
        const c = line as Record<string, unknown>;
        requested[id] = c.enforcementLevel;
        if (!RULES.some((r) => r.id === id)) continue; // resolveLevels names it
        const extra = Object.keys(c).filter((k) => k !== "enforcementLevel" && !CONTEXT_SCHEMA.required.includes(k));
        if (extra.length) problems.push(`${file}.${id}: unknown key ${extra.join(", ")}; allowed: enforcementLevel, ${CONTEXT_SCHEMA.required.join(", ")}`);
        if (c.enforcementLevel === undefined) problems.push(`${file}.${id}.enforcementLevel: missing; each rule states its level`);
        try {
            const ctx = policyContext(id, c);
            if (ctx.stack !== environment) problems.push(`${file}.${id}.environment: ${JSON.stringify(ctx.stack)}; this is the ${environment} file`);
        } catch (e) {
            problems.push(`${file}.${id}: ${(e as Error).message.replace(/^asky-checklist: /, "")}`);
        }
    }
    for (const r of RULES) if (!(r.id in config)) problems.push(`${file}.${r.id}: missing; every rule has a line (its level, environment and namespace)`);
    problems.push(...resolveLevels(environment, Object.fromEntries(Object.entries(requested).filter(([, l]) => l !== undefined)), file).errors);
    return problems;
}

// ---------------------------------------------------------------------------
// Engine resources → rendered objects

/** A resource as the engine gives it to a policy: its type token, URN, registered name, properties, protect. */
export interface EngineResource {
    type: string;
    urn: string;
    name: string;
    props: Record<string, unknown>;
    protect?: boolean;
    /**
     * Where the engine marked a value secret (a Pulumi secret: generated passwords, keys, `--secret` config),
     * as property paths; "unobserved" when the pack could not see the marks. Left out (the tests' renders): none.
     */
    secretPaths?: string[][] | "unobserved";
}

/**
 * The paths of every value `isSecret` recognises in engine properties. Values are read through property
 * descriptors, as {@link plain} does: @pulumi/policy's proxies would unwrap a secret (and throw on an unknown).
 */
export function secretPathsOf(props: unknown, isSecret: (v: unknown) => boolean, path: string[] = []): string[][] {
    if (isSecret(props)) return [path];
    if (props === null || typeof props !== "object") return [];
    const value = (o: object, k: string) => Object.getOwnPropertyDescriptor(o, k)?.value;
    return Object.keys(props).flatMap((k) => secretPathsOf(value(props, k), isSecret, [...path, k]));
}

/**
 * The engine's markers of values unknown during a preview (outputs of resources not yet created),
 * as @pulumi/policy deserializes them (the Pulumi protocol's UnknownStringValue and friends);
 * index.ts checks at start that @pulumi/policy still uses these.
 */
export const UNKNOWN_SENTINELS: ReadonlySet<string> = new Set([
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", // boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421", // number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", // string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2", // array
    "030794c1-ac77-496b-92df-f27374a8bd58", // asset
    "e48ece36-62e2-4504-bad9-02848725956a", // archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff", // object
]);

/** Stands for an unknown value in a translated object; a check that reads it gets `undefined` and the read is recorded. */
const UNKNOWN: unique symbol = Symbol("unknown until apply");

/**
 * A plain copy of engine properties with unknown values marked. Values are read through property
 * descriptors: @pulumi/policy's props proxy throws on an unknown, the copy must not.
 */
function plain(v: unknown): unknown {
    if (typeof v === "string" && UNKNOWN_SENTINELS.has(v)) return UNKNOWN;
    if (v === null || typeof v !== "object") return v;
    const value = (o: object, k: string | number) => Object.getOwnPropertyDescriptor(o, k)?.value;
    if (Array.isArray(v)) return Array.from({ length: v.length }, (_, i) => plain(value(v, i)));
    return Object.fromEntries(Object.keys(v).map((k) => [k, plain(value(v, k))]));
}

/** `kubernetes:apps/v1:Deployment` → { apiVersion: "apps/v1", kind: "Deployment" }; `kubernetes:core/v1:Pod` → "v1". */
export function kubernetesKind(type: string): { apiVersion: string; kind: string } | undefined {
    const m = /^kubernetes:([^:]+):([A-Za-z0-9]+)$/.exec(type);
    if (!m) return undefined;
    const [, module, kind] = m;
    // Component resources (yaml/helm/kustomize) register their objects as resources of their own; lists and patches are not objects.
    if (/^(yaml|helm\.sh|kustomize)\//.test(module) || kind.endsWith("List") || kind.endsWith("Patch")) return undefined;
    return { apiVersion: module.startsWith("core/") ? module.slice("core/".length) : module, kind };
}

const SECRET_VALUE_FIELDS = ["data", "stringData"];

/**
 * The object as the render shows it (scripts/render.ts), from the engine's view: Secret values replaced by
 * the render's redaction marker (their keys kept; a value in a Secret is where it belongs), and the render's
 * protect annotation on objects Pulumi protects from destroy (DATA-1). Undefined for anything but a
 * Kubernetes object (providers, components, random, tls). Unknown values stay marked.
 */
export function renderedObject(r: EngineResource, secretValues = true): Record<string, unknown> | undefined {
    const kk = kubernetesKind(r.type);
    if (!kk) return undefined;
    const o = plain(r.props) as Record<string, any>;
    if (o.apiVersion === undefined) o.apiVersion = kk.apiVersion;
    if (o.kind === undefined) o.kind = kk.kind;
    if (o.metadata === undefined) o.metadata = {};
    if (kk.kind === "Secret")
        for (const f of SECRET_VALUE_FIELDS) {
            if (!secretValues) delete o[f];
            else if (o[f] && typeof o[f] === "object") o[f] = Object.fromEntries(Object.keys(o[f]).map((k) => [k, REDACTION_MARKER]));
        }
    if (r.protect && o.metadata !== UNKNOWN) {
        const annotations = o.metadata.annotations;
        if (annotations !== UNKNOWN) o.metadata.annotations = { ...(annotations ?? {}), [PROTECTED_ANNOTATION]: "true" };
    }
    return o;
}

/**
 * The stack as a stack rule judges it: each resource's inputs as the program registered them in this run
 * (`declared`, by URN) where known, else what the engine holds (its outputs). The engine gives a stack policy
 * outputs, and on a deployed stack those are the live objects: fields the cluster filled in (the volumeName a
 * bound claim got, the replica count an HPA set) are not what the program declares, nor what the render shows.
 */
export function declaredStack(resources: readonly EngineResource[], declared: ReadonlyMap<string, Record<string, unknown>>): EngineResource[] {
    return resources.map((r) => {
        const props = declared.get(r.urn);
        return props ? { ...r, props } : r;
    });
}

/** Where a check read a value unknown until apply: the resource and the property path. */
export interface UnknownRead {
    urn: string;
    path: string[];
}

/** A read-only view of a translated object that records every read of an unknown value. */
function tracked(obj: object, urn: string, reads: UnknownRead[]): object {
    const cache = new WeakMap<object, object>();
    const wrap = (target: object, path: string[]): object => {
        let p = cache.get(target);
        if (!p) {
            p = new Proxy(target, {
                get(t, key, receiver) {
                    const v = Reflect.get(t, key, receiver);
                    if (typeof key === "symbol") return v;
                    if (v === UNKNOWN) {
                        reads.push({ urn, path: [...path, key] });
                        return undefined;
                    }
                    return v !== null && typeof v === "object" ? wrap(v, [...path, key]) : v;
                },
            });
            cache.set(target, p);
        }
        return p;
    };
    return wrap(obj, []);
}

// ---------------------------------------------------------------------------
// Judging

export interface Judgement {
    /** What the rule found; with `undecided` set these are not verdicts and are not reported. */
    violations: { urn?: string; message: string }[];
    /**
     * Set when the check read a value unknown during this preview: its verdict, pass or fail, would rest on a
     * stand-in, so it is neither. index.ts lets @pulumi/policy report it as "can't run ... during preview"
     * (advisory); `pulumi up` judges again with the values known (resource rules before the resource is created).
     */
    undecided?: UnknownRead;
}

/**
 * Rules given no Secret values at all: SEC-1 reads them only to catch a render that failed to redact, and the
 * pack redacts every one itself, so a Secret whose content is unknown until apply decides nothing there.
 */
const BLIND_TO_SECRET_VALUES = new Set(["SEC-1"]);

/**
 * SEC-1 on what the engine knows and no pattern can: a value that is a Pulumi secret, anywhere in an object but
 * a Secret's data, whatever its key or its shape (DB_PASS, REDIS_AUTH, pass=…, an annotation).
 */
function secretMarkViolations(resources: readonly EngineResource[]): { urn: string; message: string }[] {
    const out: { urn: string; message: string }[] = [];
    for (const r of resources) {
        const kk = kubernetesKind(r.type);
        if (!kk || r.secretPaths === undefined) continue;
        const ref = `${kk.kind}/${r.name}`;
        if (r.secretPaths === "unobserved") {
            out.push({ urn: r.urn, message: `${ref}: the pack could not see which of its values are Pulumi secrets (its secret-marks policy did not run), so it cannot tell one is outside a Secret` });
            continue;
        }
        const leaked = r.secretPaths.filter((p) => !(kk.kind === "Secret" && SECRET_VALUE_FIELDS.includes(p[0])));
        for (const p of leaked) out.push({ urn: r.urn, message: `${ref}: ${p.join(".")} is a Pulumi secret outside a Secret's data; put it in a Secret and reference it (secretKeyRef or a mounted file)` });
    }
    return out;
}

/** "Kind/name: reason" of a violation. */
function message(v: Violation): string {
    return `${v.object}: ${v.reason}`;
}

/** Runs rule `id`'s check over the resources (one for a resource rule, all for a stack rule). */
export function judge(id: string, resources: readonly EngineResource[], ctx: PolicyContext): Judgement {
    if (id === PACK_JUDGEABLE) {
        return {
            violations: resources.flatMap((r) => {
                const why = unjudgeable(r.type);
                return why ? [{ urn: r.urn, message: `${r.type.split(":").pop()}/${r.name}: cannot be judged: ${why}` }] : [];
            }),
        };
    }
    const check = checks[id];
    if (!check) throw new Error(`asky-checklist: no check for rule ${id}`);
    const reads: UnknownRead[] = [];
    const objects: K8sObject[] = [];
    const urns = new Map<string, string>();
    for (const r of resources) {
        const o = renderedObject(r, !BLIND_TO_SECRET_VALUES.has(id));
        if (!o) continue;
        const meta = o.metadata as Record<string, unknown> | typeof UNKNOWN;
        const name = meta === UNKNOWN ? undefined : meta.name;
        if (typeof o.kind === "string" && typeof name === "string" && !urns.has(`${o.kind}/${name}`)) urns.set(`${o.kind}/${name}`, r.urn);
        objects.push(tracked(o, r.urn, reads) as K8sObject);
    }
    const found = objects.length ? check(objects, ctx) : [];
    const violations = found.map((v) => ({ urn: urns.get(v.object), message: message(v) }));
    // A secret mark is known at preview even when the value is not: a definite violation, whatever else is undecided.
    const marks = id === "SEC-1" ? secretMarkViolations(resources) : [];
    if (reads.length) return marks.length ? { violations: marks } : { violations, undecided: reads[0] };
    return { violations: [...violations, ...marks] };
}

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { gatewayChecks } from "./gateway";
import { parseQuantity } from "./quantity";
import { BREAK_GLASS_GUARDRAILS, BreakGlassGuardrail, askyConfigSchema, AskyConfigShape, Resources, knownTopLevelKeys } from "./schema";

export * from "./gateway";
export * from "./quantity";
export * from "./schema";

/** The project name: every key of this program lives under `asky:` in the stack files. */
export const CONFIG_NAMESPACE = "asky";
/** Optional secret key: a Firebase service-account JSON mounted into pyxis and request-management. */
export const FIREBASE_KEY = "firebaseServiceAccount";

/** The validated, frozen configuration every component receives. */
export interface AskyConfig extends AskyConfigShape {
    /** The Firebase service-account JSON, kept a Pulumi secret; absent when not configured. */
    readonly firebaseServiceAccount?: pulumi.Output<string>;
}

/** A configuration problem, reported before any resource is registered. */
export class ConfigError extends pulumi.RunError {
    constructor(public readonly problems: readonly string[], heading = "Invalid stack configuration; nothing was deployed. Fix these keys:") {
        super(`${heading}\n` + problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "ConfigError";
    }
}

/** What an error prints instead of a value set with `pulumi config set --secret`. */
export const SECRET_SHOWN_AS = "[secret]";

/**
 * The value each organisation must set before its first deploy (the committed Pulumi.prod.yaml
 * carries it): `<REQUIRED: what belongs here>`. Any such value stops the program before any resource.
 */
export const PLACEHOLDER = /^<REQUIRED: (.*)>$/s;

/** Result of the pure validation: the typed config plus warnings the caller should log. */
export interface ParsedConfig {
    readonly config: AskyConfigShape;
    readonly warnings: readonly string[];
}

type Path = readonly PropertyKey[];

function keyPath(path: Path): string {
    let out = CONFIG_NAMESPACE + ":";
    path.forEach((seg, i) => {
        if (typeof seg === "number") out += `[${seg}]`;
        else out += (i === 0 ? "" : ".") + String(seg);
    });
    return out;
}

function show(value: unknown, secret = false): string {
    if (value === undefined) return "(missing)";
    if (secret) return SECRET_SHOWN_AS;
    const text = JSON.stringify(value);
    return text.length > 80 ? text.slice(0, 77) + "..." : text;
}

/** The object keys a schema accepts at `path`, to tell the operator what is allowed. */
function allowedKeysAt(path: Path): string[] {
    let schema: z.ZodType = askyConfigSchema;
    for (const seg of path) {
        schema = unwrap(schema);
        if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(seg)];
        else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
        else return [];
        if (!schema) return [];
    }
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
    if (schema instanceof z.ZodRecord && schema.keyType instanceof z.ZodEnum) return (schema.keyType.options as string[]).map(String);
    if (schema instanceof z.ZodDiscriminatedUnion) {
        return [...new Set(schema.options.flatMap((o) => Object.keys((o as z.ZodObject).shape)))];
    }
    return [];
}

function unwrap(schema: z.ZodType): z.ZodType {
    while (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) schema = schema.unwrap() as z.ZodType;
    return schema;
}

function describeIssue(issue: z.core.$ZodIssue, secretKeys: ReadonlySet<string>): string[] {
    if (issue.code === "unrecognized_keys") {
        const allowed = allowedKeysAt(issue.path);
        return issue.keys.map(
            (k) => `${keyPath([...issue.path, k])}: unknown key; allowed here: ${allowed.join(", ")}`,
        );
    }
    // A record's key that fails its own rule: zod says only "Invalid key in record"; the key's rule says what is allowed.
    const message = issue.code === "invalid_key" && issue.issues.length > 0 ? issue.issues.map((i) => i.message).join("; ") : issue.message;
    return [`${keyPath(issue.path)} = ${show(issue.input, secretKeys.has(String(issue.path[0])))}: ${message}`];
}

/** Every `<REQUIRED: …>` value, with its key path. */
function findPlaceholders(value: unknown, path: PropertyKey[] = []): [Path, string][] {
    if (typeof value === "string") {
        const m = PLACEHOLDER.exec(value);
        return m ? [[path, m[1]]] : [];
    }
    if (value && typeof value === "object") {
        return Object.entries(value).flatMap(([k, v]) => findPlaceholders(v, [...path, Array.isArray(value) ? Number(k) : k]));
    }
    return [];
}

function placeholderError(found: [Path, string][]): ConfigError {
    return new ConfigError(
        found.map(([path, what]) => `${keyPath(path)}: ${what}; e.g. pulumi config set --path '${keyPath(path)}' <value>`),
        `The stack file still has ${found.length} placeholder value(s) <REQUIRED: …>; nothing was deployed. ` +
            `Set every key below (README: "Preparing prod"), then run pulumi preview again:`,
    );
}

/** The leaf values under the secret top-level keys, as an error could print them. */
function secretRenderings(raw: Record<string, unknown>, secretKeys: ReadonlySet<string>): string[] {
    const leaves = (v: unknown): unknown[] =>
        v && typeof v === "object" ? Object.values(v).flatMap(leaves) : v === undefined || v === null || typeof v === "boolean" ? [] : [v];
    const out = new Set<string>();
    for (const key of secretKeys) {
        for (const leaf of leaves(raw[key])) {
            const text = String(leaf);
            if (text === "") continue; // nothing to reveal, and "" would blank every empty value
            const json = JSON.stringify(leaf);
            for (const r of [json, text, show(leaf)]) if (r) out.add(r);
            if (json.length > 80) out.add(json.slice(0, 77));
        }
    }
    // Longest first: a value is never left half-replaced by a shorter one it contains.
    return [...out].sort((a, b) => b.length - a.length);
}

/** Replaces whatever a message shows of a secret value with [secret] (cross-key rules quote values freely). */
function redact(messages: readonly string[], raw: Record<string, unknown>, secretKeys: ReadonlySet<string>): string[] {
    const secrets = secretRenderings(raw, secretKeys);
    if (secrets.length === 0) return [...messages];
    const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return messages.map((m) => secrets.reduce(
        (text, secret) => text.replace(new RegExp(`(?<![A-Za-z0-9_])${escape(secret)}(?![A-Za-z0-9_])`, "g"), SECRET_SHOWN_AS),
        m,
    ));
}

/** Splits `repo[:tag][@digest]` into its parts (the registry port is not a tag). */
export function parseImage(ref: string): { repository: string; tag?: string; digest?: string } {
    const [nameAndTag, digest] = ref.split("@");
    const lastSlash = nameAndTag.lastIndexOf("/");
    const colon = nameAndTag.indexOf(":", lastSlash + 1);
    return colon < 0
        ? { repository: nameAndTag, digest }
        : { repository: nameAndTag.slice(0, colon), tag: nameAndTag.slice(colon + 1), digest };
}

/**
 * A tag that names one release: it starts with a full version MAJOR.MINOR[.PATCH…], optionally
 * v-prefixed, e.g. `1.4.2`, `v2.3`, `16.6-bookworm`, `1.27.3-alpine`. Everything else moves:
 * `latest`, `LATEST`, `stable`, `mainline`, `alpine`, `edge`, a bare major `16` or `16-bookworm`.
 */
export const PINNED_TAG = /^[vV]?\d+\.\d+(\.\d+)*([-_+][A-Za-z0-9_.+-]*)?$/;

/** True when the reference names exactly one image: an @sha256 digest, or a tag starting with a full version. */
export function isPinnedImage(ref: string): boolean {
    const { tag, digest } = parseImage(ref);
    return digest !== undefined || (tag !== undefined && PINNED_TAG.test(tag));
}

/** The PostgreSQL major version a tag names (`16.6-bookworm` → 16, also before a digest), or undefined. */
export function postgresMajor(ref: string): number | undefined {
    const m = /^[vV]?(\d+)(?=$|[._-])/.exec(parseImage(ref).tag ?? "");
    return m ? Number(m[1]) : undefined;
}

function imageKeys(c: AskyConfigShape): [Path, string][] {
    return [
        [["database", "image"], c.database.image],
        [["cache", "image"], c.cache.image],
        [["gateway", "image"], c.gateway.image],
        ...Object.entries(c.services).map(([name, s]): [Path, string] => [["services", name, "image"], s.image]),
        ...Object.entries(c.monitoring.images).map(([name, ref]): [Path, string] => [["monitoring", "images", name], ref]),
        ...(c.backup.offsite ? [[["backup", "offsite", "image"], c.backup.offsite.image] as [Path, string]] : []),
    ];
}

/** Rules that involve more than one key or depend on the environment. */
function crossChecks(c: AskyConfigShape): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    const warnings: string[] = [];
    const prod = c.environment === "prod";

    for (const [path, ref] of imageKeys(c)) {
        // prod runs exactly the bytes that were reviewed: a tag, even a full version, can be pushed again.
        if (prod && isPinnedImage(ref) && parseImage(ref).digest === undefined) {
            problems.push(`${keyPath(path)} = ${show(ref)}: prod takes every image by digest (a tag can be pushed again, a digest cannot): ` +
                `keep the tag and add its digest, ${parseImage(ref).repository}:${parseImage(ref).tag}@sha256:<digest> (README: "Resolving image digests")`);
        }
        if (isPinnedImage(ref)) continue;
        if (prod) {
            problems.push(`${keyPath(path)} = ${show(ref)}: prod requires a pinned image: a tag that starts with a full version ` +
                `MAJOR.MINOR[.PATCH] (e.g. 1.4.2, 16.6-bookworm) or an @sha256 digest; moving tags such as latest, stable, alpine, ` +
                `a bare major (16, 16-bookworm), in any case, are refused (POD-11)`);
        } else {
            warnings.push(`${keyPath(path)} = ${show(ref)} follows a moving tag; allowed in dev only (POD-11)`);
        }
    }
    if (c.storage.hostPath !== undefined && prod) {
        problems.push(`${keyPath(["storage", "hostPath"])} = ${show(c.storage.hostPath)}: a hostPath volume is dev only; asky:environment is "prod", use asky:storage.storageClass`);
    }
    if (c.storage.hostPath === undefined && c.storage.storageClass === "manual") {
        problems.push(`${keyPath(["storage", "storageClass"])} = "manual" binds the dev hostPath PV: set asky:storage.hostPath as well`);
    }
    if (c.gateway.nodePort !== undefined && c.gateway.exposure !== "NodePort") {
        problems.push(`${keyPath(["gateway", "nodePort"])} = ${c.gateway.nodePort}: only allowed with asky:gateway.exposure "NodePort", not ${show(c.gateway.exposure)}`);
    }
    const { minReplicas, maxReplicas } = c.availability.autoscaling;
    if (maxReplicas <= minReplicas) {
        problems.push(`${keyPath(["availability", "autoscaling", "maxReplicas"])} = ${maxReplicas}: must be greater than asky:availability.autoscaling.minReplicas (${minReplicas}) (HA-1)`);
    }
    const scaled: [Path, { replicas: number; autoscale: boolean }][] = [
        [["gateway"], c.gateway],
        ...Object.entries(c.services).map(([name, s]): [Path, typeof s] => [["services", name], s]),
    ];
    for (const [path, s] of scaled) {
        if (prod && !s.autoscale && s.replicas < 2) {
            problems.push(`${keyPath([...path, "replicas"])} = ${s.replicas}: prod needs ≥ 2 replicas or ${keyPath([...path, "autoscale"])} true (HA-1)`);
        }
    }
    if (prod && minReplicas < 2) {
        problems.push(`${keyPath(["availability", "autoscaling", "minReplicas"])} = ${minReplicas}: prod needs ≥ 2 (HA-1)`);
    }
    const resourceBlocks: [Path, Resources][] = [
        [["database", "resources"], c.database.resources],
        [["cache", "resources"], c.cache.resources],
        [["gateway", "resources"], c.gateway.resources],
        ...Object.entries(c.services).map(([name, s]): [Path, Resources] => [["services", name, "resources"], s.resources]),
    ];
    for (const [path, r] of resourceBlocks) {
        for (const amount of ["cpu", "memory", "ephemeralStorage"] as const) {
            if (parseQuantity(r.requests[amount]) > parseQuantity(r.limits[amount])) {
                problems.push(`${keyPath([...path, "requests", amount])} = ${show(r.requests[amount])}: must not exceed ${keyPath([...path, "limits", amount])} (${r.limits[amount]})`);
            }
        }
    }
    // The schema Job reads its secrets with psql's \getenv, which psql 15 introduced.
    const pgMajor = postgresMajor(c.database.image);
    if (pgMajor === undefined) {
        const unknown = `${keyPath(["database", "image"])} = ${show(c.database.image)}: the PostgreSQL major version (≥ 15) must be readable ` +
            `from the tag, also when pinned by digest: e.g. postgres:16.6-bookworm@sha256:<digest>`;
        if (prod) problems.push(unknown);
        else warnings.push(unknown.replace(": the PostgreSQL", ": cannot check PostgreSQL ≥ 15; the PostgreSQL"));
    } else if (pgMajor < 15) {
        problems.push(`${keyPath(["database", "image"])} = ${show(c.database.image)}: PostgreSQL 15 or newer is required (psql \\getenv in the schema Job)`);
    }
    const { lifetimeHours, rotationHours } = c.serviceToken;
    if (rotationHours >= lifetimeHours) {
        problems.push(`${keyPath(["serviceToken", "rotationHours"])} = ${rotationHours}: must be less than ${keyPath(["serviceToken", "lifetimeHours"])} (${lifetimeHours}), or a deployed token could expire before the next one is minted`);
    }
    const gateway = gatewayChecks(c, keyPath, show);
    problems.push(...gateway.problems);
    warnings.push(...gateway.warnings);
    if (prod && c.backup.enabled && c.backup.encryption === undefined) {
        problems.push(`${keyPath(["backup", "encryption", "publicKey"])} = (missing): prod encrypts every dump (patients' data, password hashes) to an OpenPGP public key ` +
            `whose private key is kept off the cluster: pulumi config set --path 'asky:backup.encryption.publicKey' < backup-public.asc (README: "Backups and restore")`);
    }
    if (c.backup.offsite && c.backup.encryption === undefined) {
        problems.push(`${keyPath(["backup", "offsite"])}: copies dumps off the cluster, which only encrypted ones may leave: set asky:backup.encryption.publicKey too`);
    }
    if (!prod && c.backup.enabled && c.backup.encryption === undefined) {
        warnings.push(`asky:backup.encryption is not set: the dev dumps are written unencrypted`);
    }
    const guardrails = prodGuardrails(c);
    problems.push(...guardrails.problems);
    warnings.push(...guardrails.warnings);
    return { problems, warnings };
}

/** One prod guardrail: the key that switches it off, its value when off, what it protects and what lifting it is for. */
const GUARDRAILS: Record<BreakGlassGuardrail, { key: Path; off: (c: AskyConfigShape) => boolean; value: string; allowed: string; why: string }> = {
    tlsOff: {
        key: ["gateway", "tls", "mode"], off: (c) => c.gateway.tls.mode === "off", value: '"off"', allowed: '"secret" or "certManager"',
        why: "patient data and bearer tokens would cross the network in clear (README: \"TLS setup for prod\")",
    },
    networkPoliciesOff: {
        key: ["networkPolicies"], off: (c) => !c.networkPolicies, value: "false", allowed: "true",
        why: "every pod could reach every other, the database and the cache included (NET-1, NET-2)",
    },
    dataUnprotected: {
        key: ["protectData"], off: (c) => !c.protectData, value: "false", allowed: "true",
        why: "pulumi destroy would delete the namespace, the database and its volume (DATA-1)",
    },
    backupsOff: {
        key: ["backup", "enabled"], off: (c) => !c.backup.enabled, value: "false", allowed: "true",
        why: "no backup of the database would be made (DATA-2)",
    },
};

/**
 * prod refuses a config that switches off a guardrail, unless `asky:breakGlass.<guardrail>` lifts it with a
 * reason: then every run warns, loudly, until the key is removed. A break-glass key that lifts nothing is an
 * error too (in dev, or once the guardrail is back on): a forgotten one must not wait for the next mistake.
 */
export function prodGuardrails(c: AskyConfigShape): { problems: string[]; warnings: string[]; lifted: BreakGlassGuardrail[] } {
    const problems: string[] = [];
    const warnings: string[] = [];
    const lifted: BreakGlassGuardrail[] = [];
    const prod = c.environment === "prod";
    const glass = c.breakGlass ?? {};
    for (const name of BREAK_GLASS_GUARDRAILS) {
        const g = GUARDRAILS[name];
        const reason = glass[name];
        const off = prod && g.off(c);
        const liftKey = keyPath(["breakGlass", name]);
        if (off && reason === undefined) {
            problems.push(`${keyPath(g.key)} = ${g.value}: not allowed in prod (allowed: ${g.allowed}): ${g.why}. If it must be so for a while, ` +
                `lift this one guardrail on purpose: pulumi config set --path '${liftKey}' '<why, who, ticket>' (logged on every run until removed; README: "Break glass")`);
        } else if (off) {
            lifted.push(name);
            warnings.push(`BREAK GLASS: ${liftKey} lifts a prod guardrail: ${keyPath(g.key)} = ${g.value}, so ${g.why}. Reason given: ${JSON.stringify(reason)}. ` +
                `Remove ${liftKey} and set ${keyPath(g.key)} back to ${g.allowed} as soon as you can.`);
        } else if (reason !== undefined) {
            problems.push(`${liftKey} = ${show(reason)}: lifts nothing (${prod ? `${keyPath(g.key)} is not ${g.value}` : "guardrails apply to prod only"}); remove the key`);
        }
    }
    return { problems, warnings, lifted };
}

/** Storage and API-server limits the schema cannot express key by key. */
function storageAndLimitChecks(c: AskyConfigShape): string[] {
    const problems: string[] = [];
    if (c.storage.hostPath !== undefined && c.storage.storageClass !== "manual") {
        problems.push(`${keyPath(["storage", "storageClass"])} = ${show(c.storage.storageClass)}: with asky:storage.hostPath the claim binds the ` +
            `dev PV through the StorageClass "manual" the program creates; set "manual"`);
    }
    if (c.backup.enabled && c.backup.claimName === c.storage.claimName) {
        problems.push(`${keyPath(["backup", "claimName"])} = ${show(c.backup.claimName)}: the backups need their own claim, not the database's (asky:storage.claimName)`);
    }
    // Redis gets --maxmemory of 75% of its limit and needs a few MiB of its own besides.
    if (parseQuantity(c.cache.resources.limits.memory) < 16 * 2 ** 20) {
        problems.push(`${keyPath(["cache", "resources", "limits", "memory"])} = ${show(c.cache.resources.limits.memory)}: Redis needs at least 16Mi ` +
            `(its --maxmemory is 75% of this limit)`);
    }
    return problems;
}

/** Options of {@link parseAskyConfig}. */
export interface ParseOptions {
    /** Top-level keys (without `asky:`) set with `pulumi config set --secret`: errors show their values as [secret]. */
    readonly secretKeys?: Iterable<string>;
}

/**
 * Validates the raw `asky:` keys (values already JSON-decoded) without touching Pulumi.
 * Throws a {@link ConfigError} listing every problem with its key path, value and what is allowed;
 * `<REQUIRED: …>` placeholders are reported first, all of them in one error.
 */
export function parseAskyConfig(raw: Record<string, unknown>, options: ParseOptions = {}): ParsedConfig {
    const secretKeys = new Set(options.secretKeys ?? []);
    const placeholders = findPlaceholders(raw);
    if (placeholders.length > 0) throw placeholderError(placeholders);
    const result = askyConfigSchema.safeParse(raw, { reportInput: true });
    if (!result.success) throw new ConfigError(redact(result.error.issues.flatMap((i) => describeIssue(i, secretKeys)), raw, secretKeys));
    const { problems, warnings } = crossChecks(result.data);
    problems.push(...storageAndLimitChecks(result.data));
    if (problems.length > 0) throw new ConfigError(redact(problems, raw, secretKeys));
    return { config: deepFreeze(result.data), warnings: redact(warnings, raw, secretKeys) };
}

function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object") {
        Object.values(value as object).forEach(deepFreeze);
        Object.freeze(value);
    }
    return value;
}

function decode(value: string): unknown {
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/** Reads `pulumi.Config` once (the only place that does), validates it, logs warnings, returns it frozen. */
export function loadConfig(): AskyConfig {
    const { config, warnings } = readConfig();
    warnings.forEach((w) => pulumi.log.warn(w));
    return config;
}

/** Whether the CLI passed `key` as a secret (`pulumi config set --secret`, PULUMI_CONFIG_SECRET_KEYS). */
export function isSecretConfigKey(key: string): boolean {
    // The SDK's own reader of PULUMI_CONFIG_SECRET_KEYS; exported at run time, left out of its typings.
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtime.isConfigSecret !== "function") throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret: config errors could print secrets");
    return runtime.isConfigSecret(key);
}

/** The top-level `asky:` keys (without the prefix) the CLI passed as secrets. */
export function secretTopLevelKeys(): string[] {
    const prefix = CONFIG_NAMESPACE + ":";
    return Object.keys(pulumi.runtime.allConfig()).filter((k) => k.startsWith(prefix) && isSecretConfigKey(k)).map((k) => k.slice(prefix.length));
}

/**
 * The stack-config namespace the policy pack once read its levels from (asky-checklist:enforcement). Left in a stack,
 * such a key would look like it lowers or raises a rule and do nothing, so it is an error.
 */
const RETIRED_PACK_PREFIX = "asky-checklist:";

/** {@link loadConfig} without logging: throws a {@link ConfigError} on bad config. */
export function readConfig(): { config: AskyConfig; warnings: readonly string[] } {
    const prefix = CONFIG_NAMESPACE + ":";
    const raw: Record<string, unknown> = {};
    const unknown: string[] = [];
    const all = pulumi.runtime.allConfig();
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(RETIRED_PACK_PREFIX)) unknown.push(`${key}: no longer read: the policy pack takes its levels from policy/<environment>.json ` +
            `(--policy-pack-config), and no stack config changes them (README: "Policy pack"); remove it: pulumi config rm ${key}`);
        if (!key.startsWith(prefix)) continue;
        const name = key.slice(prefix.length);
        if (name === FIREBASE_KEY) continue;
        if (!knownTopLevelKeys.includes(name)) unknown.push(`${key}: unknown key; allowed: ${[...knownTopLevelKeys, FIREBASE_KEY].join(", ")}`);
        else raw[name] = decode(value);
    }
    if (unknown.length > 0) throw new ConfigError(unknown);
    const { config, warnings } = parseAskyConfig(raw, { secretKeys: secretTopLevelKeys() });
    const firebaseKey = prefix + FIREBASE_KEY;
    const plaintextFirebase = firebaseKey in all && !isSecretConfigKey(firebaseKey)
        ? [`${firebaseKey} = [a plain-text value]: it holds a private key, allowed only as a secret: re-set it encrypted, read from the file ` +
            `on standard input (never on a command line, where shell history and the process list keep it): ` +
            `pulumi config set --secret ${firebaseKey} < serviceAccountKey.json`]
        : [];
    // A private key in plain text in a prod stack file is an error; dev warns.
    if (config.environment === "prod" && plaintextFirebase.length > 0) throw new ConfigError(plaintextFirebase);
    const firebase = new pulumi.Config(CONFIG_NAMESPACE).getSecret(FIREBASE_KEY);
    return { config: Object.freeze({ ...config, firebaseServiceAccount: firebase }), warnings: [...warnings, ...plaintextFirebase] };
}

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { gatewayChecks } from "./gateway";
import { parseQuantity } from "./quantity";
import { askyConfigSchema, AskyConfigShape, Resources, knownTopLevelKeys } from "./schema";

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
    constructor(public readonly problems: readonly string[]) {
        super(
            `Invalid stack configuration; nothing was deployed. Fix these keys:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

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

function show(value: unknown): string {
    if (value === undefined) return "(missing)";
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
    if (schema instanceof z.ZodDiscriminatedUnion) {
        return [...new Set(schema.options.flatMap((o) => Object.keys((o as z.ZodObject).shape)))];
    }
    return [];
}

function unwrap(schema: z.ZodType): z.ZodType {
    while (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) schema = schema.unwrap() as z.ZodType;
    return schema;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
    if (issue.code === "unrecognized_keys") {
        const allowed = allowedKeysAt(issue.path);
        return issue.keys.map(
            (k) => `${keyPath([...issue.path, k])}: unknown key; allowed here: ${allowed.join(", ")}`,
        );
    }
    return [`${keyPath(issue.path)} = ${show(issue.input)}: ${issue.message}`];
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

function imageKeys(c: AskyConfigShape): [Path, string][] {
    return [
        [["database", "image"], c.database.image],
        [["cache", "image"], c.cache.image],
        [["gateway", "image"], c.gateway.image],
        ...Object.entries(c.services).map(([name, s]): [Path, string] => [["services", name, "image"], s.image]),
    ];
}

/** Rules that involve more than one key or depend on the environment. */
function crossChecks(c: AskyConfigShape): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    const warnings: string[] = [];
    const prod = c.environment === "prod";

    for (const [path, ref] of imageKeys(c)) {
        const { tag, digest } = parseImage(ref);
        const moving = !digest && (!tag || tag === "latest");
        if (moving && prod) {
            problems.push(`${keyPath(path)} = ${show(ref)}: prod requires a pinned tag other than 'latest' or an @sha256 digest (POD-11)`);
        } else if (moving) {
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
    const pgMajor = Number(/^(\d+)/.exec(parseImage(c.database.image).tag ?? "")?.[1]);
    if (pgMajor && pgMajor < 15) {
        problems.push(`${keyPath(["database", "image"])} = ${show(c.database.image)}: PostgreSQL 15 or newer is required (psql \\getenv in the schema Job)`);
    }
    const emails = c.database.users.map((u) => u.email.toLowerCase());
    emails.forEach((e, i) => {
        if (emails.indexOf(e) !== i) problems.push(`${keyPath(["database", "users", i, "email"])} = ${show(e)}: seeded twice`);
    });
    const gateway = gatewayChecks(c, keyPath, show);
    problems.push(...gateway.problems);
    warnings.push(...gateway.warnings);
    if (prod) {
        const off: [string, boolean][] = [
            ["networkPolicies", c.networkPolicies],
            ["protectData", c.protectData],
            ["backup.enabled", c.backup.enabled],
        ];
        for (const [key, on] of off) if (!on) warnings.push(`asky:${key} is false in prod: see the production checklist in the README`);
    }
    return { problems, warnings };
}

/**
 * Validates the raw `asky:` keys (values already JSON-decoded) without touching Pulumi.
 * Throws a {@link ConfigError} listing every problem with its key path, value and what is allowed.
 */
export function parseAskyConfig(raw: Record<string, unknown>): ParsedConfig {
    const result = askyConfigSchema.safeParse(raw, { reportInput: true });
    if (!result.success) throw new ConfigError(result.error.issues.flatMap(describeIssue));
    const { problems, warnings } = crossChecks(result.data);
    if (problems.length > 0) throw new ConfigError(problems);
    return { config: deepFreeze(result.data), warnings };
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

/** {@link loadConfig} without logging: throws a {@link ConfigError} on bad config. */
export function readConfig(): { config: AskyConfig; warnings: readonly string[] } {
    const prefix = CONFIG_NAMESPACE + ":";
    const raw: Record<string, unknown> = {};
    const unknown: string[] = [];
    for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!key.startsWith(prefix)) continue;
        const name = key.slice(prefix.length);
        if (name === FIREBASE_KEY) continue;
        if (!knownTopLevelKeys.includes(name)) unknown.push(`${key}: unknown key; allowed: ${[...knownTopLevelKeys, FIREBASE_KEY].join(", ")}`);
        else raw[name] = decode(value);
    }
    if (unknown.length > 0) throw new ConfigError(unknown);
    const { config, warnings } = parseAskyConfig(raw);
    const firebase = new pulumi.Config(CONFIG_NAMESPACE).getSecret(FIREBASE_KEY);
    return { config: Object.freeze({ ...config, firebaseServiceAccount: firebase }), warnings };
}

/**
 * Offline render: runs the real program under Pulumi's mocks with a stack's config and writes
 * every Kubernetes object it would create as a complete manifest, in creation order, with
 * Secret values redacted. No cluster and no Pulumi CLI needed.
 *
 *   npm run render -- --stack dev [--out rendered] [--no-overlay]
 *
 * Values a stack file still leaves to each organisation (`<REQUIRED: …>`, the committed prod) are
 * filled from scripts/render-overlays/<stack>.yaml, for the render and the tests only; a real
 * `pulumi up` never reads it.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { PLACEHOLDER, readConfig } from "../config";

/** What replaces every Secret value (and any secret that leaked elsewhere) in the render. */
export const REDACTED = "<redacted>";
/** The render marks objects Pulumi protects from `pulumi destroy` with this annotation. */
export const RENDER_PROTECTED_ANNOTATION = "render.asky.io/pulumi-protect";
/** Pulumi's marker of a serialized secret value, as the mocks receive it. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const PROJECT = "asky";
/** The organization a DIY (file) backend gives every stack; the program's StackReference to itself names it. */
export const MOCK_ORGANIZATION = "organization";
const ROOT = path.resolve(__dirname, "..");
/** Example values for a stack file's `<REQUIRED: …>` placeholders: the render and the tests only. */
export const OVERLAY_DIR = path.join(__dirname, "render-overlays");

export interface K8sManifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    [field: string]: unknown;
}

/** One resource as Pulumi names it in the state: URN, parent and options. */
export interface ResourceIdentity {
    urn: string;
    type: string;
    name: string;
    /** URN of the parent; undefined for resources directly under the stack. */
    parentUrn?: string;
    component: boolean;
    protect: boolean;
    retainOnDelete: boolean;
}

/** One resource the program registered, Kubernetes or not. */
export interface RegisteredResource {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    provider: string;
    protect: boolean;
    retainOnDelete: boolean;
}

export interface Render {
    stack: string;
    /** Kubernetes objects, in creation order, Secret values redacted. */
    objects: K8sManifest[];
    /** Every registered resource with raw inputs (secrets still wrapped): for tests. */
    resources: RegisteredResource[];
    /** Stack outputs, resolved; secret outputs keep Pulumi's wrapper as `{ secret: true, value }`. */
    outputs: Record<string, { secret: boolean; value: unknown }>;
    /** Paths (`Kind/name:field`) where a secret value appeared outside a Secret object: must be empty. */
    secretLeaks: string[];
    /** Every resource with its URN as the engine computes it (the mock monitor's URNs drop parent chains). */
    identities: ResourceIdentity[];
    /** Requests and completions in the order the engine saw them: dependencies show as waits. */
    events: RegistrationEvent[];
}

/** Options of a render. */
export interface RenderOptions {
    /** Stack outputs of the previous deployment, as the program's StackReference to its own stack reads them. */
    previousOutputs?: Record<string, unknown>;
    /** Apply scripts/render-overlays/<stack>.yaml (default true). */
    overlay?: boolean;
    /** Milliseconds the mock engine takes to create a resource: slow ones show what waits for them. */
    latency?: (resource: { type: string; inputs: Record<string, unknown> }) => number;
}

/** When the mock engine received a resource and when it finished creating it. */
export interface RegistrationEvent {
    phase: "requested" | "created";
    type: string;
    name: string;
    /** `Kind/metadata.name` of a Kubernetes object. */
    object?: string;
}

/** The overlay fills placeholders only: a value the organisation has set is rendered as set. */
function fillPlaceholders(base: unknown, over: unknown): unknown {
    const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
    if (isObject(base) && isObject(over)) {
        const out: Record<string, unknown> = { ...base };
        for (const [k, v] of Object.entries(over)) out[k] = fillPlaceholders(base[k], v);
        return out;
    }
    return typeof base === "string" && PLACEHOLDER.test(base) ? over : base;
}

/** The overlay file of a stack, when there is one. */
export function overlayFile(stack: string): string | undefined {
    const file = path.join(OVERLAY_DIR, `${stack}.yaml`);
    return fs.existsSync(file) ? file : undefined;
}

/**
 * Reads `Pulumi.<stack>.yaml` as the CLI passes it to the program (structured values as JSON),
 * with the render overlay's example values in the placeholders it still has, unless `overlay` is false.
 */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}, options: { overlay?: boolean } = {}): { config: Record<string, string>; secretKeys: string[]; overlay?: string } {
    const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new Error(`no stack file ${path.relative(process.cwd(), file)}: known stacks are ${knownStacks().join(", ")}`);
    const stackFile = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
    const overlay = options.overlay === false ? undefined : overlayFile(stack);
    const overlaid: Record<string, unknown> = { ...(stackFile.config ?? {}) };
    if (overlay) {
        for (const [key, value] of Object.entries((YAML.parse(fs.readFileSync(overlay, "utf8")) ?? {}).config ?? {})) {
            overlaid[key] = fillPlaceholders(overlaid[key], value);
        }
    }
    const values: Record<string, unknown> = { ...overlaid, ...overrides };
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(values)) {
        if (value === undefined) continue;
        if (value && typeof value === "object" && "secure" in (value as object)) {
            // Encrypted with the stack's passphrase, which the render does not have.
            config[key] = `${REDACTED} (secure value of ${key})`;
            secretKeys.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys, ...(overlay ? { overlay } : {}) };
}

export function knownStacks(): string[] {
    return fs.readdirSync(ROOT).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => !!s).sort();
}

/** True for a value Pulumi passes as secret (its serialized envelope). */
export function isSecretEnvelope(v: unknown): v is { value: unknown } {
    return !!v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG] !== undefined;
}

/** Unwraps secret envelopes; `onSecret` decides what a secret becomes (and records where it was). */
function unwrap(value: unknown, where: string, onSecret: (where: string, v: unknown) => unknown): unknown {
    if (isSecretEnvelope(value)) return onSecret(where, value.value);
    if (Array.isArray(value)) return value.map((v, i) => unwrap(v, `${where}[${i}]`, onSecret));
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v, where ? `${where}.${k}` : k, onSecret)]));
    }
    return value;
}

/** A raw input with every secret envelope opened: for tests that check a secret's content. */
export function reveal(value: unknown): unknown {
    return unwrap(value, "", (_where, v) => reveal(v));
}

/** Plausible values for the outputs of the non-Kubernetes resources the program reads. */
function mockState(type: string, name: string, inputs: Record<string, unknown>, options: RenderOptions): Record<string, unknown> {
    switch (type) {
        case "pulumi:pulumi:StackReference":
            return { ...inputs, outputs: options.previousOutputs ?? {}, secretOutputNames: [] };
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: pulumi.secret(`mock-password-${name}`) };
        case "tls:index/privateKey:PrivateKey":
            // A real key, generated here (no committed file holds one): the program signs with it.
            return { ...inputs, ...mockKeyPair(name) };
        default:
            return inputs;
    }
}

const mockKeys = new Map<string, { privateKeyPem: string; publicKeyPem: string }>();

/** One RSA key pair per resource name and process: two renders see the same key, as two `pulumi up` do. */
export function mockKeyPair(name: string): { privateKeyPem: string; publicKeyPem: string } {
    let pair = mockKeys.get(name);
    if (!pair) {
        const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
        pair = {
            privateKeyPem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
            publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
        };
        mockKeys.set(name, pair);
    }
    return pair;
}

let rendering = false;

/**
 * Runs the program for one stack under mocks. Throws the program's error (a ConfigError on bad
 * config) before any resource is registered. Renders run one after another in a process.
 */
export async function renderStack(stack: string, overrides: Record<string, unknown> = {}, options: RenderOptions = {}): Promise<Render> {
    const { config, secretKeys } = stackConfig(stack, overrides, options);
    pulumi.runtime.setAllConfig(config, secretKeys);
    // Bad config fails here, exactly as the program would, before any resource exists.
    readConfig();
    // The program module exports one function; it is re-run for each stack.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const program: () => Promise<Record<string, unknown>> = require(path.join(ROOT, "index.ts"));
    return renderProgram(stack, program, options);
}

/**
 * Runs any Pulumi program function (the whole stack, or one component in a test) under mocks,
 * inside a root Stack resource as the CLI's language host does, and collects what it registers.
 */
export async function renderProgram(stack: string, program: () => Promise<Record<string, unknown>> | Record<string, unknown>, renderOptions: RenderOptions = {}): Promise<Render> {
    if (rendering) throw new Error("renderProgram: one render at a time");
    rendering = true;
    try {
        const resources: RegisteredResource[] = [];
        const options = new Map<string, { protect: boolean; retainOnDelete: boolean }>();
        const registrations: { resource: pulumi.Resource; type: string; name: string; parent?: pulumi.Resource; protect: boolean; retainOnDelete: boolean; props: unknown }[] = [];
        const events: RegistrationEvent[] = [];
        await pulumi.runtime.setMocks({
            newResource: async (args) => {
                const opts = options.get(`${args.type}::${args.name}`) ?? { protect: false, retainOnDelete: false };
                resources.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider ?? "", ...opts });
                const meta = args.inputs.metadata as { name?: string } | undefined;
                const event = { type: args.type, name: args.name, ...(args.inputs.kind ? { object: `${String(args.inputs.kind)}/${meta?.name}` } : {}) };
                events.push({ phase: "requested", ...event });
                const wait = renderOptions.latency?.({ type: args.type, inputs: args.inputs }) ?? 0;
                if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
                events.push({ phase: "created", ...event });
                return { id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs, renderOptions) };
            },
            call: (args) => args.inputs,
        }, PROJECT, stack, false, MOCK_ORGANIZATION);
        let outputs: Record<string, unknown> = {};
        await pulumi.runtime.runInPulumiStack(async () => {
            // Pulumi's own hook sees each resource's options: how the render learns `protect`
            // (the SDK-side transformation: the mock monitor runs no engine-side transforms).
            pulumi.runtime.registerStackTransformation(({ resource, type, name, props, opts }) => {
                options.set(`${type}::${name}`, { protect: !!opts.protect, retainOnDelete: !!opts.retainOnDelete });
                registrations.push({ resource, type, name, parent: opts.parent, protect: !!opts.protect, retainOnDelete: !!opts.retainOnDelete, props });
                return undefined;
            });
            outputs = await program();
            return outputs;
        });
        const resolved: Render["outputs"] = {};
        for (const [key, out] of Object.entries(outputs)) {
            const o = pulumi.output(out);
            const [value, secret] = await Promise.all([promiseOf(o), (o as unknown as { isSecret: Promise<boolean> }).isSecret]);
            resolved[key] = { secret, value };
        }
        await (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.();

        const secretLeaks: string[] = [];
        const objects: K8sManifest[] = [];
        for (const r of resources) {
            if (!r.type.startsWith("kubernetes:")) continue;
            const manifest = unwrap(r.inputs, "", (where, v) => {
                const inSecretData = r.inputs.kind === "Secret" && /^(data|stringData)(\.|$)/.test(where);
                if (!inSecretData) secretLeaks.push(`${String(r.inputs.kind)}/${r.name}:${where}`);
                // A whole secret data map keeps its keys: the render shows what a Secret holds, never a value.
                return inSecretData && v && typeof v === "object" ? Object.fromEntries(Object.keys(v).map((k) => [k, REDACTED])) : REDACTED;
            }) as K8sManifest;
            if (manifest.kind === "Secret") {
                for (const field of ["data", "stringData"] as const) {
                    const data = manifest[field] as Record<string, unknown> | undefined;
                    if (data) manifest[field] = Object.fromEntries(Object.keys(data).map((k) => [k, REDACTED]));
                }
            }
            if (r.protect) {
                manifest.metadata.annotations = { ...manifest.metadata.annotations, [RENDER_PROTECTED_ANNOTATION]: "true" };
            }
            objects.push(orderKeys(manifest));
        }
        const identities = await resourceIdentities(stack, registrations);
        return { stack, objects, resources, outputs: resolved, secretLeaks, identities, events };
    } finally {
        rendering = false;
    }
}

/** URNs as the engine builds them: the parent's qualified type chain, without the root stack's type. */
async function resourceIdentities(
    stack: string,
    registrations: readonly { resource: pulumi.Resource; type: string; name: string; parent?: pulumi.Resource; protect: boolean; retainOnDelete: boolean; props: unknown }[],
): Promise<ResourceIdentity[]> {
    const byResource = new Map(registrations.map((r) => [r.resource, r]));
    const qualifiedType = (r: (typeof registrations)[number]): string => {
        const parent = r.parent && byResource.get(r.parent);
        return parent ? `${qualifiedType(parent)}$${r.type}` : r.type;
    };
    const urnOf = (r: (typeof registrations)[number]) => `urn:pulumi:${stack}::${PROJECT}::${qualifiedType(r)}::${r.name}`;
    return Promise.all(registrations.map(async (r): Promise<ResourceIdentity> => {
        const parent = r.parent && byResource.get(r.parent);
        return {
            urn: urnOf(r),
            type: r.type,
            name: r.name,
            ...(parent ? { parentUrn: urnOf(parent) } : {}),
            component: pulumi.ComponentResource.isInstance(r.resource),
            protect: r.protect,
            retainOnDelete: r.retainOnDelete,
        };
    }));
}

/** apiVersion, kind, metadata first, as kubectl prints them. */
function orderKeys(m: K8sManifest): K8sManifest {
    const { apiVersion, kind, metadata, ...rest } = m;
    return { apiVersion, kind, metadata, ...rest };
}

/** Resolves an Output's value (undefined while unknown), like pulumi/examples' promiseOf. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

/** The render as a multi-document YAML stream. YAML 1.1 quoting: kubectl and the API server read
 * YAML 1.1, where an unquoted `no`, `on` or `yes` (e.g. Redis's `--appendonly no`) is a boolean. */
export function toYaml(objects: readonly K8sManifest[]): string {
    return objects.map((o) => YAML.stringify(o, { lineWidth: 0, version: "1.1" })).join("---\n");
}

function parseArgs(argv: string[]): { stack: string; out: string; overlay: boolean } {
    let stack: string | undefined;
    let out = "rendered";
    let overlay = true;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--stack") stack = argv[++i];
        else if (a === "--out") out = argv[++i];
        else if (a === "--no-overlay") overlay = false;
        else throw new Error(`unknown argument ${a}; usage: npm run render -- --stack <${knownStacks().join("|")}> [--out <dir>] [--no-overlay]`);
    }
    if (!stack) throw new Error(`--stack is required; known stacks: ${knownStacks().join(", ")}`);
    return { stack, out, overlay };
}

async function main() {
    const { stack, out, overlay } = parseArgs(process.argv.slice(2));
    const overlayUsed = overlay ? overlayFile(stack) : undefined;
    const render = await renderStack(stack, {}, { overlay });
    if (render.secretLeaks.length > 0) {
        throw new Error(`secret values outside Secret objects: ${render.secretLeaks.join(", ")}`);
    }
    fs.mkdirSync(out, { recursive: true });
    const file = path.join(out, `${stack}.yaml`);
    const source = `Pulumi.${stack}.yaml` + (overlayUsed ? ` with the example values of ${path.relative(ROOT, overlayUsed)} over its placeholders` : "");
    fs.writeFileSync(file, `# Rendered offline from ${source} by scripts/render.ts; Secret values are ${REDACTED}.\n` + toYaml(render.objects));
    console.log(`${file}: ${render.objects.length} objects` + (overlayUsed ? ` (placeholders filled from ${path.relative(ROOT, overlayUsed)})` : ""));
}

if (require.main === module) {
    main().then(
        () => process.exit(0),
        (err: Error) => {
            console.error(err.message);
            process.exit(1);
        },
    );
}

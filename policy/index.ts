// The Asky checklist (CHECKLIST.md) as a Pulumi CrossGuard policy pack: one policy per checklist ID that
// can be judged on Kubernetes objects, running the checks of test/policy that the tests run on the render.
//   pulumi preview --policy-pack ./policy        (npm ci --prefix policy first)
// The rules, their levels and the translation of engine resources live in rules.ts.

import * as grpc from "@grpc/grpc-js";
import { PolicyPack, PolicyResource, ReportViolation, ResourceValidationPolicy, Secret, StackValidationPolicy } from "@pulumi/policy";
import * as policyProxy from "@pulumi/policy/proxy";
import { EngineResource, Judgement, PackSettings, RULES, UNKNOWN_SENTINELS, declaredStack, judge, packSettings, secretPathsOf } from "./rules";

// The unknown markers rules.ts recognises must be the ones this @pulumi/policy produces.
const sentinels = Object.entries(policyProxy).filter(([k]) => /^unknown[A-Z]\w*Value$/.test(k)).map(([, v]) => v);
if (sentinels.length !== UNKNOWN_SENTINELS.size || !sentinels.every((s) => UNKNOWN_SENTINELS.has(s as string)))
    throw new Error("asky-checklist: @pulumi/policy's unknown-value markers changed; update UNKNOWN_SENTINELS in policy/rules.ts");

/**
 * The stack's config reaches an analyzer only through the engine's ConfigureStack call, which @pulumi/policy
 * 1.21 answers without passing the config on: read it there (the pack's gRPC server is created by
 * PolicyPack below, after this hook is installed). Older CLIs started packs with PULUMI_CONFIG instead.
 */
let settings: PackSettings | undefined;
let settingsError: Error | undefined;
const addService = grpc.Server.prototype.addService;
grpc.Server.prototype.addService = function (this: grpc.Server, service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) {
    const configureStack = impl.configureStack as grpc.handleUnaryCall<any, any> | undefined;
    if (!configureStack) return addService.call(this, service, impl);
    return addService.call(this, service, {
        ...impl,
        configureStack(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
            const config: Record<string, string> = {};
            call.request.getConfigMap().forEach((v: string, k: string) => (config[k] = v));
            if (!configure(config, callback)) return;
            configureStack(call, callback);
        },
    });
};

/** Applies the stack config: the checks' context and every policy's enforcement level. False (and the error sent) when it is bad. */
function configure(config: Record<string, string>, callback?: grpc.sendUnaryData<any>): boolean {
    try {
        settings = packSettings(config);
        settingsError = undefined;
        for (const p of policies) p.enforcementLevel = settings.levels[p.name];
        return true;
    } catch (e) {
        settingsError = e as Error;
        callback?.({ code: grpc.status.INVALID_ARGUMENT, details: settingsError.message }, null);
        return false;
    }
}

function current(): PackSettings {
    if (settings) return settings;
    throw settingsError ?? new Error("asky-checklist: the engine sent no stack config (needs asky:environment and asky:namespace)");
}

/** Touching an unknown through @pulumi/policy's props proxy throws its UnknownValueError: reported as "can't run <ID> during preview" (advisory). */
function undecided(j: Judgement, props: (urn: string) => Record<string, unknown> | undefined): void {
    if (!j.undecided) return;
    let v: any = props(j.undecided.urn);
    for (const k of j.undecided.path) v = v?.[k];
    throw new Error(`asky-checklist: ${j.undecided.urn} ${j.undecided.path.join(".")} was read as unknown but is known`);
}

function report(j: Judgement, reportViolation: ReportViolation, defaultUrn?: string): void {
    for (const v of j.violations) reportViolation(v.message, v.urn ?? defaultUrn);
}

/**
 * Where the engine marked each resource's inputs secret, by URN. validateResource gets its props with every
 * secret unwrapped (no mark left); @pulumi/policy keeps the marks (as `Secret` values) only for remediations,
 * which the engine runs on every resource just before validating it. So a remediation that changes nothing
 * records them, and SEC-1 refuses a Pulumi secret outside a Secret whatever its key (policy/rules.ts).
 */
const secretMarks = new Map<string, string[][]>();
const secretMarksPolicy: ResourceValidationPolicy = {
    name: "secret-marks",
    description: "Records where the engine marked a resource's values secret, for SEC-1; never changes a resource.",
    enforcementLevel: "remediate",
    remediateResource: (args) => {
        secretMarks.set(args.urn, secretPathsOf(args.props, (v) => v instanceof Secret));
        return undefined;
    },
};

const asEngineResource = (r: Pick<PolicyResource, "type" | "urn" | "name" | "props" | "opts">): EngineResource => ({
    type: r.type, urn: r.urn, name: r.name, props: r.props, protect: r.opts?.protect, secretPaths: secretMarks.get(r.urn) ?? "unobserved",
});

/** Each resource's inputs, by URN, as the resource rules saw them in this run: what the stack rules judge (declaredStack). */
const declared = new Map<string, Record<string, unknown>>();

const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = RULES.map((rule) =>
    rule.scope === "resource"
        ? {
            name: rule.id,
            description: rule.description,
            enforcementLevel: "mandatory",
            validateResource: (args, reportViolation) => {
                declared.set(args.urn, args.props);
                const j = judge(rule.id, [asEngineResource(args)], current().ctx);
                undecided(j, () => args.props);
                report(j, reportViolation);
            },
        }
        : {
            name: rule.id,
            description: rule.description,
            enforcementLevel: "mandatory",
            validateStack: (args, reportViolation) => {
                const resources = declaredStack(args.resources.map(asEngineResource), declared);
                const j = judge(rule.id, resources, current().ctx);
                undecided(j, (urn) => resources.find((r) => r.urn === urn)?.props);
                report(j, reportViolation);
            },
        },
);

if (process.env.PULUMI_CONFIG) configure(JSON.parse(process.env.PULUMI_CONFIG));

new PolicyPack("asky-checklist", {
    description: "The Asky reliability and security checklist (CHECKLIST.md): pod hardening, wiring, availability, network, data and secrets",
    policies: [...policies, secretMarksPolicy],
});

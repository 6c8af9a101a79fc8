// The Asky checklist (CHECKLIST.md) as a Pulumi CrossGuard policy pack: one policy per checklist ID that
// can be judged on Kubernetes objects, running the checks of checklist/ that the tests run on the render.
//   pulumi preview --policy-pack ./policy --policy-pack-config ./policy/dev.json   (npm ci --prefix policy first)
// Levels and the stack's environment and namespace come from Pulumi's policy config, one file per
// environment (policy/dev.json, policy/prod.json): --policy-pack-config policy/<environment>.json.
// The rules, their config schema and the translation of engine resources live in rules.ts.

import * as fs from "fs";
import * as path from "path";
import { PolicyPack, PolicyResource, ReportViolation, ResourceValidationPolicy, Secret, StackValidationPolicy } from "@pulumi/policy";
import * as policyProxy from "@pulumi/policy/proxy";
import { CONTEXT_SCHEMA, ENVIRONMENTS, EngineResource, Judgement, RULES, UNKNOWN_SENTINELS, declaredStack, judge, policyConfigProblems, policyContext, secretPathsOf } from "./rules";

// The unknown markers rules.ts recognises must be the ones this @pulumi/policy produces.
const sentinels = Object.entries(policyProxy).filter(([k]) => /^unknown[A-Z]\w*Value$/.test(k)).map(([, v]) => v);
if (sentinels.length !== UNKNOWN_SENTINELS.size || !sentinels.every((s) => UNKNOWN_SENTINELS.has(s as string)))
    throw new Error("asky-checklist: @pulumi/policy's unknown-value markers changed; update UNKNOWN_SENTINELS in policy/rules.ts");

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
            configSchema: CONTEXT_SCHEMA,
            validateResource: (args, reportViolation) => {
                declared.set(args.urn, args.props);
                const j = judge(rule.id, [asEngineResource(args)], policyContext(rule.id, args.getConfig()));
                undecided(j, () => args.props);
                report(j, reportViolation);
            },
        }
        : {
            name: rule.id,
            description: rule.description,
            configSchema: CONTEXT_SCHEMA,
            validateStack: (args, reportViolation) => {
                const resources = declaredStack(args.resources.map(asEngineResource), declared);
                const j = judge(rule.id, resources, policyContext(rule.id, args.getConfig()));
                undecided(j, (urn) => resources.find((r) => r.urn === urn)?.props);
                report(j, reportViolation);
            },
        },
);

/**
 * A policy cannot see the level it was given (@pulumi/policy's getConfig() leaves enforcementLevel out, and a
 * disabled policy never runs), so the pack cannot refuse a lowered level at run time. The levels are decided in
 * the config files beside this one: the pack refuses to start while either of them is wrong, or while prod's
 * lowers a rule below the checklist's level (policyConfigProblems, resolveLevels). A file passed from elsewhere
 * with --policy-pack-config is not seen; the README says what guards that.
 */
const configProblems = ENVIRONMENTS.flatMap((env) =>
    policyConfigProblems(env, JSON.parse(fs.readFileSync(path.join(__dirname, `${env}.json`), "utf8")), `policy/${env}.json`));
if (configProblems.length) throw new Error(`asky-checklist: the pack's own level files are wrong:\n  ${configProblems.join("\n  ")}`);

new PolicyPack("asky-checklist", {
    description: "The Asky reliability and security checklist (CHECKLIST.md): pod hardening, wiring, availability, network, data and secrets",
    // The checklist's "must"; policy/<environment>.json sets each rule's level for its environment.
    enforcementLevel: "mandatory",
    policies: [...policies, secretMarksPolicy],
});

// The policy pack's logic (policy/rules.ts) without the engine: its rules are the checklist's checks,
// engine resources become the render's objects, values unknown during a preview neither pass nor fail,
// and the policy config files (policy/<environment>.json) set levels and context. test/e2e/3-policy.e2e.ts runs
// the pack under the real CLI.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import {
    CONTEXT_SCHEMA, ENVIRONMENTS, EngineResource, PACK_JUDGEABLE, RULES, declaredStack, judge, kubernetesKind, policyConfigProblems, policyContext, renderedObject,
    resolveLevels, secretPathsOf,
} from "../policy/rules";
import { isSecretEnvelope } from "./support/render";
import { CHECK_IDS, K8sObject, PolicyContext } from "../checklist";
import { PROTECTED_ANNOTATION } from "../checklist/data";
import { NAMESPACE, goodObjects } from "./fixtures/policy-good";
import { renderedStack } from "./support/render";

const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff";
const PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

/** The engine's view of a rendered object: its type token, inputs, and `protect` as a resource option (not an annotation). */
function asEngine(o: K8sObject, i: number): EngineResource {
    const props = JSON.parse(JSON.stringify(o));
    const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["core", o.apiVersion];
    const protect = props.metadata.annotations?.[PROTECTED_ANNOTATION] === "true";
    if (protect) {
        delete props.metadata.annotations[PROTECTED_ANNOTATION];
        if (Object.keys(props.metadata.annotations).length === 0) delete props.metadata.annotations;
    }
    // The engine holds the real values the render redacts.
    if (o.kind === "Secret") for (const f of ["data", "stringData"]) for (const k of Object.keys(props[f] ?? {})) props[f][k] = f === "data" ? Buffer.from(PEM).toString("base64") : PEM;
    return { type: `kubernetes:${group}/${version}:${o.kind}`, urn: `urn:pulumi:test::asky::kubernetes:${group}/${version}:${o.kind}::r${i}`, name: `r${i}`, props, protect };
}

/** Every rule as the pack runs it: resource rules on each resource alone, stack rules on all. */
function runPack(resources: EngineResource[], ctx: PolicyContext) {
    return RULES.flatMap((rule) => {
        const sets = rule.scope === "resource" ? resources.map((r) => [r]) : [resources];
        return sets.map((s) => ({ id: rule.id, ...judge(rule.id, s, ctx) }));
    });
}

const verdicts = (results: ReturnType<typeof runPack>) => results.flatMap((r) => r.violations.map((v) => `${r.id} ${v.message}`));

function deployment(name: string, patch: (spec: any, meta: any) => void = () => {}): EngineResource {
    const base = goodObjects("dev").find((o) => o.kind === "Deployment" && o.metadata.name === "pyxis")!;
    const props = JSON.parse(JSON.stringify(base));
    props.metadata.name = name;
    patch(props.spec.template.spec, props.spec.template.metadata);
    return { type: "kubernetes:apps/v1:Deployment", urn: `urn:pulumi:test::p::kubernetes:apps/v1:Deployment::${name}`, name, props };
}

describe("policy pack rules (policy/rules.ts)", () => {
    it("has one policy per checklist check, named by its ID, in checklist order, each with a description and both levels", () => {
        assert.deepEqual(RULES.map((r) => r.id), [...CHECK_IDS, PACK_JUDGEABLE], "the checklist's checks, then the pack's own rule");
        for (const r of RULES) {
            assert.ok(r.description.length > 40, `${r.id} describes what to do`);
            assert.ok(["mandatory", "advisory"].includes(r.levels.dev) && ["mandatory", "advisory"].includes(r.levels.prod), r.id);
        }
        // The checklist's only "should": dev may use a moving tag (POD-11).
        assert.deepEqual(RULES.filter((r) => r.levels.dev !== "mandatory" || r.levels.prod !== "mandatory").map((r) => r.id), ["POD-11"]);
    });

    for (const stack of ["dev", "prod"] as const) {
        it(`reports nothing on the ${stack} render as the engine holds it (Secret values real, protect an option), and decides every rule`, async () => {
            const { objects } = await renderedStack(stack);
            const results = runPack(objects.map((o, i) => asEngine(o as K8sObject, i)), { stack, namespace: "asky" });
            assert.deepEqual(verdicts(results), []);
            assert.deepEqual(results.filter((r) => r.undecided), []);
        });
    }

    it("resource rules see on one resource what the check sees on all: a bad miniature gives the same violations either way", () => {
        const bad = JSON.parse(JSON.stringify(goodObjects("prod"))) as any[];
        const pyxis = bad.find((o) => o.kind === "Deployment" && o.metadata.name === "pyxis");
        pyxis.spec.template.spec.containers[0].securityContext.privileged = true;
        pyxis.spec.template.spec.containers[0].image = "pyxis:latest";
        delete pyxis.spec.template.metadata.annotations;
        bad.find((o) => o.kind === "ConfigMap").data.DB_PASSWORD = "hunter2";
        bad.find((o) => o.kind === "Service" && o.metadata.name !== "gateway").spec.type = "NodePort";
        bad.find((o) => o.kind === "Service").metadata.namespace = "elsewhere";
        const ctx = { stack: "prod" as const, namespace: NAMESPACE };
        const resources = bad.map(asEngine);
        for (const rule of RULES.filter((r) => r.scope === "resource")) {
            const alone = resources.flatMap((r) => judge(rule.id, [r], ctx).violations.map((v) => v.message)).sort();
            const together = judge(rule.id, resources, ctx).violations.map((v) => v.message).sort();
            assert.deepEqual(alone, together, rule.id);
        }
        const found = new Set(verdicts(runPack(resources, ctx)).map((v) => v.split(" ")[0]));
        for (const id of ["POD-6", "POD-11", "WIRE-6", "SEC-1", "NET-3", "WIRE-4"]) assert.ok(found.has(id), `${id} among ${[...found]}`);
    });

    describe("fail closed (issue 22 item 3): what the pack cannot judge is a violation, and a Pulumi secret outside a Secret is SEC-1 whatever its key", () => {
        const ctx = { stack: "prod" as const, namespace: NAMESPACE };
        const resource = (type: string, props: Record<string, unknown>, secretPaths?: EngineResource["secretPaths"]): EngineResource =>
            ({ type, urn: `urn:pulumi:test::p::${type}::x`, name: "x", props, ...(secretPaths ? { secretPaths } : {}) });

        it("PACK-1 refuses patches, lists, Helm Releases and kinds no check knows; components, the program's CRDs and non-Kubernetes resources pass", () => {
            const privileged = { metadata: { name: "api", namespace: NAMESPACE }, spec: { template: { spec: { hostNetwork: true, containers: [{ name: "c", image: "busybox:latest", securityContext: { privileged: true } }] } } } };
            const refused: [string, Record<string, unknown>, RegExp][] = [
                ["kubernetes:apps/v1:DeploymentPatch", privileged, /DeploymentPatch changes a live object the pack cannot see/],
                ["kubernetes:core/v1:NamespacePatch", { metadata: { name: NAMESPACE, labels: { "pod-security.kubernetes.io/enforce": "privileged" } } }, /NamespacePatch/],
                ["kubernetes:helm.sh/v3:Release", { chart: "nginx" }, /Helm Release installs its chart's objects itself/],
                ["kubernetes:core/v1:ConfigMapList", { items: [] }, /ConfigMapList holds objects/],
                ["kubernetes:argoproj.io/v1alpha1:Rollout", privileged, /kind Rollout is not one the checklist judges/],
                ["kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", { subjects: [] }, /kind ClusterRoleBinding/],
            ];
            for (const [type, props, why] of refused) {
                const v = judge(PACK_JUDGEABLE, [resource(type, props)], ctx).violations;
                assert.equal(v.length, 1, type);
                assert.match(v[0].message, why, type);
                // Before: every checklist rule skipped it, so it passed everything.
                assert.deepEqual(RULES.filter((r) => r.scope === "resource" && r.id !== PACK_JUDGEABLE).flatMap((r) => judge(r.id, [resource(type, props)], ctx).violations), [], `${type} is still invisible to the checks: PACK-1 is what refuses it`);
            }
            for (const type of ["kubernetes:yaml/v2:ConfigGroup", "kubernetes:helm.sh/v4:Chart", "kubernetes:cert-manager.io/v1:Certificate", "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
                "kubernetes:apps/v1:Deployment", "random:index/randomPassword:RandomPassword", "pulumi:providers:kubernetes", "asky:index:Gateway"]) {
                assert.deepEqual(judge(PACK_JUDGEABLE, [resource(type, {})], ctx).violations, [], type);
            }
        });

        it("SEC-1 refuses a Pulumi secret outside a Secret's data whatever its key (DB_PASS, REDIS_AUTH, pass=…, an annotation), and a resource whose marks it could not see", () => {
            const cm = resource("kubernetes:core/v1:ConfigMap", { metadata: { name: "app", namespace: NAMESPACE }, data: { DB_PASS: "aB3xY9kLmN0pQ2rS5tU7vW1zC4dE6fG8", "app.env": "pass=aB3xY9kLmN0pQ2rS5tU7vW1zC4dE6fG8" } }, [["data", "DB_PASS"], ["data", "app.env"]]);
            assert.deepEqual(judge("SEC-1", [{ ...cm, secretPaths: undefined }], ctx).violations, [], "before: no pattern or name gives a random 32-character value away");
            assert.deepEqual(judge("SEC-1", [cm], ctx).violations.map((v) => v.message), [
                "ConfigMap/x: data.DB_PASS is a Pulumi secret outside a Secret's data; put it in a Secret and reference it (secretKeyRef or a mounted file)",
                "ConfigMap/x: data.app.env is a Pulumi secret outside a Secret's data; put it in a Secret and reference it (secretKeyRef or a mounted file)",
            ]);
            const deployment = resource("kubernetes:apps/v1:Deployment", { metadata: { name: "api", annotations: { note: "x" } } }, [["metadata", "annotations", "note"], ["spec", "template", "spec", "containers", "0", "env", "0", "value"]]);
            assert.equal(judge("SEC-1", [deployment], ctx).violations.length, 2);
            const secret = resource("kubernetes:core/v1:Secret", { metadata: { name: "s" }, stringData: { REDIS_AUTH: "v" } }, [["stringData", "REDIS_AUTH"]]);
            assert.deepEqual(judge("SEC-1", [secret], ctx).violations, [], "a secret in a Secret is where it belongs");
            assert.match(judge("SEC-1", [resource("kubernetes:core/v1:ConfigMap", { metadata: { name: "c" } }, "unobserved")], ctx).violations[0].message, /could not see which of its values are Pulumi secrets/);
        });

        it("the program itself puts no Pulumi secret outside a Secret's data: what SEC-1 sees at pulumi up, on both stacks", async () => {
            for (const stack of ["dev", "prod"] as const) {
                const { resources } = await renderedStack(stack);
                const marked = resources.filter((r) => r.type.startsWith("kubernetes:")).flatMap((r) => secretPathsOf(r.inputs, isSecretEnvelope));
                assert.ok(marked.length >= 10, `the marks are seen (${marked.length}): the Secrets' generated values`);
                const outside = resources.filter((r) => r.type.startsWith("kubernetes:")).flatMap((r) =>
                    secretPathsOf(r.inputs, isSecretEnvelope)
                        .filter((p) => !(r.inputs.kind === "Secret" && ["data", "stringData"].includes(p[0])))
                        .map((p) => `${r.inputs.kind}/${(r.inputs.metadata as any)?.name}: ${p.join(".")}`));
                assert.deepEqual(outside, [], stack);
            }
        });

        it("guard of the mechanism: @pulumi/policy hands a remediation the engine's secret marks as Secret values, which secretPathsOf finds through its proxies", () => {
            const policyModules = path.join(__dirname, "..", "policy", "node_modules");
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const { deserializeProperties } = require(path.join(policyModules, "@pulumi/policy/deserialize"));
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const { unknownCheckingProxy } = require(path.join(policyModules, "@pulumi/policy/proxy"));
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const { Secret } = require(path.join(policyModules, "@pulumi/policy"));
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const { Struct } = require(path.join(policyModules, "google-protobuf/google/protobuf/struct_pb"));
            const sig = "4dabf18193072939515e22adb298388d";
            const wire = Struct.fromJavaScript({ metadata: { name: "c" }, data: { DB_PASS: { [sig]: "1b47061264138c4ac30d75fd1eb44270", value: "s3cr3t" }, plain: "x" } });
            // What the server's Remediate gives a remediation (deserializeProperties(…, true) in an unknownCheckingProxy) ...
            const props = unknownCheckingProxy(deserializeProperties(wire, true));
            assert.deepEqual(secretPathsOf(props, (v) => v instanceof Secret), [["data", "DB_PASS"]]);
            // ... and what it gives validateResource: the marks are gone, which is why the pack needs the remediation.
            assert.deepEqual(secretPathsOf(unknownCheckingProxy(deserializeProperties(wire, false)), (v) => v instanceof Secret), []);
        });
    });

    describe("engine resources as rendered objects", () => {
        it("takes apiVersion and kind from the type token and skips what is not a Kubernetes object", () => {
            assert.deepEqual(kubernetesKind("kubernetes:core/v1:ConfigMap"), { apiVersion: "v1", kind: "ConfigMap" });
            assert.deepEqual(kubernetesKind("kubernetes:apps/v1:StatefulSet"), { apiVersion: "apps/v1", kind: "StatefulSet" });
            assert.deepEqual(kubernetesKind("kubernetes:cert-manager.io/v1:Certificate"), { apiVersion: "cert-manager.io/v1", kind: "Certificate" });
            for (const t of ["random:index/randomPassword:RandomPassword", "pulumi:providers:kubernetes", "asky:index:Gateway", "kubernetes:yaml/v2:ConfigGroup", "kubernetes:core/v1:ConfigMapPatch", "kubernetes:core/v1:PodList"])
                assert.equal(kubernetesKind(t), undefined, t);
            const cm = renderedObject({ type: "kubernetes:core/v1:ConfigMap", urn: "u", name: "n", props: { data: { a: "b" } } })!;
            assert.equal(cm.apiVersion, "v1");
            assert.equal(cm.kind, "ConfigMap");
        });

        it("redacts Secret values as the render does (a key in a Secret is not SEC-1) but judges the same value in a ConfigMap", () => {
            const ctx = { stack: "dev" as const, namespace: "asky" };
            const meta = { name: "k", namespace: "asky" };
            const secret = { type: "kubernetes:core/v1:Secret", urn: "urn:s", name: "s", props: { metadata: meta, stringData: { "tls.key": PEM } } };
            const configMap = { type: "kubernetes:core/v1:ConfigMap", urn: "urn:c", name: "c", props: { metadata: meta, data: { "tls.key": PEM } } };
            assert.deepEqual(judge("SEC-1", [secret], ctx).violations, []);
            assert.deepEqual(judge("SEC-1", [configMap], ctx).violations.map((v) => v.message), ['ConfigMap/k: key "tls.key" contains a PEM private key; it belongs in a Secret']);
        });

        it("gives DATA-1 the protect option: a prod database that is not protected is reported, a protected one is not", async () => {
            const { objects } = await renderedStack("prod");
            const ctx = { stack: "prod" as const, namespace: "asky" };
            const resources = objects.map((o, i) => asEngine(o as K8sObject, i));
            assert.deepEqual(judge("DATA-1", resources, ctx).violations, []);
            const unprotected = resources.map((r) => ({ ...r, protect: false }));
            const messages = judge("DATA-1", unprotected, ctx).violations;
            assert.ok(messages.some((v) => v.message.startsWith("StatefulSet/postgres: is not protected")), JSON.stringify(messages));
            assert.ok(messages.every((v) => v.urn?.startsWith("urn:pulumi:test::")), "each violation names its resource's URN");
        });
    });

    it("stack rules judge what the program declares, not what the cluster filled in on a deployed stack", async () => {
        const { objects } = await renderedStack("prod");
        const ctx = { stack: "prod" as const, namespace: "asky" };
        const declared = objects.map((o, i) => asEngine(o as K8sObject, i));
        // The live objects a deployed prod stack's state holds: an HPA set the replica count, the provisioner bound the claim.
        const live = declared.map((r) => {
            const props = JSON.parse(JSON.stringify(r.props));
            if (props.kind === "Deployment") props.spec.replicas = props.spec.replicas ?? 2;
            if (props.kind === "PersistentVolumeClaim") props.spec.volumeName = `pvc-${r.name}`;
            return { ...r, props };
        });
        const onLive = ["HA-1", "HA-5"].flatMap((id) => judge(id, live, ctx).violations.map((v) => v.message));
        assert.ok(onLive.some((m) => /sets spec\.replicas although an HPA manages it/.test(m)) && onLive.some((m) => /binds PersistentVolume "pvc-/.test(m)), onLive.join("\n"));
        const inputs = new Map(declared.map((r) => [r.urn, r.props]));
        for (const id of ["HA-1", "HA-5"]) assert.deepEqual(judge(id, declaredStack(live, inputs), ctx).violations, [], id);
        // A resource the run did not register (being deleted) is judged on what the engine holds.
        assert.equal(declaredStack(live, new Map())[0].props, live[0].props);
    });

    describe("values unknown during a preview", () => {
        const ctx = { stack: "dev" as const, namespace: "asky" };

        it("a check that reads an unknown is undecided (neither pass nor fail), with where; one that does not is decided", () => {
            const d = deployment("pyxis", (spec, meta) => {
                meta.annotations["checksum/secrets"] = UNKNOWN_STRING;
                spec.containers[0].securityContext.privileged = true;
            });
            const wire6 = judge("WIRE-6", [d], ctx);
            assert.deepEqual(wire6.undecided, { urn: d.urn, path: ["spec", "template", "metadata", "annotations", "checksum/secrets"] });
            const pod6 = judge("POD-6", [d], ctx);
            assert.equal(pod6.undecided, undefined);
            assert.deepEqual(pod6.violations.map((v) => v.message), ['Deployment/pyxis: container "pyxis": privileged must not be true']);
            const known = judge("WIRE-6", [deployment("pyxis")], ctx);
            assert.deepEqual(known, { violations: [] });
        });

        it("an unknown ConfigMap value is not a pass for SEC-1, an unknown namespace not a WIRE-4 violation", () => {
            const cm = { type: "kubernetes:core/v1:ConfigMap", urn: "urn:c", name: "c", props: { metadata: { name: "c", namespace: UNKNOWN_STRING }, data: { "app.conf": UNKNOWN_STRING } } };
            assert.deepEqual(judge("SEC-1", [cm], ctx).undecided, { urn: "urn:c", path: ["data", "app.conf"] });
            const wire4 = judge("WIRE-4", [cm], ctx);
            assert.deepEqual(wire4.undecided, { urn: "urn:c", path: ["metadata", "namespace"] });
            assert.equal(judge("POD-1", [cm], ctx).undecided, undefined, "a rule that reads nothing unknown is decided");
        });

        it("a Secret whose content is unknown decides nothing for SEC-1, but leaves the keys a pod reads (WIRE-3) undecided", () => {
            const secret = { type: "kubernetes:core/v1:Secret", urn: "urn:s", name: "s", props: { metadata: { name: "pyxis-db", namespace: NAMESPACE }, stringData: UNKNOWN_OBJECT } };
            assert.deepEqual(judge("SEC-1", [secret], ctx), { violations: [] });
            const objects = goodObjects("dev").map(asEngine).map((r) => (r.props as any).kind === "Secret" && (r.props as any).metadata.name === "pyxis-db" ? { ...r, props: { ...r.props, data: UNKNOWN_OBJECT } } : r);
            const wire3 = judge("WIRE-3", objects, ctx);
            assert.deepEqual(wire3.undecided?.path, ["data"]);
        });
    });

    describe("policy config: one file per environment (--policy-pack-config policy/<environment>.json)", () => {
        const ROOT = path.join(__dirname, "..");
        const file = (env: string): Record<string, Record<string, unknown>> => JSON.parse(fs.readFileSync(path.join(ROOT, "policy", `${env}.json`), "utf8"));
        for (const env of ENVIRONMENTS) {
            it(`policy/${env}.json configures every rule with the ${env} stack's environment and namespace, at the checklist's level`, () => {
                const config = file(env);
                const stack = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${env}.yaml`), "utf8")).config;
                assert.deepEqual(Object.keys(config), RULES.map((r) => r.id), "every rule once, in checklist order, nothing else");
                for (const [id, c] of Object.entries(config)) {
                    assert.deepEqual(policyContext(id, c), { stack: stack["asky:environment"], namespace: stack["asky:namespace"] }, id);
                    assert.deepEqual(Object.keys(c).sort(), ["enforcementLevel", ...CONTEXT_SCHEMA.required].sort(), `${id}: only Pulumi's level and the schema's keys`);
                }
                // The checklist's "must" everywhere, PACK-1 included, but its one "should": dev may follow a moving tag (POD-11).
                assert.deepEqual(Object.fromEntries(Object.entries(config).map(([id, c]) => [id, c.enforcementLevel])), Object.fromEntries(RULES.map((r) => [r.id, r.levels[env]])));
                const notMandatory = Object.entries(config).filter(([, c]) => c.enforcementLevel !== "mandatory").map(([id, c]) => `${id}=${c.enforcementLevel}`);
                assert.deepEqual(notMandatory, env === "dev" ? ["POD-11=advisory"] : []);
                assert.equal(config[PACK_JUDGEABLE].enforcementLevel, "mandatory", "the pack fails closed in every environment");
                // What the pack itself checks before it starts (policy/index.ts).
                assert.deepEqual(policyConfigProblems(env, config, `policy/${env}.json`), []);
            });
        }
        it("the schema requires both keys and allows only the environments the program knows", () => {
            assert.deepEqual(CONTEXT_SCHEMA.required, ["environment", "namespace"]);
            assert.deepEqual(CONTEXT_SCHEMA.properties.environment.enum, ["dev", "prod"]);
        });
        it("a policy given no context, or a bad one, fails naming the policy, the key and the file to pass", () => {
            assert.throws(() => policyContext("POD-1", {}), /asky-checklist: POD-1\.environment = undefined; allowed: dev, prod \(run with --policy-pack-config policy\/<environment>\.json\)/);
            assert.throws(() => policyContext("HA-1", { environment: "staging", namespace: "asky" }), /HA-1\.environment = "staging"; allowed: dev, prod/);
            assert.throws(() => policyContext("WIRE-4", { environment: "prod", namespace: "" }), /WIRE-4\.namespace = ""; the stack's namespace is required/);
        });
        it("policy/prod.json can never lower a prod rule below the checklist's level: each lowering is a problem naming the file, the rule, the value and what is allowed (issue 22 finding 2)", () => {
            for (const [id, level] of [["POD-6", "disabled"], ["SEC-1", "advisory"], ["NET-1", "disabled"], ["POD-11", "advisory"], [PACK_JUDGEABLE, "disabled"], [PACK_JUDGEABLE, "advisory"]]) {
                const config = file("prod");
                config[id].enforcementLevel = level;
                assert.deepEqual(policyConfigProblems("prod", config, "policy/prod.json"), [
                    `policy/prod.json.${id}: "${level}" would lower a prod rule below its checklist level (mandatory); prod may only raise levels (allowed: mandatory). Fix what the rule reports instead`,
                ], `${id} ${level}`);
            }
            // dev may move its own rules either way (a rule being built, a moving tag followed), and prod may raise one.
            const dev = file("dev");
            dev["POD-6"].enforcementLevel = "advisory";
            dev["POD-11"].enforcementLevel = "mandatory";
            assert.deepEqual(policyConfigProblems("dev", dev, "policy/dev.json"), []);
            assert.deepEqual(resolveLevels("dev", { "POD-6": "disabled" }, "x").levels["POD-6"], "disabled");
            assert.deepEqual(resolveLevels("prod", { "POD-6": "mandatory" }, "x"), { levels: Object.fromEntries(RULES.map((r) => [r.id, r.levels.prod])), errors: [] });
        });
        it("a bad config file is refused in one list naming each place: an unknown rule, a level Pulumi lacks, a missing line, the other environment, an `all` key, a stray key", () => {
            const config: Record<string, any> = file("prod");
            config["POD-01"] = { enforcementLevel: "mandatory", environment: "prod", namespace: "asky" };
            config["POD-1"].enforcementLevel = "warn";
            delete config["WIRE-5"];
            config["HA-1"].environment = "dev";
            config["NET-2"].owner = "platform";
            config.all = "advisory";
            assert.deepEqual(policyConfigProblems("prod", config, "policy/prod.json").sort(), [
                "policy/prod.json.HA-1.environment: \"dev\"; this is the prod file",
                "policy/prod.json.NET-2: unknown key owner; allowed: enforcementLevel, environment, namespace",
                "policy/prod.json.POD-01: not a rule of this pack; allowed: " + RULES.map((r) => r.id).join(", "),
                "policy/prod.json.POD-1: \"warn\" is not an enforcement level; allowed: advisory, mandatory, disabled",
                "policy/prod.json.WIRE-5: missing; every rule has a line (its level, environment and namespace)",
                "policy/prod.json.all: sets every policy's level at once (secret-marks' too, which SEC-1 needs at remediate); give each rule its own line",
            ]);
        });
    });
});

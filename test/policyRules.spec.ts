// policy/rules.ts at its edges: when each rule runs, which kinds the pack judges, how a bad policy config
// line is named, and how engine resources become the objects the checks read. The mutation run over
// policy/rules.ts (npm run test:mutation -- policy) showed which of them no spec asserted.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { EngineResource, PACK_JUDGEABLE, RULES, declaredStack, judge, kubernetesKind, policyConfigProblems, policyContext, renderedObject, secretPathsOf, unjudgeable } from "../policy/rules";
import { REDACTION_MARKER } from "../checklist/secrets";
import { PROTECTED_ANNOTATION } from "../checklist/data";
import { goodObjects } from "./fixtures/policy-good";

const ctx = { stack: "dev" as const, namespace: "asky" };
const policyFile = (env: "dev" | "prod") => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "policy", `${env}.json`), "utf8")) as Record<string, unknown>;

describe("policy pack rules at their edges (policy/rules.ts)", () => {
    it("resource rules judge each object before it is created; the stack rules, which compare objects, judge the whole stack", () => {
        // A resource rule stops the one bad object before it exists; a stack rule needs every object (selectors, flows, budgets).
        assert.deepEqual(RULES.filter((r) => r.scope === "resource").map((r) => r.id), [
            "POD-1", "POD-2", "POD-3", "POD-4", "POD-5", "POD-6", "POD-7", "POD-9", "POD-10", "POD-11", "POD-12",
            "WIRE-4", "WIRE-6", "NET-3", "SEC-1", "SEC-4", "GW-7", "GW-8", PACK_JUDGEABLE,
        ]);
        assert.deepEqual(RULES.filter((r) => r.scope === "stack").map((r) => r.id), [
            "POD-8", "POD-13", "WIRE-1", "WIRE-2", "WIRE-3", "WIRE-5", "HA-1", "HA-2", "HA-3", "HA-4", "HA-5", "NET-1", "NET-2", "DATA-1", "DATA-2",
        ]);
    });

    it("PACK-1 judges every kind the checks know, pods, routes and quotas included", () => {
        for (const type of [
            "kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:ReplicaSet", "kubernetes:core/v1:Pod", "kubernetes:networking.k8s.io/v1:Ingress",
            "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "kubernetes:gateway.networking.k8s.io/v1:GRPCRoute",
            "kubernetes:gateway.networking.k8s.io/v1alpha2:TCPRoute", "kubernetes:gateway.networking.k8s.io/v1alpha2:TLSRoute",
            "kubernetes:gateway.networking.k8s.io/v1alpha2:UDPRoute", "kubernetes:core/v1:LimitRange", "kubernetes:core/v1:ResourceQuota",
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "kubernetes:helm.sh/v4:Chart", "kubernetes:yaml/v2:ConfigGroup",
        ]) assert.equal(unjudgeable(type), undefined, type);
    });

    it("PACK-1 refuses a type token it cannot read, a Release of any Helm version, and names the kind and resource", () => {
        assert.match(unjudgeable("kubernetes:apps")!, /^kubernetes:apps is not a Kubernetes object type the pack knows$/);
        assert.match(unjudgeable("kubernetes:apps/v1:Deployment:extra")!, /is not a Kubernetes object type the pack knows/);
        assert.equal(kubernetesKind("kubernetes:apps/v1:Deployment:extra"), undefined);
        assert.match(unjudgeable("kubernetes:helm.sh/v10:Release")!, /^a Helm Release installs its chart's objects itself/);
        assert.match(unjudgeable("kubernetes:helm.sh/v3:ChartValues")!, /kind ChartValues is not one the checklist judges/);
        const patch: EngineResource = { type: "kubernetes:apps/v1:DeploymentPatch", urn: "urn:p", name: "gw", props: {} };
        assert.deepEqual(judge(PACK_JUDGEABLE, [patch], ctx).violations, [
            { urn: "urn:p", message: "DeploymentPatch/gw: cannot be judged: a DeploymentPatch changes a live object the pack cannot see, so the result cannot be judged: change the object in the program that owns it" },
        ]);
    });

    it("a rule the checklist has no check for is an error, not a pass", () => {
        assert.throws(() => judge("POD-99", [], ctx), /^Error: asky-checklist: no check for rule POD-99$/);
    });

    it("a violation carries the URN of the resource it is about, the first one of a Kind/name", () => {
        const bad = goodObjects("dev").find((o) => o.kind === "Deployment")!;
        const props = JSON.parse(JSON.stringify(bad));
        props.spec.template.spec.hostNetwork = true;
        const r = (urn: string): EngineResource => ({ type: "kubernetes:apps/v1:Deployment", urn, name: props.metadata.name, props });
        const found = judge("POD-6", [r("urn:first"), r("urn:second")], ctx).violations;
        assert.ok(found.length > 0);
        for (const v of found) assert.equal(v.urn, "urn:first");
    });

    it("a Pulumi secret outside a Secret is SEC-1's alone: other rules do not report the marks", () => {
        const cm: EngineResource = { type: "kubernetes:core/v1:ConfigMap", urn: "urn:c", name: "c", props: { metadata: { name: "c", namespace: "asky" }, data: { x: "y" } }, secretPaths: [["data", "x"]] };
        assert.equal(judge("SEC-1", [cm], ctx).violations.length, 1);
        assert.deepEqual(judge("WIRE-4", [cm], ctx).violations, []);
    });

    describe("a policy config line", () => {
        const withLine = (line: unknown, id = "POD-1") => policyConfigProblems("dev", { ...policyFile("dev"), [id]: line }, "policy/dev.json");

        it("that is not an object names the line and what a line holds", () => {
            for (const line of ["mandatory", null, ["mandatory"]]) {
                assert.deepEqual(withLine(line), [`policy/dev.json.POD-1: ${JSON.stringify(line)}; allowed: { "enforcementLevel": …, "environment": "dev", "namespace": … }`]);
            }
        });

        it("without its level, or with a context the checks cannot use, names the key", () => {
            assert.deepEqual(withLine({ environment: "dev", namespace: "asky" }), ["policy/dev.json.POD-1.enforcementLevel: missing; each rule states its level"]);
            assert.deepEqual(withLine({ enforcementLevel: "mandatory", environment: "staging", namespace: "asky" }),
                ['policy/dev.json.POD-1: POD-1.environment = "staging"; allowed: dev, prod (run with --policy-pack-config policy/<environment>.json)']);
            assert.deepEqual(withLine({ enforcementLevel: "mandatory", environment: "dev", namespace: "asky", level: 1, note: "x" }),
                ["policy/dev.json.POD-1: unknown key level, note; allowed: enforcementLevel, environment, namespace"]);
        });

        it("for a rule the pack does not have is named once, as such", () => {
            const found = withLine({ enforcementLevel: "mandatory", environment: "dev", namespace: "asky", extra: 1 }, "POD-99");
            assert.equal(found.length, 1, found.join("\n"));
            assert.match(found[0], /^policy\/dev\.json\.POD-99: not a rule of this pack; allowed: POD-1, POD-2, /);
        });

        it("a namespace that is not a text is refused like a missing one", () => {
            assert.throws(() => policyContext("POD-1", { environment: "dev", namespace: 5 }), /POD-1\.namespace = 5; the stack's namespace is required/);
        });
    });

    describe("engine resources as the checks read them", () => {
        it("a Secret's data and stringData values are redacted, its keys kept; a null value stays null", () => {
            const secret: EngineResource = { type: "kubernetes:core/v1:Secret", urn: "urn:s", name: "s", props: { metadata: { name: "s", labels: null }, data: { a: "c2VjcmV0" }, stringData: { b: "secret" } } };
            assert.deepEqual(renderedObject(secret), {
                apiVersion: "v1", kind: "Secret", metadata: { name: "s", labels: null }, data: { a: REDACTION_MARKER }, stringData: { b: REDACTION_MARKER },
            });
            assert.deepEqual(renderedObject(secret, false), { apiVersion: "v1", kind: "Secret", metadata: { name: "s", labels: null } });
        });

        it("a protected object keeps its own annotations beside the protect mark", () => {
            const pv: EngineResource = { type: "kubernetes:core/v1:PersistentVolume", urn: "urn:pv", name: "pv", protect: true, props: { metadata: { name: "pv", annotations: { owner: "dba" } } } };
            assert.deepEqual((renderedObject(pv) as any).metadata.annotations, { owner: "dba", [PROTECTED_ANNOTATION]: "true" });
        });

        it("the declared stack swaps in the registered inputs and keeps each resource's identity", () => {
            const r: EngineResource = { type: "kubernetes:core/v1:ConfigMap", urn: "urn:c", name: "c", props: { live: true }, protect: true };
            assert.deepEqual(declaredStack([r], new Map([["urn:c", { declared: true }]])), [{ ...r, props: { declared: true } }]);
        });

        it("secret marks are found under nulls and arrays without a crash", () => {
            const isSecret = (v: unknown) => v === "S";
            assert.deepEqual(secretPathsOf({ a: null, b: ["x", "S"], c: { d: "S" } }, isSecret), [["b", "1"], ["c", "d"]]);
        });
    });
});

// What a checklist check reports, as the edge specs (test/checklist*.spec.ts) compare it: one
// "Kind/name: reason" line per violation, after asserting that every violation carries the ID the
// check is registered under in checklist/index.ts (the ID is what the pack and an operator filter on).
import assert from "node:assert/strict";
import { Check, K8sObject, PolicyContext, checks } from "../../checklist";

const idOf = new Map<Check, string>(Object.entries(checks).map(([id, check]) => [check, id]));

export function reasons(check: Check, objects: readonly K8sObject[], ctx: PolicyContext): string[] {
    const id = idOf.get(check);
    assert.ok(id, "not a registered check");
    const violations = check(objects, ctx);
    for (const v of violations) assert.equal(v.id, id, `${v.object}: ${v.reason}`);
    return violations.map((v) => `${v.object}: ${v.reason}`);
}

/**
 * A Kubernetes object of `kind` named `name` in `namespace` (null: no namespace, as cluster-scoped kinds have),
 * apiVersion v1 unless `rest` says otherwise; `rest` adds top-level fields (apiVersion, spec, data, …) and its
 * `metadata` adds to the name and namespace.
 */
export function k8sObject(kind: string, name: string, rest: Record<string, unknown> = {}, namespace: string | null = "asky"): K8sObject {
    const { metadata, ...top } = rest as { metadata?: Record<string, unknown> };
    return { apiVersion: "v1", kind, ...top, metadata: { name, ...(namespace === null ? {} : { namespace }), ...metadata } } as unknown as K8sObject;
}

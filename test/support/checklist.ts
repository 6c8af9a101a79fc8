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

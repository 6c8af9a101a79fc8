// Policy checks of the rendered Kubernetes objects, one function per checklist ID
// (/work/shared/design/CHECKLIST.md). Use:
//
//   const v = checkPolicy(objects, { stack: "prod", namespace: "asky" });
//   assert.deepEqual(v, [], formatViolations(v));
//   assert.deepEqual(await validateSchemas(objects), []);   // test/support/schema.ts
//
// Not checkable on objects, tested elsewhere:
//   SEC-2 secretness of Pulumi outputs (stack outputs); SEC-3, SEC-5 and the SQL half of
//   SEC-4 (SQL); DATA-3, DATA-4 (SQL against a database); GW-1..6 and the config half of
//   GW-7/GW-8 (nginx config); GW-9 (resource ordering in the Pulumi program).

import { ha1, ha2, ha3, ha4, ha5 } from "./availability";
import { data1, data2 } from "./data";
import { gw7, gw8 } from "./gateway";
import { Check, K8sObject, PolicyContext, Violation } from "./k8s";
import { net1, net2, net3 } from "./network";
import { pod1, pod10, pod11, pod12, pod13, pod2, pod3, pod4, pod5, pod6, pod7, pod8, pod9 } from "./pods";
import { sec1, sec4 } from "./secrets";
import { wire1, wire2, wire3, wire4, wire5, wire6 } from "./wiring";

export type { Check, K8sObject, PolicyContext, Violation } from "./k8s";
export { EXPECTED_FLOWS, effectiveFlows, formatPorts } from "./network";
export { secretFindings, isSensitiveName } from "./secrets";

/** Every check, keyed by checklist ID, in checklist order. */
export const checks: Readonly<Record<string, Check>> = {
  "POD-1": pod1,
  "POD-2": pod2,
  "POD-3": pod3,
  "POD-4": pod4,
  "POD-5": pod5,
  "POD-6": pod6,
  "POD-7": pod7,
  "POD-8": pod8,
  "POD-9": pod9,
  "POD-10": pod10,
  "POD-11": pod11,
  "POD-12": pod12,
  "POD-13": pod13,
  "WIRE-1": wire1,
  "WIRE-2": wire2,
  "WIRE-3": wire3,
  "WIRE-4": wire4,
  "WIRE-5": wire5,
  "WIRE-6": wire6,
  "HA-1": ha1,
  "HA-2": ha2,
  "HA-3": ha3,
  "HA-4": ha4,
  "HA-5": ha5,
  "NET-1": net1,
  "NET-2": net2,
  "NET-3": net3,
  "DATA-1": data1,
  "DATA-2": data2,
  "SEC-1": sec1,
  "SEC-4": sec4,
  "GW-7": gw7,
  "GW-8": gw8,
};

export const CHECK_IDS = Object.keys(checks);

/** Runs one check by ID. */
export function runCheck(id: string, objects: readonly K8sObject[], ctx: PolicyContext): Violation[] {
  const c = checks[id];
  if (!c) throw new Error(`unknown check ${id}`);
  return c(objects, ctx);
}

/** Runs every check; violations in checklist order. */
export function checkPolicy(objects: readonly K8sObject[], ctx: PolicyContext): Violation[] {
  return CHECK_IDS.flatMap((id) => runCheck(id, objects, ctx));
}

/** One line per violation: "ID Kind/name: reason". */
export function formatViolations(v: Violation[]): string {
  return v.map((x) => `${x.id} ${x.object}: ${x.reason}`).join("\n");
}

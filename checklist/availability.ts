// HA-1..5. HA-1..4 apply to prod only (dev runs one replica of everything); HA-5 to both.

import { isDeepStrictEqual } from "node:util";
import {
  Check,
  K8sObject,
  Violation,
  asArray,
  containersOf,
  findObject,
  hpasFor,
  isObject,
  multiReplicaWorkloads,
  ofKind,
  podTemplateOf,
  podTemplates,
  selectorMatches,
  violation,
} from "./k8s";

/**
 * Deployments that serve requests and must be replicated. `redis` is exempt: it is the
 * single-instance cache the services reach by host name; independent replicas behind one
 * Service would not share state (replication would need Sentinel/Cluster). `postgres-exporter`
 * serves only Prometheus: a second replica would double every query on the database and every series.
 */
export const SINGLE_INSTANCE_DEPLOYMENTS = new Set(["redis", "postgres-exporter"]);

export function serviceDeployments(objects: readonly K8sObject[]): K8sObject[] {
  return ofKind(objects, "Deployment").filter((d) => !SINGLE_INSTANCE_DEPLOYMENTS.has(d.metadata.name));
}

/**
 * HA-1 (prod) services: ≥ 2 replicas, or an autoscaling/v2 HPA with minReplicas ≥ 2,
 * maxReplicas > minReplicas and no spec.replicas on the Deployment (it would fight the
 * HPA on every deploy). HPAs must target an existing workload.
 */
export const ha1: Check = (objects, ctx) => {
  if (ctx.stack !== "prod") return [];
  const out: Violation[] = [];
  for (const d of serviceDeployments(objects)) {
    const hpas = hpasFor(objects, d);
    if (hpas.length === 0) {
      const r = d.spec?.replicas;
      if (!(typeof r === "number" && r >= 2)) out.push(violation("HA-1", d, `runs ${r ?? 1} replica(s) and no HorizontalPodAutoscaler; needs ≥ 2`));
      continue;
    }
    if (hpas.length > 1) out.push(violation("HA-1", d, `is targeted by ${hpas.length} HorizontalPodAutoscalers`));
    if (d.spec?.replicas !== undefined) out.push(violation("HA-1", d, "sets spec.replicas although an HPA manages it"));
    for (const h of hpas) {
      if (h.apiVersion !== "autoscaling/v2") out.push(violation("HA-1", h, `must be autoscaling/v2 (is ${h.apiVersion})`));
      const min = h.spec?.minReplicas ?? 1;
      const max = h.spec?.maxReplicas;
      if (!(typeof min === "number" && min >= 2)) out.push(violation("HA-1", h, `minReplicas must be ≥ 2 (is ${min})`));
      if (!(typeof max === "number" && max > min)) out.push(violation("HA-1", h, `maxReplicas must exceed minReplicas (${max} ≤ ${min})`));
    }
  }
  for (const h of ofKind(objects, "HorizontalPodAutoscaler")) {
    const t = h.spec?.scaleTargetRef;
    if (!t || !findObject(objects, t.kind, t.name, h.metadata.namespace))
      out.push(violation("HA-1", h, `scaleTargetRef ${t?.kind}/${t?.name} does not exist`));
  }
  return out;
};

function isZero(v: unknown): boolean {
  return v === 0 || v === "0" || v === "0%";
}

/** HA-2 (prod) multi-replica Deployments roll with maxUnavailable 0 (and a non-zero surge). */
export const ha2: Check = (objects, ctx) => {
  if (ctx.stack !== "prod") return [];
  const out: Violation[] = [];
  for (const w of multiReplicaWorkloads(objects)) {
    if (w.kind === "Deployment") {
      const s = w.spec?.strategy;
      if (s?.type !== undefined && s.type !== "RollingUpdate") out.push(violation("HA-2", w, `strategy.type must be RollingUpdate (is ${s.type})`));
      else if (!isZero(s?.rollingUpdate?.maxUnavailable))
        out.push(violation("HA-2", w, `strategy.rollingUpdate.maxUnavailable must be 0 (is ${JSON.stringify(s?.rollingUpdate?.maxUnavailable ?? "25% (default)")})`));
      else if (s?.rollingUpdate?.maxSurge !== undefined && isZero(s.rollingUpdate.maxSurge))
        out.push(violation("HA-2", w, "maxSurge 0 with maxUnavailable 0 can never roll"));
    } else if (w.kind === "StatefulSet") {
      const s = w.spec?.updateStrategy;
      if (s?.type === "OnDelete") out.push(violation("HA-2", w, "updateStrategy OnDelete never rolls"));
    }
  }
  return out;
};

/**
 * HA-3 (prod) one policy/v1 PodDisruptionBudget per multi-replica workload:
 * maxUnavailable 1, unhealthyPodEvictionPolicy AlwaysAllow, selector equal to the
 * workload's selector and selecting no other workload. Any PDB that blocks every
 * eviction (maxUnavailable 0, or minAvailable) or selects nothing is also reported.
 */
export const ha3: Check = (objects, ctx) => {
  if (ctx.stack !== "prod") return [];
  const out: Violation[] = [];
  const pdbs = ofKind(objects, "PodDisruptionBudget");
  const templates = podTemplates(objects);
  for (const w of multiReplicaWorkloads(objects)) {
    const t = podTemplateOf(w);
    if (!t) continue; // no pod template: the API server refuses such a workload at apply, nothing to judge here
    const mine = pdbs.filter((p) => p.metadata.namespace === w.metadata.namespace && selectorMatches(p.spec?.selector ?? {}, t.metadata.labels));
    if (mine.length === 0) out.push(violation("HA-3", w, "has no PodDisruptionBudget"));
    if (mine.length > 1) out.push(violation("HA-3", w, `is selected by ${mine.length} PodDisruptionBudgets: ${mine.map((p) => p.metadata.name).join(", ")}`));
    for (const p of mine) if (!isDeepStrictEqual(p.spec?.selector, w.spec?.selector)) out.push(violation("HA-3", p, `selector differs from ${w.kind}/${w.metadata.name}'s selector`));
  }
  for (const p of pdbs) {
    if (p.apiVersion !== "policy/v1") out.push(violation("HA-3", p, `must be policy/v1 (is ${p.apiVersion})`));
    if (p.spec?.minAvailable !== undefined) out.push(violation("HA-3", p, "uses minAvailable; use maxUnavailable: 1"));
    if (p.spec?.maxUnavailable !== 1) out.push(violation("HA-3", p, `maxUnavailable must be 1 (is ${JSON.stringify(p.spec?.maxUnavailable)})`));
    if (p.spec?.unhealthyPodEvictionPolicy !== "AlwaysAllow")
      out.push(violation("HA-3", p, `unhealthyPodEvictionPolicy must be AlwaysAllow (is ${p.spec?.unhealthyPodEvictionPolicy ?? "unset"})`));
    const sel = p.spec?.selector;
    const hits = templates.filter((t) => t.owner.metadata.namespace === p.metadata.namespace && (t.owner.kind === "Deployment" || t.owner.kind === "StatefulSet") && selectorMatches(sel ?? {}, t.metadata.labels));
    if (!isObject(sel) || (Object.keys(sel.matchLabels ?? {}).length === 0 && asArray(sel.matchExpressions).length === 0))
      out.push(violation("HA-3", p, "has an empty selector"));
    else if (hits.length !== 1) out.push(violation("HA-3", p, `selects ${hits.length} workloads (must be exactly one)`));
  }
  return out;
};

/** HA-4 (prod) preferred podAntiAffinity on kubernetes.io/hostname plus topologySpreadConstraints (maxSkew 1, ScheduleAnyway), both about the workload's own pods. */
export const ha4: Check = (objects, ctx) => {
  if (ctx.stack !== "prod") return [];
  const out: Violation[] = [];
  for (const w of multiReplicaWorkloads(objects)) {
    const t = podTemplateOf(w);
    if (!t) continue; // as in HA-3
    const own = t.metadata.labels ?? {};
    const preferred = asArray(t.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
    const ok = preferred.some(
      (p: any) => p?.podAffinityTerm?.topologyKey === "kubernetes.io/hostname" && isObject(p.podAffinityTerm.labelSelector) && selectorMatches(p.podAffinityTerm.labelSelector, own),
    );
    if (!ok) out.push(violation("HA-4", w, "needs a preferred podAntiAffinity term on kubernetes.io/hostname selecting its own pods"));
    const tsc = asArray(t.spec.topologySpreadConstraints);
    if (tsc.length === 0) out.push(violation("HA-4", w, "has no topologySpreadConstraints"));
    for (const c of tsc) {
      if (c?.maxSkew !== 1) out.push(violation("HA-4", w, `topologySpreadConstraint on ${c?.topologyKey}: maxSkew must be 1 (is ${c?.maxSkew})`));
      if (c?.whenUnsatisfiable !== "ScheduleAnyway") out.push(violation("HA-4", w, `topologySpreadConstraint on ${c?.topologyKey}: whenUnsatisfiable must be ScheduleAnyway (is ${c?.whenUnsatisfiable})`));
      if (!isObject(c?.labelSelector) || !selectorMatches(c.labelSelector, own)) out.push(violation("HA-4", w, `topologySpreadConstraint on ${c?.topologyKey}: labelSelector must select the workload's own pods`));
    }
  }
  return out;
};

export const DATABASE_WORKLOAD = "postgres";

/**
 * HA-5 the database is StatefulSet `postgres` with 1 replica; its data volume is a PVC
 * that exists with accessModes [ReadWriteOnce] (and, if bound by name, to a PV that
 * exists); PGDATA is set and is a subdirectory of that volume's mount path (not the
 * mount itself: initdb refuses a non-empty mount point such as one with lost+found).
 */
export const ha5: Check = (objects, ctx) => {
  const out: Violation[] = [];
  const ns = ctx.namespace;
  const asDeployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === DATABASE_WORKLOAD);
  if (asDeployment) out.push(violation("HA-5", asDeployment, "the database must be a StatefulSet, not a Deployment"));
  const sts = findObject(objects, "StatefulSet", DATABASE_WORKLOAD, ns);
  if (!sts) return [...out, violation("HA-5", `StatefulSet/${DATABASE_WORKLOAD}`, "the database StatefulSet is missing")];
  if (sts.spec?.replicas !== undefined && sts.spec.replicas !== 1) out.push(violation("HA-5", sts, `must run exactly 1 replica (has ${sts.spec.replicas})`));
  const t = podTemplateOf(sts);
  if (!t) return [...out, violation("HA-5", sts, "has no pod template")];
  const server = containersOf(t.spec).find((c) => !c.init && asArray(c.c?.ports).some((p: any) => p?.containerPort === 5432)) ?? containersOf(t.spec).find((c) => !c.init && isObject(c.c));
  if (!server) return [...out, violation("HA-5", sts, "has no container")];
  const pgdataEnv = asArray(server.c.env).find((e: any) => e?.name === "PGDATA");
  const pgdata: unknown = pgdataEnv?.value;
  if (typeof pgdata !== "string" || pgdata === "") {
    out.push(violation("HA-5", sts, `${server.label} must set PGDATA to a subdirectory of the data volume's mount`));
    return out;
  }
  const volumes = new Map<string, any>(asArray(t.spec.volumes).map((v: any) => [v?.name, v]));
  const templates = new Map<string, any>(asArray(sts.spec?.volumeClaimTemplates).map((v: any) => [v?.metadata?.name, v]));
  const norm = (p: string) => p.replace(/\/+$/, "");
  const mounts = asArray(server.c.volumeMounts).filter((m: any) => typeof m?.mountPath === "string");
  const exact = mounts.find((m: any) => norm(m.mountPath) === norm(pgdata));
  const parent = mounts
    .filter((m: any) => norm(pgdata).startsWith(norm(m.mountPath) + "/"))
    .sort((a: any, b: any) => b.mountPath.length - a.mountPath.length)[0];
  if (exact && (volumes.get(exact.name)?.persistentVolumeClaim || templates.has(exact.name))) {
    out.push(violation("HA-5", sts, `PGDATA ${pgdata} is the mount point of volume "${exact.name}" itself; use a subdirectory such as ${norm(pgdata)}/pgdata`));
    return out;
  }
  if (!parent) {
    out.push(violation("HA-5", sts, `PGDATA ${pgdata} is not under any volumeMount: the data would live in the container and be lost`));
    return out;
  }
  const vol = volumes.get(parent.name);
  let accessModes: unknown;
  let where: K8sObject | string = sts;
  if (vol?.persistentVolumeClaim) {
    const pvc = findObject(objects, "PersistentVolumeClaim", vol.persistentVolumeClaim.claimName, ns);
    if (!pvc) {
      out.push(violation("HA-5", sts, `data volume "${parent.name}" claims PVC "${vol.persistentVolumeClaim.claimName}", which does not exist`));
      return out;
    }
    accessModes = pvc.spec?.accessModes;
    where = pvc;
    const pvName = pvc.spec?.volumeName;
    if (pvName) {
      const pv = findObject(objects, "PersistentVolume", pvName);
      if (!pv) out.push(violation("HA-5", pvc, `binds PersistentVolume "${pvName}", which does not exist`));
      else {
        if ((pv.spec?.storageClassName ?? "") !== (pvc.spec?.storageClassName ?? ""))
          out.push(violation("HA-5", pvc, `storageClassName ${pvc.spec?.storageClassName} differs from PV ${pvName}'s ${pv.spec?.storageClassName}`));
        if (!asArray(pv.spec?.accessModes).includes("ReadWriteOnce")) out.push(violation("HA-5", pv, "accessModes must include ReadWriteOnce"));
        const cr = pv.spec?.claimRef;
        if (cr && (cr.name !== pvc.metadata.name || (cr.namespace && cr.namespace !== ns))) out.push(violation("HA-5", pv, `claimRef points at ${cr.namespace}/${cr.name}`));
      }
    }
  } else if (templates.has(parent.name)) {
    accessModes = templates.get(parent.name).spec?.accessModes;
  } else {
    out.push(violation("HA-5", sts, `PGDATA ${pgdata} lives on volume "${parent.name}", which is not a PersistentVolumeClaim`));
    return out;
  }
  if (!isDeepStrictEqual(accessModes, ["ReadWriteOnce"])) out.push(violation("HA-5", where, `accessModes must be [ReadWriteOnce] (is ${JSON.stringify(accessModes)})`));
  return out;
};

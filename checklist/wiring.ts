// WIRE-1..6: Services find their pods, pods find their config, everything is in the stack's
// namespace, labelled, and rolled when its config changes.

import {
  CLUSTER_SCOPED_KINDS,
  Check,
  K8sObject,
  PodTemplate,
  ROLLING_KINDS,
  Violation,
  asArray,
  configRefs,
  containersOf,
  findObject,
  isObject,
  mapSelects,
  ofKind,
  podTemplates,
  selectorMatches,
  violation,
} from "./k8s";

/** Workloads (pod templates) of the namespace that a Service selector selects. */
export function selectedTemplates(objects: readonly K8sObject[], svc: K8sObject): PodTemplate[] {
  return podTemplates(objects).filter(
    (t) => t.owner.metadata.namespace === svc.metadata.namespace && mapSelects(svc.spec?.selector, t.metadata.labels),
  );
}

/**
 * WIRE-1 every Service selector matches the pod template labels of exactly one workload
 * (kube-linter dangling-service); every workload's own selector matches its template
 * (kube-linter mismatching-selector). ExternalName Services select nothing by design.
 */
export const wire1: Check = (objects) => {
  const out: Violation[] = [];
  for (const svc of ofKind(objects, "Service")) {
    if (svc.spec?.type === "ExternalName") continue;
    const sel = svc.spec?.selector;
    if (!isObject(sel) || Object.keys(sel).length === 0) {
      out.push(violation("WIRE-1", svc, "has no selector"));
      continue;
    }
    const hits = selectedTemplates(objects, svc);
    const selText = Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(",");
    if (hits.length === 0) out.push(violation("WIRE-1", svc, `selector ${selText} matches no workload's pod labels`));
    else if (hits.length > 1) out.push(violation("WIRE-1", svc, `selector ${selText} matches ${hits.length} workloads: ${hits.map((t) => `${t.owner.kind}/${t.owner.metadata.name}`).join(", ")}`));
  }
  for (const t of podTemplates(objects)) {
    if (t.owner.kind === "Pod" || t.owner.kind === "CronJob") continue;
    const sel = t.owner.spec?.selector;
    if (t.owner.kind === "Job" && sel === undefined) continue; // Jobs generate their selector
    if (!selectorMatches(sel, t.metadata.labels) || !sel || (!sel.matchLabels && !sel.matchExpressions))
      out.push(violation("WIRE-1", t.owner, "spec.selector does not match the pod template labels"));
  }
  return out;
};

/** WIRE-2 every Service targetPort (number or name, defaulting to port) is a containerPort of the selected pods. */
export const wire2: Check = (objects) => {
  const out: Violation[] = [];
  for (const svc of ofKind(objects, "Service")) {
    if (svc.spec?.type === "ExternalName") continue;
    const hits = selectedTemplates(objects, svc);
    if (hits.length === 0) continue; // WIRE-1 reports it
    const ports = hits.flatMap((t) => containersOf(t.spec).filter((c) => !c.init).flatMap((c) => asArray(c.c?.ports)));
    for (const sp of asArray(svc.spec?.ports)) {
      const target = sp?.targetPort ?? sp?.port;
      const proto = sp?.protocol ?? "TCP";
      const found = ports.some(
        (cp: any) => (cp?.protocol ?? "TCP") === proto && (typeof target === "number" ? cp?.containerPort === target : cp?.name === target),
      );
      if (!found)
        out.push(violation("WIRE-2", svc, `port ${sp?.name ?? sp?.port} targets ${proto} ${JSON.stringify(target)}, which no selected container declares`));
    }
  }
  return out;
};

/**
 * WIRE-3 every ConfigMap/Secret/PVC a pod references (volumes, projected sources, env
 * valueFrom, envFrom, imagePullSecrets) exists in the pod's namespace, with the keys the
 * pod reads; optional references are exempt. Also every volumeMount names a volume.
 */
export const wire3: Check = (objects) => {
  const out: Violation[] = [];
  for (const t of podTemplates(objects)) {
    const ns = t.owner.metadata.namespace;
    for (const r of configRefs(t)) {
      if (r.optional) continue;
      const target = findObject(objects, r.kind, r.name, ns);
      if (!target) {
        out.push(violation("WIRE-3", t.owner, `${r.where} references ${r.kind} "${r.name}", which does not exist in namespace ${ns ?? "(none)"}`));
        continue;
      }
      if (r.kind === "PersistentVolumeClaim") continue;
      const keys = new Set([
        ...Object.keys(target.data ?? {}),
        ...Object.keys(target.binaryData ?? {}),
        ...Object.keys(target.stringData ?? {}),
      ]);
      for (const k of r.keys) if (!keys.has(k)) out.push(violation("WIRE-3", t.owner, `${r.where} reads key "${k}", which ${r.kind} "${r.name}" does not have`));
    }
    const volumeNames = new Set([
      ...asArray(t.spec.volumes).map((v: any) => v?.name),
      ...asArray(t.owner.kind === "StatefulSet" ? t.owner.spec?.volumeClaimTemplates : []).map((v: any) => v?.metadata?.name),
    ]);
    for (const { c, label } of containersOf(t.spec))
      for (const m of asArray(c?.volumeMounts))
        if (!volumeNames.has(m?.name)) out.push(violation("WIRE-3", t.owner, `${label} mounts volume "${m?.name}", which the pod does not declare`));
  }
  return out;
};

/** WIRE-4 every namespaced object is in the stack's namespace (the seed's PVC had none). */
export const wire4: Check = (objects, ctx) =>
  objects
    .filter((o) => !CLUSTER_SCOPED_KINDS.has(o.kind) && o.metadata?.namespace !== ctx.namespace)
    .map((o) => violation("WIRE-4", o, `metadata.namespace is ${JSON.stringify(o.metadata?.namespace)}, expected "${ctx.namespace}"`));

export const RECOMMENDED_LABELS = ["name", "instance", "component", "part-of", "managed-by"].map((l) => `app.kubernetes.io/${l}`);
const FIXED_LABEL_VALUES: Record<string, string> = { "app.kubernetes.io/part-of": "asky", "app.kubernetes.io/managed-by": "pulumi" };

/**
 * WIRE-5 the five recommended labels on every object and on every pod template, with
 * part-of=asky, managed-by=pulumi and one instance value for the whole stack.
 * No exemptions: every object is ours, Pulumi can label all of them, and
 * `kubectl get all,cm,secret,pvc,netpol -l app.kubernetes.io/instance=...` must find
 * the whole stack (cluster-scoped PV and Namespace included).
 */
export const wire5: Check = (objects) => {
  const out: Violation[] = [];
  const subjects: { o: K8sObject; where: string; labels: Record<string, string> | undefined }[] = [];
  for (const o of objects) subjects.push({ o, where: "metadata.labels", labels: o.metadata?.labels });
  for (const t of podTemplates(objects)) if (t.owner.kind !== "Pod") subjects.push({ o: t.owner, where: "pod template labels", labels: t.metadata.labels });
  const instances = new Map<string, number>();
  for (const s of subjects) {
    const missing = RECOMMENDED_LABELS.filter((l) => typeof s.labels?.[l] !== "string" || s.labels[l] === "");
    if (missing.length) out.push(violation("WIRE-5", s.o, `${s.where} lack ${missing.join(", ")}`));
    for (const [l, v] of Object.entries(FIXED_LABEL_VALUES))
      if (s.labels?.[l] !== undefined && s.labels[l] !== v) out.push(violation("WIRE-5", s.o, `${s.where}: ${l} must be "${v}" (is "${s.labels[l]}")`));
    const inst = s.labels?.["app.kubernetes.io/instance"];
    if (inst) instances.set(inst, (instances.get(inst) ?? 0) + 1);
  }
  if (instances.size > 1) {
    const main = [...instances.entries()].sort((a, b) => b[1] - a[1])[0][0];
    for (const s of subjects) {
      const inst = s.labels?.["app.kubernetes.io/instance"];
      if (inst && inst !== main) out.push(violation("WIRE-5", s.o, `${s.where}: app.kubernetes.io/instance is "${inst}", the rest of the stack uses "${main}"`));
    }
  }
  return out;
};

/** A name ending in a content-hash-like suffix: "-" + 6+ chars of [0-9a-z] with a digit, or 8+ hex. */
export function hasHashSuffix(name: string): boolean {
  const m = /-([0-9a-z]+)$/.exec(name);
  if (!m) return false;
  const s = m[1];
  return (s.length >= 6 && /\d/.test(s)) || (s.length >= 8 && /^[0-9a-f]+$/.test(s));
}

/**
 * WIRE-6 a change to a ConfigMap or Secret a pod uses rolls the pod. Applies to
 * Deployment/StatefulSet/DaemonSet templates (Jobs and CronJobs start new pods that read
 * the current content). Each referenced ConfigMap/Secret (volumes, projected, env,
 * envFrom) is covered by a content-hashed name or by a `checksum/...` pod annotation with
 * a hash-like value. When annotations are per object (`checksum/<name>`), every
 * unhashed reference needs its own; a single generic key (e.g. `checksum/config`) is
 * taken to cover all of them, as its content is not visible on the objects.
 */
export const wire6: Check = (objects) => {
  const out: Violation[] = [];
  for (const t of podTemplates(objects)) {
    if (!ROLLING_KINDS.has(t.owner.kind)) continue;
    const refs = configRefs(t).filter((r) => r.kind !== "PersistentVolumeClaim" && r.where !== "imagePullSecrets");
    const unhashed = [...new Set(refs.filter((r) => !hasHashSuffix(r.name)).map((r) => `${r.kind}/${r.name}`))];
    if (unhashed.length === 0) continue;
    const ann = Object.entries<string>(t.metadata.annotations ?? {}).filter(([k]) => k.startsWith("checksum/"));
    for (const [k, v] of ann)
      if (typeof v !== "string" || !/^[A-Za-z0-9+/=_-]{8,}$/.test(v)) out.push(violation("WIRE-6", t.owner, `annotation ${k} is not a hash: ${JSON.stringify(v)}`));
    if (ann.length === 0) {
      out.push(violation("WIRE-6", t.owner, `pod template uses ${unhashed.join(", ")} but has no checksum/ annotation and the names carry no content hash`));
      continue;
    }
    const names = new Set(unhashed.map((u) => u.split("/")[1]));
    const perObject = ann.filter(([k]) => names.has(k.slice("checksum/".length)));
    const generic = ann.filter(([k]) => !names.has(k.slice("checksum/".length)));
    if (perObject.length > 0 && generic.length === 0) {
      const covered = new Set(perObject.map(([k]) => k.slice("checksum/".length)));
      for (const u of unhashed)
        if (!covered.has(u.split("/")[1])) out.push(violation("WIRE-6", t.owner, `no checksum/${u.split("/")[1]} annotation for ${u}, while other references have their own`));
    }
  }
  return out;
};

// Shared types and helpers for the policy checks (see checklist/index.ts).

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [k: string]: any;
}

export interface Violation {
  id: string;
  /** "Kind/name" of the object at fault. */
  object: string;
  reason: string;
}

export interface PolicyContext {
  stack: "dev" | "prod";
  namespace: string;
}

export type Check = (objects: readonly K8sObject[], ctx: PolicyContext) => Violation[];

/** "Kind/name" */
export function ref(o: K8sObject): string {
  return `${o.kind}/${o.metadata?.name}`;
}

export function violation(id: string, o: K8sObject | string, reason: string): Violation {
  return { id, object: typeof o === "string" ? o : ref(o), reason };
}

export function ofKind(objects: readonly K8sObject[], ...kinds: string[]): K8sObject[] {
  return objects.filter((o) => kinds.includes(o.kind));
}

export function findObject(objects: readonly K8sObject[], kind: string, name: string, namespace?: string): K8sObject | undefined {
  return objects.find(
    (o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace),
  );
}

/**
 * Kinds without a namespace. Everything else is namespaced (WIRE-4). The list is the API server's own
 * discovery (`kubectl api-resources --namespaced=false`, kube-apiserver v1.36.3 with every API group on);
 * custom resources are taken as namespaced.
 */
export const CLUSTER_SCOPED_KINDS = new Set([
  "APIService",
  "CSIDriver",
  "CSINode",
  "CertificateSigningRequest",
  "ClusterRole",
  "ClusterRoleBinding",
  "ComponentStatus",
  "CustomResourceDefinition",
  "DeviceClass",
  "DeviceTaintRule",
  "FlowSchema",
  "IPAddress",
  "IngressClass",
  "MutatingAdmissionPolicy",
  "MutatingAdmissionPolicyBinding",
  "MutatingWebhookConfiguration",
  "Namespace",
  "Node",
  "PersistentVolume",
  "PriorityClass",
  "PriorityLevelConfiguration",
  "ResourcePoolStatusRequest",
  "ResourceSlice",
  "RuntimeClass",
  "SelfSubjectAccessReview",
  "SelfSubjectReview",
  "SelfSubjectRulesReview",
  "ServiceCIDR",
  "StorageClass",
  "StorageVersion",
  "SubjectAccessReview",
  "TokenReview",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "ValidatingWebhookConfiguration",
  "VolumeAttachment",
  "VolumeAttributesClass",
]);

// ---------------------------------------------------------------------------
// Workloads and pod templates

/** Kinds whose pods run until stopped (probes, rollouts, HA apply). */
export const LONG_RUNNING_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"]);
/** Kinds whose pods are replaced by a rollout when the template changes (WIRE-6). */
export const ROLLING_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);
export const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"]);

export interface PodTemplate {
  owner: K8sObject;
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: any };
  spec: any;
  /** Path of the pod spec inside the owner, for messages. */
  path: string;
  longRunning: boolean;
}

export function podTemplateOf(o: K8sObject): PodTemplate | undefined {
  if (!WORKLOAD_KINDS.has(o.kind)) return undefined;
  let tpl: any;
  let path: string;
  if (o.kind === "Pod") {
    tpl = { metadata: o.metadata, spec: o.spec };
    path = "spec";
  } else if (o.kind === "CronJob") {
    tpl = o.spec?.jobTemplate?.spec?.template;
    path = "spec.jobTemplate.spec.template.spec";
  } else {
    tpl = o.spec?.template;
    path = "spec.template.spec";
  }
  if (!tpl || typeof tpl !== "object") return undefined;
  return {
    owner: o,
    metadata: tpl.metadata ?? {},
    spec: tpl.spec ?? {},
    path,
    longRunning: LONG_RUNNING_KINDS.has(o.kind),
  };
}

export function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const t = podTemplateOf(o);
    if (t) out.push(t);
  }
  return out;
}

export interface ContainerRef {
  c: any;
  init: boolean;
  /** e.g. `container "auth"` or `initContainer "wait"` */
  label: string;
}

export function containersOf(spec: any): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const c of asArray(spec?.initContainers)) out.push({ c, init: true, label: `initContainer "${c?.name}"` });
  for (const c of asArray(spec?.containers)) out.push({ c, init: false, label: `container "${c?.name}"` });
  return out;
}

export function asArray<T = any>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

export function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Workload name as used by policies: the pod's app.kubernetes.io/name label, else the owner's name. */
export function appName(t: PodTemplate): string {
  return t.metadata.labels?.["app.kubernetes.io/name"] ?? t.owner.metadata.name;
}

// ---------------------------------------------------------------------------
// Label selectors

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** metav1.LabelSelector semantics: an empty selector matches everything. */
export function selectorMatches(sel: LabelSelector | undefined | null, labels: Record<string, string> | undefined): boolean {
  if (!sel) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const vals = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !vals.includes(l[e.key])) return false;
        break;
      case "NotIn":
        if (has && vals.includes(l[e.key])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false; // unknown operator: matches nothing (the API server rejects it)
    }
  }
  return true;
}

/** Service selector semantics (a plain map): an empty map selects nothing here. */
export function mapSelects(sel: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel || Object.keys(sel).length === 0) return false;
  const l = labels ?? {};
  return Object.entries(sel).every(([k, v]) => l[k] === v);
}

export function isEmptySelector(sel: LabelSelector | undefined | null): boolean {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

// ---------------------------------------------------------------------------
// Config references of a pod (volumes, env, envFrom, projected, imagePullSecrets)

export interface ConfigRef {
  kind: "ConfigMap" | "Secret" | "PersistentVolumeClaim";
  name: string;
  optional: boolean;
  /** Keys the pod reads from it (env key refs, volume items), when known. */
  keys: string[];
  where: string;
}

export function configRefs(t: PodTemplate): ConfigRef[] {
  const refs: ConfigRef[] = [];
  const spec = t.spec;
  const itemKeys = (items: unknown) => asArray(items).map((i: any) => i?.key).filter((k): k is string => typeof k === "string");
  for (const v of asArray(spec.volumes)) {
    const where = `volume "${v?.name}"`;
    if (v?.configMap) refs.push({ kind: "ConfigMap", name: v.configMap.name, optional: v.configMap.optional === true, keys: itemKeys(v.configMap.items), where });
    if (v?.secret) refs.push({ kind: "Secret", name: v.secret.secretName, optional: v.secret.optional === true, keys: itemKeys(v.secret.items), where });
    if (v?.persistentVolumeClaim) refs.push({ kind: "PersistentVolumeClaim", name: v.persistentVolumeClaim.claimName, optional: false, keys: [], where });
    for (const s of asArray(v?.projected?.sources)) {
      if (s?.configMap) refs.push({ kind: "ConfigMap", name: s.configMap.name, optional: s.configMap.optional === true, keys: itemKeys(s.configMap.items), where: `${where} (projected)` });
      if (s?.secret) refs.push({ kind: "Secret", name: s.secret.name, optional: s.secret.optional === true, keys: itemKeys(s.secret.items), where: `${where} (projected)` });
    }
  }
  for (const { c, label } of containersOf(spec)) {
    for (const e of asArray(c?.env)) {
      const cm = e?.valueFrom?.configMapKeyRef;
      const sk = e?.valueFrom?.secretKeyRef;
      if (cm) refs.push({ kind: "ConfigMap", name: cm.name, optional: cm.optional === true, keys: cm.key ? [cm.key] : [], where: `${label} env ${e.name}` });
      if (sk) refs.push({ kind: "Secret", name: sk.name, optional: sk.optional === true, keys: sk.key ? [sk.key] : [], where: `${label} env ${e.name}` });
    }
    for (const ef of asArray(c?.envFrom)) {
      if (ef?.configMapRef) refs.push({ kind: "ConfigMap", name: ef.configMapRef.name, optional: ef.configMapRef.optional === true, keys: [], where: `${label} envFrom` });
      if (ef?.secretRef) refs.push({ kind: "Secret", name: ef.secretRef.name, optional: ef.secretRef.optional === true, keys: [], where: `${label} envFrom` });
    }
  }
  for (const s of asArray(spec.imagePullSecrets)) {
    if (s?.name) refs.push({ kind: "Secret", name: s.name, optional: false, keys: [], where: "imagePullSecrets" });
  }
  return refs;
}

// ---------------------------------------------------------------------------
// Misc

/** Replica count of a Deployment/StatefulSet (API default 1). */
export function replicasOf(o: K8sObject): number {
  const r = o.spec?.replicas;
  return typeof r === "number" ? r : 1;
}

/** HPAs (any version) whose scaleTargetRef points at this workload. */
export function hpasFor(objects: readonly K8sObject[], w: K8sObject): K8sObject[] {
  return objects.filter(
    (o) =>
      o.kind === "HorizontalPodAutoscaler" &&
      o.metadata?.namespace === w.metadata?.namespace &&
      o.spec?.scaleTargetRef?.kind === w.kind &&
      o.spec?.scaleTargetRef?.name === w.metadata?.name,
  );
}

/** Deployments/StatefulSets running ≥ 2 pods or managed by an HPA (HA-2/3/4 apply to them). */
export function multiReplicaWorkloads(objects: readonly K8sObject[]): K8sObject[] {
  return objects.filter(
    (o) => (o.kind === "Deployment" || o.kind === "StatefulSet") && (replicasOf(o) >= 2 || hpasFor(objects, o).length > 0),
  );
}

export function namespaceLabels(objects: readonly K8sObject[], ns: string): Record<string, string> {
  const nsObj = findObject(objects, "Namespace", ns);
  return { ...(nsObj?.metadata?.labels ?? {}), "kubernetes.io/metadata.name": ns };
}

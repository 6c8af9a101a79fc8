// POD-1..13: every pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
// CronJob (or bare Pod), every container and init container.

import { isDeepStrictEqual } from "node:util";
import {
  Check,
  ContainerRef,
  K8sObject,
  PodTemplate,
  Violation,
  asArray,
  containersOf,
  findObject,
  isObject,
  podTemplates,
  violation,
} from "./k8s";
import { envLiteralFindings } from "./secrets";

type PerContainer = (t: PodTemplate, c: ContainerRef, objects: readonly K8sObject[]) => string[];

/** Runs `fn` on every container of every pod template and turns its reasons into violations. */
function perContainer(id: string, fn: PerContainer): Check {
  return (objects) => {
    const out: Violation[] = [];
    for (const t of podTemplates(objects))
      for (const c of containersOf(t.spec)) for (const r of fn(t, c, objects)) out.push(violation(id, t.owner, `${c.label}: ${r}`));
    return out;
  };
}

/** The value the kubelet uses: the container's securityContext field, else the pod's. */
function effective(t: PodTemplate, c: ContainerRef, field: string): any {
  const cv = c.c?.securityContext?.[field];
  return cv !== undefined ? cv : t.spec?.securityContext?.[field];
}

/** POD-1 allowPrivilegeEscalation: false on every container and init container. */
export const pod1 = perContainer("POD-1", (_t, { c }) =>
  c?.securityContext?.allowPrivilegeEscalation === false ? [] : ["securityContext.allowPrivilegeEscalation must be false"],
);

/** POD-2 runAsNonRoot true and numeric non-zero runAsUser/runAsGroup (container overrides pod). */
export const pod2 = perContainer("POD-2", (t, c) => {
  const r: string[] = [];
  if (effective(t, c, "runAsNonRoot") !== true) r.push("runAsNonRoot must be true (pod or container securityContext)");
  for (const f of ["runAsUser", "runAsGroup"]) {
    const v = effective(t, c, f);
    if (!(typeof v === "number" && Number.isInteger(v) && v > 0)) r.push(`${f} must be a numeric non-zero id (is ${JSON.stringify(v)})`);
  }
  return r;
});

/** POD-3 capabilities.drop ["ALL"], nothing added. */
export const pod3 = perContainer("POD-3", (_t, { c }) => {
  const caps = c?.securityContext?.capabilities;
  const r: string[] = [];
  if (!asArray(caps?.drop).includes("ALL")) r.push('securityContext.capabilities.drop must contain "ALL"');
  if (asArray(caps?.add).length > 0) r.push(`securityContext.capabilities.add must be empty (adds ${asArray(caps.add).join(", ")})`);
  return r;
});

/** POD-4 seccompProfile.type RuntimeDefault (container overrides pod). */
export const pod4 = perContainer("POD-4", (t, c) => {
  const type = effective(t, c, "seccompProfile")?.type;
  return type === "RuntimeDefault" ? [] : [`seccompProfile.type must be RuntimeDefault (is ${type ?? "unset"})`];
});

const ALLOWED_VOLUME_TYPES = new Set(["configMap", "secret", "emptyDir", "projected", "downwardAPI", "persistentVolumeClaim"]);

/** POD-5 only configMap, secret, emptyDir, projected, downwardAPI, persistentVolumeClaim volumes. */
export const pod5: Check = (objects) => {
  const out: Violation[] = [];
  for (const t of podTemplates(objects)) {
    for (const v of asArray(t.spec.volumes)) {
      const types = Object.keys(v ?? {}).filter((k) => k !== "name");
      const bad = types.filter((k) => !ALLOWED_VOLUME_TYPES.has(k));
      if (bad.length) out.push(violation("POD-5", t.owner, `volume "${v?.name}" uses ${bad.join(", ")}; only ${[...ALLOWED_VOLUME_TYPES].join(", ")} are allowed`));
      else if (types.length === 0) out.push(violation("POD-5", t.owner, `volume "${v?.name}" has no source`));
    }
  }
  return out;
};

/** POD-6 no hostNetwork/hostPID/hostIPC, hostPort, privileged (or Windows hostProcess). */
export const pod6: Check = (objects) => {
  const out: Violation[] = [];
  for (const t of podTemplates(objects)) {
    for (const f of ["hostNetwork", "hostPID", "hostIPC"]) if (t.spec[f] === true) out.push(violation("POD-6", t.owner, `${f} must not be true`));
    if (t.spec.securityContext?.windowsOptions?.hostProcess === true) out.push(violation("POD-6", t.owner, "hostProcess must not be true"));
    for (const { c, label } of containersOf(t.spec)) {
      if (c?.securityContext?.privileged === true) out.push(violation("POD-6", t.owner, `${label}: privileged must not be true`));
      if (c?.securityContext?.windowsOptions?.hostProcess === true) out.push(violation("POD-6", t.owner, `${label}: hostProcess must not be true`));
      for (const p of asArray(c?.ports))
        if (p?.hostPort !== undefined && p.hostPort !== 0) out.push(violation("POD-6", t.owner, `${label}: port ${p.containerPort} uses hostPort ${p.hostPort}`));
    }
  }
  return out;
};

/** Repository name of an image reference, without registry, tag or digest ("nginxinc/nginx-unprivileged:1.27" → "nginx-unprivileged"). */
export function imageName(image: string): string {
  const noDigest = image.split("@")[0];
  const last = noDigest.slice(noDigest.lastIndexOf("/") + 1);
  return last.split(":")[0];
}

/** Paths known images must write to; with a read-only root they need an emptyDir there. */
const WRITABLE_PATHS: { name: RegExp; longRunningOnly: boolean; paths: { path: string; memory?: boolean }[]; why: string }[] = [
  // nginx itself (nginx, nginx-unprivileged), not images that only carry the name (nginx-prometheus-exporter)
  { name: /^nginx(-unprivileged)?$/, longRunningOnly: false, paths: [{ path: "/tmp" }], why: "nginx" },
  {
    name: /^postgres$/,
    longRunningOnly: true, // the server; psql/pg_dump clients in Jobs write nowhere but their output volume
    paths: [{ path: "/var/run/postgresql" }, { path: "/tmp" }, { path: "/dev/shm", memory: true }],
    why: "the postgres server",
  },
];

/** POD-7 readOnlyRootFilesystem true, with emptyDir volumes where known images write. */
export const pod7 = perContainer("POD-7", (t, { c }) => {
  const r: string[] = [];
  if (c?.securityContext?.readOnlyRootFilesystem !== true) r.push("securityContext.readOnlyRootFilesystem must be true");
  const image = typeof c?.image === "string" ? imageName(c.image) : "";
  const volumes = new Map<string, any>(asArray(t.spec.volumes).map((v: any) => [v?.name, v]));
  for (const rule of WRITABLE_PATHS) {
    if (!rule.name.test(image) || (rule.longRunningOnly && !t.longRunning)) continue;
    for (const need of rule.paths) {
      const ok = asArray(c?.volumeMounts).some((m: any) => {
        if (typeof m?.mountPath !== "string" || m.readOnly === true) return false;
        const mp = m.mountPath.replace(/\/+$/, "");
        if (!(need.path === mp || need.path.startsWith(mp + "/"))) return false;
        const v = volumes.get(m.name);
        return isObject(v?.emptyDir) && (!need.memory || v.emptyDir.medium === "Memory");
      });
      if (!ok) r.push(`${rule.why} writes to ${need.path}: mount a writable emptyDir${need.memory ? " with medium Memory" : ""} there`);
    }
  }
  return r;
});

/**
 * POD-8 automountServiceAccountToken false: on the pod, or (pod unset) on the ServiceAccount
 * it uses when that ServiceAccount is among the objects; no hand-mounted token either.
 */
export const pod8: Check = (objects) => {
  const out: Violation[] = [];
  for (const t of podTemplates(objects)) {
    const podSetting = t.spec.automountServiceAccountToken;
    if (podSetting !== false) {
      const saName = t.spec.serviceAccountName ?? t.spec.serviceAccount ?? "default";
      const sa = findObject(objects, "ServiceAccount", saName, t.owner.metadata.namespace);
      if (podSetting === true || sa?.automountServiceAccountToken !== false)
        out.push(violation("POD-8", t.owner, "automountServiceAccountToken must be false"));
    }
    for (const v of asArray(t.spec.volumes))
      if (asArray(v?.projected?.sources).some((s: any) => s?.serviceAccountToken))
        out.push(violation("POD-8", t.owner, `volume "${v.name}" projects a service account token`));
  }
  return out;
};

const RESOURCE_NAMES = ["cpu", "memory", "ephemeral-storage"];

/** Parses a Kubernetes quantity ("500m", "1Gi", "2") into a number, or undefined. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return undefined;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/.exec(q.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = {
    n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  return Number(m[1]) * mult[m[2] ?? ""];
}

/** POD-9 cpu, memory and ephemeral-storage requests and limits (requests ≤ limits). */
export const pod9 = perContainer("POD-9", (_t, { c }) => {
  const r: string[] = [];
  for (const kind of ["requests", "limits"]) {
    const missing = RESOURCE_NAMES.filter((n) => c?.resources?.[kind]?.[n] === undefined);
    if (missing.length) r.push(`resources.${kind} lacks ${missing.join(", ")}`);
  }
  for (const n of RESOURCE_NAMES) {
    const req = parseQuantity(c?.resources?.requests?.[n]);
    const lim = parseQuantity(c?.resources?.limits?.[n]);
    if (req !== undefined && lim !== undefined && req > lim) r.push(`${n} request ${c.resources.requests[n]} exceeds its limit ${c.resources.limits[n]}`);
  }
  return r;
});

/** The port a probe talks to, or undefined for exec probes. */
function probePort(p: any): { port: number | string; how: string } | undefined {
  if (p?.httpGet) return { port: p.httpGet.port, how: "httpGet" };
  if (p?.tcpSocket) return { port: p.tcpSocket.port, how: "tcpSocket" };
  if (p?.grpc) return { port: p.grpc.port, how: "grpc" };
  return undefined;
}

/**
 * What a probe checks, as kube-score's pod-probes-identical compares them: the handler alone (exec command,
 * HTTP path and port, TCP port, gRPC port and service), named ports resolved; timings do not make two checks differ.
 */
function probeCheck(p: any, ports: any[]): unknown {
  const port = (v: unknown) => (typeof v === "string" ? ports.find((cp: any) => cp?.name === v)?.containerPort ?? v : v);
  if (p?.exec) return { exec: asArray(p.exec.command) };
  if (p?.httpGet) return { httpGet: { path: p.httpGet.path ?? "/", port: port(p.httpGet.port), host: p.httpGet.host, scheme: p.httpGet.scheme ?? "HTTP" } };
  if (p?.tcpSocket) return { tcpSocket: { port: port(p.tcpSocket.port), host: p.tcpSocket.host } };
  if (p?.grpc) return { grpc: { port: p.grpc.port, service: p.grpc.service ?? "" } };
  return p;
}

/** POD-10 readiness and liveness probes on every long-running container, checking different things, on a declared port. */
export const pod10 = perContainer("POD-10", (t, { c, init }) => {
  if (!t.longRunning || init) return [];
  const r: string[] = [];
  for (const kind of ["readinessProbe", "livenessProbe"]) if (!isObject(c?.[kind])) r.push(`${kind} is missing`);
  const ports = asArray(c?.ports);
  if (isObject(c?.readinessProbe) && isObject(c?.livenessProbe) && isDeepStrictEqual(probeCheck(c.readinessProbe, ports), probeCheck(c.livenessProbe, ports)))
    r.push("readinessProbe and livenessProbe are identical checks (only their timings differ): make readiness prove the container can serve now, liveness that it is not wedged");
  for (const kind of ["readinessProbe", "livenessProbe", "startupProbe"]) {
    const p = c?.[kind];
    if (!isObject(p)) continue;
    if (!p.exec && !p.httpGet && !p.tcpSocket && !p.grpc) {
      r.push(`${kind} has no handler`);
      continue;
    }
    const pp = probePort(p);
    if (!pp) continue;
    const declared = asArray(c?.ports).some((cp: any) => (typeof pp.port === "number" ? cp?.containerPort === pp.port : cp?.name === pp.port));
    if (!declared) r.push(`${kind} ${pp.how} port ${JSON.stringify(pp.port)} is not a declared containerPort`);
  }
  return r;
});

/** "digest" | "tag" | "latest" | "untagged" */
export function imageTagKind(image: string): "digest" | "tag" | "latest" | "untagged" {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return "digest";
  const last = image.slice(image.lastIndexOf("/") + 1);
  const i = last.indexOf(":");
  if (i < 0) return "untagged";
  const tag = last.slice(i + 1);
  return tag === "" ? "untagged" : tag === "latest" ? "latest" : "tag";
}

/** POD-11 explicit tag that is not `latest`, or a digest. Prod only: dev may follow a moving tag. */
export const pod11: Check = (objects, ctx) => {
  if (ctx.stack !== "prod") return [];
  return perContainer("POD-11", (_t, { c }) => {
    if (typeof c?.image !== "string" || c.image === "") return ["has no image"];
    const k = imageTagKind(c.image);
    if (k === "latest") return [`image ${c.image} uses the moving tag latest; pin a version or a digest`];
    if (k === "untagged") return [`image ${c.image} has no tag (means latest); pin a version or a digest`];
    return [];
  })(objects, ctx);
};

/** POD-12 no secret as a literal env `value` (valueFrom.secretKeyRef or a mounted file instead). */
export const pod12: Check = (objects) => envLiteralFindings(objects, "POD-12");

const PSS_LABELS = ["enforce", "warn", "audit"].map((m) => `pod-security.kubernetes.io/${m}`);

/** POD-13 the stack's Namespace carries pod-security enforce/warn/audit = restricted. */
export const pod13: Check = (objects, ctx) => {
  const ns = findObject(objects, "Namespace", ctx.namespace);
  if (!ns) return [violation("POD-13", `Namespace/${ctx.namespace}`, "the stack's Namespace is not among the objects")];
  const out: Violation[] = [];
  for (const l of PSS_LABELS) {
    const v = ns.metadata.labels?.[l];
    if (v !== "restricted") out.push(violation("POD-13", ns, `label ${l} must be "restricted" (is ${v ?? "unset"})`));
  }
  return out;
};

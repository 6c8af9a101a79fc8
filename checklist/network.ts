// NET-1..3: default deny, the exact allowed flow graph, and a single exposed Service.

import {
  Check,
  K8sObject,
  LabelSelector,
  PolicyContext,
  Violation,
  appName,
  asArray,
  containersOf,
  isEmptySelector,
  isObject,
  namespaceLabels,
  ofKind,
  podTemplates,
  ref,
  selectorMatches,
  violation,
} from "./k8s";

// ---------------------------------------------------------------------------
// Port sets: lists of [lo, hi] intervals per protocol

export type Proto = "TCP" | "UDP" | "SCTP";
const PROTOS: Proto[] = ["TCP", "UDP", "SCTP"];
export interface Interval {
  proto: Proto;
  lo: number;
  hi: number;
}
export type PortSet = Interval[];

const ALL_PORTS: PortSet = PROTOS.map((proto) => ({ proto, lo: 1, hi: 65535 }));

function normalize(s: PortSet): PortSet {
  const out: PortSet = [];
  for (const proto of PROTOS) {
    const iv = s.filter((i) => i.proto === proto && i.lo <= i.hi).sort((a, b) => a.lo - b.lo);
    for (const i of iv) {
      const last = out[out.length - 1];
      if (last && last.proto === proto && i.lo <= last.hi + 1) last.hi = Math.max(last.hi, i.hi);
      else out.push({ ...i });
    }
  }
  return out;
}

function union(...sets: PortSet[]): PortSet {
  return normalize(sets.flat());
}

function intersect(a: PortSet, b: PortSet): PortSet {
  const out: PortSet = [];
  for (const x of a) for (const y of b) if (x.proto === y.proto) out.push({ proto: x.proto, lo: Math.max(x.lo, y.lo), hi: Math.min(x.hi, y.hi) });
  return normalize(out);
}

function subtract(a: PortSet, b: PortSet): PortSet {
  let cur = normalize(a);
  for (const y of normalize(b)) {
    const next: PortSet = [];
    for (const x of cur) {
      if (x.proto !== y.proto || y.hi < x.lo || y.lo > x.hi) next.push(x);
      else {
        if (x.lo < y.lo) next.push({ proto: x.proto, lo: x.lo, hi: y.lo - 1 });
        if (x.hi > y.hi) next.push({ proto: x.proto, lo: y.hi + 1, hi: x.hi });
      }
    }
    cur = next;
  }
  return normalize(cur);
}

export function formatPorts(s: PortSet): string {
  const n = normalize(s);
  if (subtract(ALL_PORTS, n).length === 0) return "any port";
  return n.map((i) => (i.lo === i.hi ? `${i.proto}/${i.lo}` : i.lo === 1 && i.hi === 65535 ? `${i.proto}/any` : `${i.proto}/${i.lo}-${i.hi}`)).join(", ");
}

const port = (proto: Proto, p: number): Interval => ({ proto, lo: p, hi: p });

// ---------------------------------------------------------------------------
// Endpoints: our pods, cluster DNS, and everything else

export const ANYONE = "*";
export const DNS = "kube-dns";
/** Clients and servers outside the cluster (the internet, node IPs of NodePort/LoadBalancer traffic). */
export const EXTERNAL = "external";
/** Pods of other namespaces (kube-dns aside). */
export const FOREIGN = "other-namespaces";
const KUBE_SYSTEM = "kube-system";
const DNS_POD_LABELS = { "k8s-app": "kube-dns" };
/** The Prometheus allowed to scrape the exporters: the committed stacks' asky:monitoring.scraper. */
export const MONITORING = "monitoring";
export const SCRAPER = { namespace: "monitoring", podLabels: { "app.kubernetes.io/name": "prometheus" } as Record<string, string> };

interface Endpoint {
  id: string;
  kind: "pod" | "dns" | "external" | "foreign" | "scraper";
  labels: Record<string, string>;
  ports: any[];
  owner?: K8sObject;
  /** Names of the pod's containers. */
  containers?: string[];
}

/**
 * The allowed flows, by app.kubernetes.io/name. `from: "*"` means any source: external
 * clients (only an ingress rule without `from`, or an ipBlock, admits them) and pods of
 * other namespaces; pods of the namespace still need their own egress and are listed
 * one by one. The pods of DNS_CLIENTS also reach DNS (kube-system/k8s-app=kube-dns) on 53/UDP
 * and 53/TCP; no other pod does. Pods absent from the objects drop their flows, and a flow marked `ifDeclared` is
 * expected only when its destination declares that container port (the gateway's HTTPS
 * exists only with TLS on). The gateway's internal listener (8090, GATEWAY_URL) is
 * request-management's only way in; its probe ports are open to nobody (the kubelet is).
 */
export const EXPECTED_FLOWS: { from: string; to: string; port: number; protocol: Proto; ifDeclared?: boolean; ifUploads?: boolean }[] = [
  { from: ANYONE, to: "gateway", port: 8080, protocol: "TCP" },
  { from: ANYONE, to: "gateway", port: 8443, protocol: "TCP", ifDeclared: true },
  { from: "gateway", to: "auth", port: 8003, protocol: "TCP" },
  { from: "gateway", to: "pyxis", port: 8001, protocol: "TCP" },
  { from: "gateway", to: "request-management", port: 8002, protocol: "TCP" },
  { from: "auth", to: "postgres", port: 5432, protocol: "TCP" },
  { from: "pyxis", to: "postgres", port: 5432, protocol: "TCP" },
  { from: "request-management", to: "postgres", port: 5432, protocol: "TCP" },
  { from: "pyxis", to: "redis", port: 6379, protocol: "TCP" },
  { from: "request-management", to: "redis", port: 6379, protocol: "TCP" },
  { from: "request-management", to: "gateway", port: 8090, protocol: "TCP" },
  { from: "postgres-backup", to: "postgres", port: 5432, protocol: "TCP" },
  { from: "postgres-bootstrap", to: "postgres", port: 5432, protocol: "TCP" },
  { from: "postgres-exporter", to: "postgres", port: 5432, protocol: "TCP" },
  // The exporters, where a pod declares their port, reached only by the scraping Prometheus.
  { from: MONITORING, to: "gateway", port: 9113, protocol: "TCP", ifDeclared: true },
  { from: MONITORING, to: "gateway", port: 3903, protocol: "TCP", ifDeclared: true },
  { from: MONITORING, to: "redis", port: 9121, protocol: "TCP", ifDeclared: true },
  { from: MONITORING, to: "postgres-exporter", port: 9187, protocol: "TCP", ifDeclared: true },
  // The backup's copy off the cluster (asky:backup.offsite), only from a backup pod that has the upload container.
  { from: "postgres-backup", to: EXTERNAL, port: 443, protocol: "TCP", ifUploads: true },
];
export const DNS_PORTS: PortSet = [port("UDP", 53), port("TCP", 53)];
/**
 * The pods that resolve names, the only ones that may reach DNS: the gateway (the services' names when
 * NGINX starts), the services (postgres.<ns>, redis, gateway-internal), postgres-exporter (postgres) and
 * the Jobs (postgres). postgres and redis resolve nothing; the exporters beside NGINX and Redis read loopback.
 */
export const DNS_CLIENTS: ReadonlySet<string> = new Set(["gateway", "auth", "pyxis", "request-management", "postgres-exporter", "postgres-bootstrap", "postgres-backup"]);

function expectedPorts(src: Endpoint, dst: Endpoint): PortSet {
  if (dst.kind === "dns") return src.kind === "pod" && DNS_CLIENTS.has(src.id) ? DNS_PORTS : [];
  const out: PortSet = [];
  for (const f of EXPECTED_FLOWS) {
    if (f.to !== dst.id) continue;
    if (f.ifDeclared && !dst.ports.some((p) => p?.containerPort === f.port && (p.protocol ?? "TCP") === f.protocol)) continue;
    if (f.ifUploads && !src.containers?.includes("upload")) continue;
    if (f.from === ANYONE ? src.kind === "external" || src.kind === "foreign" || src.kind === "scraper" : f.from === src.id) out.push(port(f.protocol, f.port));
  }
  return normalize(out);
}

// ---------------------------------------------------------------------------
// NetworkPolicy semantics (networking.k8s.io/v1)

interface Env {
  ns: string;
  nsLabels: Record<string, string>;
}

/** Values of kubernetes.io/metadata.name a namespaceSelector is pinned to, or undefined if it can match any namespace. */
function pinnedNamespaces(sel: LabelSelector): string[] | undefined {
  const key = "kubernetes.io/metadata.name";
  let pinned: string[] | undefined;
  if (sel.matchLabels?.[key] !== undefined) pinned = [sel.matchLabels[key]];
  for (const e of sel.matchExpressions ?? []) if (e.key === key && e.operator === "In") pinned = pinned ? pinned.filter((p) => e.values?.includes(p)) : [...(e.values ?? [])];
  return pinned;
}

/** Whether a podSelector can only match DNS pods. */
function onlyDnsPods(sel: LabelSelector | undefined): boolean {
  if (!sel) return false;
  if (sel.matchLabels?.["k8s-app"] === "kube-dns") return true;
  return (sel.matchExpressions ?? []).some((e) => e.key === "k8s-app" && e.operator === "In" && (e.values ?? []).every((v) => v === "kube-dns"));
}

/** Whether a CIDR lies inside 169.254.0.0/16. */
function isLinkLocal(cidr: unknown): boolean {
  const m = /^169\.254\.\d{1,3}\.\d{1,3}\/(\d{1,2})$/.exec(String(cidr));
  return !!m && Number(m[1]) >= 16;
}

/** Whether a podSelector can only match the scraper's pods. */
function onlyScraperPods(sel: LabelSelector | undefined): boolean {
  return !!sel && Object.entries(SCRAPER.podLabels).every(([k, v]) => sel.matchLabels?.[k] === v);
}

function peerMatches(peer: any, ep: Endpoint, env: Env): boolean {
  if (!isObject(peer)) return false;
  // Pod IPs are not knowable and CNIs differ on ipBlock for pods: an ipBlock means "external",
  // except a link-local one (169.254.0.0/16): a node's own DNS resolver (NodeLocal DNSCache, GKE).
  if (peer.ipBlock) return isLinkLocal(peer.ipBlock.cidr) ? ep.kind === "dns" : ep.kind === "external";
  if (ep.kind === "external") return false; // selectors only ever select pods
  const nsSel: LabelSelector | undefined = peer.namespaceSelector;
  const podSel: LabelSelector | undefined = peer.podSelector;
  if (nsSel === undefined && podSel === undefined) return false;
  switch (ep.kind) {
    case "pod":
      return (nsSel === undefined || selectorMatches(nsSel, env.nsLabels)) && (podSel === undefined || selectorMatches(podSel, ep.labels));
    case "dns":
      return nsSel !== undefined && selectorMatches(nsSel, { "kubernetes.io/metadata.name": KUBE_SYSTEM }) && (podSel === undefined || selectorMatches(podSel, DNS_POD_LABELS));
    case "scraper":
      return nsSel !== undefined && selectorMatches(nsSel, { "kubernetes.io/metadata.name": SCRAPER.namespace }) && (podSel === undefined || selectorMatches(podSel, ep.labels));
    case "foreign": {
      if (nsSel === undefined) return false; // a bare podSelector stays in the namespace
      const pinned = pinnedNamespaces(nsSel);
      if (!pinned) return true;
      const scraperOnly = (n: string) => n === SCRAPER.namespace && onlyScraperPods(podSel);
      return pinned.some((n) => n !== env.ns && n !== KUBE_SYSTEM && !scraperOnly(n)) || (pinned.includes(KUBE_SYSTEM) && !onlyDnsPods(podSel));
    }
  }
}

function policyTypes(p: K8sObject): { ingress: boolean; egress: boolean } {
  const t = p.spec?.policyTypes;
  if (Array.isArray(t)) return { ingress: t.includes("Ingress"), egress: t.includes("Egress") };
  return { ingress: true, egress: asArray(p.spec?.egress).length > 0 };
}

/** Ports of a rule, named ports resolved on the destination pod. */
function rulePorts(rule: any, dst: Endpoint): PortSet {
  const ports = asArray(rule?.ports);
  if (ports.length === 0) return ALL_PORTS;
  const out: PortSet = [];
  for (const p of ports) {
    const proto: Proto = p?.protocol ?? "TCP";
    if (p?.port === undefined) out.push({ proto, lo: 1, hi: 65535 });
    else if (typeof p.port === "number") out.push({ proto, lo: p.port, hi: typeof p.endPort === "number" ? p.endPort : p.port });
    else
      for (const cp of dst.ports)
        if (cp?.name === p.port && (cp.protocol ?? "TCP") === proto) out.push(port(proto, cp.containerPort));
  }
  return normalize(out);
}

interface Grant {
  policy: K8sObject;
  ports: PortSet;
}

/** What one side allows. `isolated` false means no policy restricts that side. */
function sideGrants(side: "ingress" | "egress", self: Endpoint, peer: Endpoint, policies: K8sObject[], env: Env): { isolated: boolean; grants: Grant[] } {
  if (self.kind !== "pod") return { isolated: false, grants: [] };
  const selecting = policies.filter((p) => policyTypes(p)[side] && selectorMatches(p.spec?.podSelector ?? {}, self.labels));
  if (selecting.length === 0) return { isolated: false, grants: [] };
  const dst = side === "egress" ? peer : self;
  const grants: Grant[] = [];
  for (const p of selecting) {
    for (const rule of asArray(p.spec?.[side])) {
      const peers = asArray(rule?.[side === "egress" ? "to" : "from"]);
      if (peers.length > 0 && !peers.some((x) => peerMatches(x, peer, env))) continue;
      const ports = rulePorts(rule, dst);
      if (ports.length) grants.push({ policy: p, ports });
    }
  }
  return { isolated: true, grants };
}

function allowed(s: { isolated: boolean; grants: Grant[] }): PortSet {
  return s.isolated ? union(...s.grants.map((g) => g.ports)) : ALL_PORTS;
}

export interface Flow {
  from: string;
  to: string;
  ports: PortSet;
}

function endpointsOf(objects: readonly K8sObject[], ctx: PolicyContext): Endpoint[] {
  const byId = new Map<string, Endpoint>();
  for (const t of podTemplates(objects)) {
    if (t.owner.metadata.namespace !== ctx.namespace) continue;
    const id = appName(t);
    const ports = containersOf(t.spec).flatMap((c) => asArray(c.c?.ports));
    const containers = containersOf(t.spec).map((c) => String(c.c?.name));
    const prev = byId.get(id);
    if (prev) {
      prev.ports.push(...ports);
      prev.containers!.push(...containers);
    } else byId.set(id, { id, kind: "pod", labels: t.metadata.labels ?? {}, ports, owner: t.owner, containers });
  }
  return [...byId.values()];
}

/** The effective flow graph: src → dst ports allowed by src's egress AND dst's ingress. */
export function effectiveFlows(objects: readonly K8sObject[], ctx: PolicyContext): Flow[] {
  return analyse(objects, ctx).map((p) => ({ from: p.src.id, to: p.dst.id, ports: p.effective })).filter((f) => f.ports.length > 0);
}

function analyse(objects: readonly K8sObject[], ctx: PolicyContext) {
  const env: Env = { ns: ctx.namespace, nsLabels: namespaceLabels(objects, ctx.namespace) };
  const policies = ofKind(objects, "NetworkPolicy").filter((p) => p.metadata.namespace === ctx.namespace);
  const pods = endpointsOf(objects, ctx);
  // CoreDNS's container port names, so an egress rule may name them
  const dnsPorts = [
    { name: "dns", containerPort: 53, protocol: "UDP" },
    { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
  ];
  const dns: Endpoint = { id: DNS, kind: "dns", labels: DNS_POD_LABELS, ports: dnsPorts };
  const external: Endpoint = { id: EXTERNAL, kind: "external", labels: {}, ports: [] };
  const foreign: Endpoint = { id: FOREIGN, kind: "foreign", labels: {}, ports: [] };
  const scraper: Endpoint = { id: MONITORING, kind: "scraper", labels: SCRAPER.podLabels, ports: [] };
  const pairs = [];
  for (const src of [...pods, external, foreign, scraper])
    for (const dst of [...pods, dns, external, foreign, scraper]) {
      if (src.kind !== "pod" && dst.kind !== "pod") continue;
      const eg = sideGrants("egress", src, dst, policies, env);
      const ing = sideGrants("ingress", dst, src, policies, env);
      const eAllowed = allowed(eg);
      const iAllowed = allowed(ing);
      pairs.push({ src, dst, eg, ing, eAllowed, iAllowed, effective: intersect(eAllowed, iAllowed), expected: expectedPorts(src, dst) });
    }
  return pairs;
}

/** NET-1 a default-deny NetworkPolicy (empty podSelector, no rules) for Ingress and for Egress. */
export const net1: Check = (objects, ctx) => {
  const policies = ofKind(objects, "NetworkPolicy").filter((p) => p.metadata.namespace === ctx.namespace);
  const denies = (side: "ingress" | "egress") =>
    policies.some((p) => isEmptySelector(p.spec?.podSelector) && policyTypes(p)[side] && asArray(p.spec?.[side]).length === 0);
  const out: Violation[] = [];
  for (const side of ["ingress", "egress"] as const)
    if (!denies(side))
      out.push(violation("NET-1", `Namespace/${ctx.namespace}`, `no default-deny NetworkPolicy for ${side} (podSelector {}, policyTypes [${side === "ingress" ? "Ingress" : "Egress"}], no rules)`));
  return out;
};

/**
 * NET-2 the effective flow graph equals EXPECTED_FLOWS (+ DNS for DNS_CLIENTS). A missing
 * flow is reported on the workload whose side blocks it; an extra flow on the policy that
 * grants it at the source (egress), else at the destination (ingress), else on the
 * workload nobody isolates.
 */
export const net2: Check = (objects, ctx) => {
  const out: Violation[] = [];
  const ownerRef = (e: Endpoint) => (e.owner ? ref(e.owner) : e.id);
  for (const p of analyse(objects, ctx)) {
    const label = `${p.src.id} → ${p.dst.id}`;
    const extra = subtract(p.effective, p.expected);
    if (extra.length) {
      const egPol = p.eg.grants.find((g) => intersect(g.ports, extra).length)?.policy;
      const inPol = p.ing.grants.find((g) => intersect(g.ports, extra).length)?.policy;
      const egText = p.eg.isolated ? `egress allowed by ${egPol ? ref(egPol) : "?"}` : `${p.src.id} has no egress isolation`;
      const inText = p.ing.isolated ? `ingress allowed by ${inPol ? ref(inPol) : "?"}` : `${p.dst.id} has no ingress isolation`;
      const blame = egPol ? ref(egPol) : inPol ? ref(inPol) : p.src.kind === "pod" ? ownerRef(p.src) : ownerRef(p.dst);
      out.push(violation("NET-2", blame, `extra flow ${label} ${formatPorts(extra)} (${egText}; ${inText})`));
    }
    const missing = subtract(p.expected, p.effective);
    if (missing.length) {
      const egBlocks = subtract(missing, p.eAllowed).length > 0;
      const inBlocks = subtract(missing, p.iAllowed).length > 0;
      const sides = [egBlocks ? `egress of ${p.src.id}` : "", inBlocks ? `ingress of ${p.dst.id}` : ""].filter(Boolean).join(" and ");
      const blame = egBlocks && p.src.kind === "pod" ? ownerRef(p.src) : p.dst.kind === "pod" ? ownerRef(p.dst) : ownerRef(p.src);
      out.push(violation("NET-2", blame, `missing flow ${label} ${formatPorts(missing)} (blocked by ${sides})`));
    }
  }
  return out;
};

/** The only Service reachable from outside the cluster. */
export const EXPOSED_SERVICE = "gateway";

/**
 * NET-3 only the gateway Service is exposed (NodePort 30000 in dev, LoadBalancer in
 * prod); every other Service is ClusterIP with no externalIPs; no Ingress or Gateway
 * API route sends traffic anywhere but the gateway.
 */
export const net3: Check = (objects, ctx) => {
  const out: Violation[] = [];
  for (const s of ofKind(objects, "Service")) {
    const type = s.spec?.type ?? "ClusterIP";
    if (asArray(s.spec?.externalIPs).length) out.push(violation("NET-3", s, "sets externalIPs"));
    if (s.metadata.name !== EXPOSED_SERVICE) {
      if (type !== "ClusterIP") out.push(violation("NET-3", s, `type ${type} exposes it outside the cluster; only ${EXPOSED_SERVICE} may be exposed`));
      continue;
    }
    if (ctx.stack === "dev") {
      if (type !== "NodePort") out.push(violation("NET-3", s, `must be NodePort in dev (is ${type})`));
      else if (!asArray(s.spec?.ports).some((p: any) => p?.nodePort === 30000)) out.push(violation("NET-3", s, "must use nodePort 30000 in dev"));
    } else if (type !== "LoadBalancer") out.push(violation("NET-3", s, `must be LoadBalancer in prod (is ${type})`));
  }
  for (const ing of ofKind(objects, "Ingress")) {
    const backends: string[] = [];
    if (ing.spec?.defaultBackend?.service?.name) backends.push(ing.spec.defaultBackend.service.name);
    for (const r of asArray(ing.spec?.rules)) for (const p of asArray(r?.http?.paths)) if (p?.backend?.service?.name) backends.push(p.backend.service.name);
    for (const b of backends) if (b !== EXPOSED_SERVICE) out.push(violation("NET-3", ing, `routes to Service ${b}; only ${EXPOSED_SERVICE} may be exposed`));
  }
  for (const r of ofKind(objects, "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"))
    for (const rule of asArray(r.spec?.rules))
      for (const b of asArray(rule?.backendRefs))
        if ((b?.kind ?? "Service") === "Service" && b?.name !== EXPOSED_SERVICE) out.push(violation("NET-3", r, `routes to Service ${b?.name}; only ${EXPOSED_SERVICE} may be exposed`));
  return out;
};

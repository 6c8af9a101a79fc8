// Schema validation of rendered objects against the Kubernetes OpenAPI schema, through
// kubernetes-models (ESM-only, loaded with a real dynamic import).
//
// kubernetes-models ships its schemas as ajv "standalone" validators compiled to JS
// (kubernetes-models/_schemas/*.js, @kubernetes-models/apimachinery/_schemas/*.js), not as
// JSON, and those schemas accept unknown fields. To close that gap without a second copy
// of the schema, the model's own validator runs on a recording Proxy of the object: for
// every object node, the generated code reads each property its schema declares
// (`void 0 !== data.x` for every entry of `properties`, needed or not), and enumerates the
// keys (for…in / Object.keys) only where the schema allows additionalProperties (labels,
// annotations, ConfigMap data, resource quantities). Any own key of a node that the
// validator neither read nor enumerated is not in the schema: "unknown field <path>".
// Nodes the validator never looked at (e.g. under a field of the wrong type, already an
// error) are not judged.

import { K8sObject, ref } from "../../checklist/k8s";

// With ts-node/tsc in CommonJS mode, `import()` would be rewritten to require(), which
// cannot load an ESM-only package; a Function keeps the real dynamic import.
const dynamicImport = new Function("s", "return import(s)") as (specifier: string) => Promise<any>;

const API_VERSION = /^(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?\/)?v\d+(?:(?:alpha|beta)\d+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

interface ModelClass {
  new (data: unknown): object;
  apiVersion: string;
  kind: string;
  prototype: { validate(): void };
}

const groupModules = new Map<string, Promise<Record<string, unknown> | undefined>>();

/** Models of custom resources the program may render: the Prometheus Operator's (ServiceMonitor, PrometheusRule). */
const CRD_MODEL_PACKAGES = ["@kubernetes-models/prometheus-operator"];

function loadGroupVersion(apiVersion: string): Promise<Record<string, unknown> | undefined> {
  let p = groupModules.get(apiVersion);
  if (!p) {
    p = dynamicImport(`kubernetes-models/${apiVersion}`).catch(() =>
      CRD_MODEL_PACKAGES.reduce<Promise<Record<string, unknown> | undefined>>(
        (found, pkg) => found.then((m) => m ?? dynamicImport(`${pkg}/${apiVersion}`).catch(() => undefined)),
        Promise.resolve(undefined),
      ));
    groupModules.set(apiVersion, p);
  }
  return p;
}

/** The kubernetes-models class for apiVersion+kind, or undefined if Kubernetes has no such type. */
export async function modelClassFor(apiVersion: unknown, kind: unknown): Promise<ModelClass | undefined> {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !API_VERSION.test(apiVersion) || !KIND.test(kind)) return undefined;
  const mod = await loadGroupVersion(apiVersion);
  const cls = mod?.[kind] as ModelClass | undefined;
  if (typeof cls !== "function" || cls.apiVersion !== apiVersion || cls.kind !== kind) return undefined;
  return cls;
}

/**
 * API versions Kubernetes no longer serves that kubernetes-models still ships (it keeps old
 * schemas): validating against them would pass objects a current cluster rejects.
 * From the Kubernetes deprecated API migration guide; `kinds` limits an entry where the
 * same version was later reused for other kinds.
 */
const REMOVED_API_VERSIONS: { apiVersion: string; kinds?: string[]; removedIn: string }[] = [
  { apiVersion: "extensions/v1beta1", removedIn: "1.22" },
  { apiVersion: "apps/v1beta1", removedIn: "1.16" },
  { apiVersion: "apps/v1beta2", removedIn: "1.16" },
  { apiVersion: "batch/v1beta1", removedIn: "1.25" },
  { apiVersion: "policy/v1beta1", removedIn: "1.25" },
  { apiVersion: "autoscaling/v2beta1", removedIn: "1.25" },
  { apiVersion: "autoscaling/v2beta2", removedIn: "1.26" },
  { apiVersion: "networking.k8s.io/v1beta1", kinds: ["Ingress", "IngressClass"], removedIn: "1.22" },
  { apiVersion: "rbac.authorization.k8s.io/v1beta1", removedIn: "1.22" },
  { apiVersion: "scheduling.k8s.io/v1beta1", removedIn: "1.22" },
  { apiVersion: "apiextensions.k8s.io/v1beta1", removedIn: "1.22" },
  { apiVersion: "apiregistration.k8s.io/v1beta1", removedIn: "1.22" },
  { apiVersion: "admissionregistration.k8s.io/v1beta1", kinds: ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"], removedIn: "1.22" },
  { apiVersion: "storage.k8s.io/v1beta1", kinds: ["StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"], removedIn: "1.22" },
  { apiVersion: "storage.k8s.io/v1beta1", kinds: ["CSIStorageCapacity"], removedIn: "1.27" },
  { apiVersion: "discovery.k8s.io/v1beta1", removedIn: "1.25" },
  { apiVersion: "events.k8s.io/v1beta1", removedIn: "1.25" },
  { apiVersion: "node.k8s.io/v1beta1", removedIn: "1.25" },
  { apiVersion: "flowcontrol.apiserver.k8s.io/v1beta1", removedIn: "1.26" },
  { apiVersion: "flowcontrol.apiserver.k8s.io/v1beta2", removedIn: "1.29" },
  { apiVersion: "flowcontrol.apiserver.k8s.io/v1beta3", removedIn: "1.32" },
];

/** "removed in Kubernetes 1.NN" when Kubernetes no longer serves apiVersion/kind. */
export function removedApi(apiVersion: string, kind: string): string | undefined {
  const r = REMOVED_API_VERSIONS.find((x) => x.apiVersion === apiVersion && (!x.kinds || x.kinds.includes(kind)));
  return r && `removed in Kubernetes ${r.removedIn}`;
}

interface NodeInfo {
  read: Set<string>;
  enumerated: boolean;
}

/** Records which properties of which nodes the validator reads or enumerates. */
class Recorder {
  readonly nodes = new WeakMap<object, NodeInfo>();
  private readonly proxies = new WeakMap<object, object>();

  private info(target: object): NodeInfo {
    let i = this.nodes.get(target);
    if (!i) {
      i = { read: new Set(), enumerated: false };
      this.nodes.set(target, i);
    }
    return i;
  }

  wrap<T>(value: T): T {
    if (value === null || typeof value !== "object") return value;
    const target = value as unknown as object;
    const cached = this.proxies.get(target);
    if (cached) return cached as T;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const rec = this;
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        if (typeof key === "string") rec.info(t).read.add(key);
        return rec.wrap(Reflect.get(t, key, receiver));
      },
      has(t, key) {
        if (typeof key === "string") rec.info(t).read.add(key);
        return Reflect.has(t, key);
      },
      ownKeys(t) {
        rec.info(t).enumerated = true;
        return Reflect.ownKeys(t);
      },
    });
    this.proxies.set(target, proxy);
    return proxy as T;
  }
}

function formatPath(segments: (string | number)[]): string {
  let s = "";
  for (const seg of segments) {
    if (typeof seg === "number" || /^\d+$/.test(seg)) s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) s += s ? `.${seg}` : seg;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

function pointerToPath(pointer: string): string {
  if (!pointer) return "";
  return formatPath(pointer.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~")));
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function suggestion(key: string, declared: Set<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of declared) {
    if (k === "length") continue;
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean ${best}?)` : "";
}

/** Paths of keys the validator never looked at, in nodes it did look at. */
function unknownFields(rec: Recorder, node: unknown, path: (string | number)[], out: string[]): void {
  if (node === null || typeof node !== "object") return;
  const info = rec.nodes.get(node);
  if (!info) return; // never visited: wrong type above (already an error) or a free-form schema
  if (Array.isArray(node)) {
    node.forEach((v, i) => {
      if (info.read.has(String(i))) unknownFields(rec, v, [...path, i], out);
    });
    return;
  }
  for (const [k, v] of Object.entries(node)) {
    if (!info.enumerated && !info.read.has(k)) {
      out.push(`unknown field ${formatPath([...path, k])}${suggestion(k, info.read)}`);
      continue;
    }
    unknownFields(rec, v, [...path, k], out);
  }
}

/**
 * The render replaces Secret values with a marker ("<redacted>", scripts/render.ts), which
 * is not base64 and would fail `data`'s format "byte". Such values are validated as if they
 * were the base64 of the marker: the schema has nothing to say about redacted content.
 */
export const REDACTION_MARKER = /^<redacted>/;

function unredact(o: K8sObject): K8sObject {
  if (o.kind !== "Secret" || o.data === null || typeof o.data !== "object") return o;
  const data = Object.fromEntries(
    Object.entries<unknown>(o.data).map(([k, v]) => [k, typeof v === "string" && REDACTION_MARKER.test(v) ? Buffer.from(v).toString("base64") : v]),
  );
  return { ...o, data };
}

/** Validates one object; returns messages without the "Kind/name: " prefix. */
export async function validateObject(o: K8sObject): Promise<string[]> {
  const cls = await modelClassFor(o?.apiVersion, o?.kind);
  if (!cls) return [`unknown apiVersion/kind ${JSON.stringify(o?.apiVersion)} ${JSON.stringify(o?.kind)}`];
  const removed = removedApi(o.apiVersion, o.kind);
  if (removed) return [`unknown apiVersion/kind ${JSON.stringify(o.apiVersion)} ${JSON.stringify(o.kind)}: ${removed}`];
  const errors: string[] = [];
  if (typeof o.metadata?.name !== "string" || o.metadata.name === "") errors.push("metadata.name is required");
  const model = new cls(unredact(o));
  const rec = new Recorder();
  try {
    cls.prototype.validate.call(rec.wrap(model));
  } catch (e: any) {
    const list: any[] = Array.isArray(e?.errors) ? e.errors : [{ instancePath: "", message: String(e?.message ?? e) }];
    for (const err of list) {
      const where = pointerToPath(err.instancePath ?? "");
      const extra = err.params?.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : "";
      errors.push(`${where || "(root)"} ${err.message ?? err.keyword}${extra}`);
    }
  }
  unknownFields(rec, model, [], errors);
  return [...new Set(errors)];
}

/** Every object against the Kubernetes schema: type errors, missing required fields, unknown fields, unknown kinds. */
export async function validateSchemas(objects: readonly K8sObject[]): Promise<string[]> {
  const out: string[] = [];
  for (const o of objects) for (const m of await validateObject(o)) out.push(`${ref(o)}: ${m}`);
  return out;
}

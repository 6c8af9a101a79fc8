// Tests of the checklist module (checklist/): a handcrafted good miniature stack passes
// every check in dev and prod; each check rejects a targeted mutation of it.

import assert from "node:assert/strict";
import { CHECK_IDS, K8sObject, PolicyContext, checkPolicy, formatViolations, runCheck } from "../checklist";
import { validateSchemas } from "./support/schema";
import { NAMESPACE, goodObjects } from "./fixtures/policy-good";

type Stack = "dev" | "prod";
const ctx = (stack: Stack): PolicyContext => ({ stack, namespace: NAMESPACE });

/** A deep copy of the good set, changed by `fn`. */
function mutated(stack: Stack, fn: (objs: K8sObject[]) => void): K8sObject[] {
  // JSON, not structuredClone: the latter keeps objects the fixture shares shared.
  const objs = JSON.parse(JSON.stringify(goodObjects(stack))) as K8sObject[];
  fn(objs);
  return objs;
}

function get(objs: K8sObject[], kind: string, name: string): any {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`fixture has no ${kind}/${name}`);
  return o;
}

function podSpec(o: any): any {
  return o.kind === "CronJob" ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
}

function container(o: any, i = 0): any {
  return podSpec(o).containers[i];
}

function remove(objs: K8sObject[], kind: string, name: string): void {
  const i = objs.findIndex((x) => x.kind === kind && x.metadata.name === name);
  if (i < 0) throw new Error(`fixture has no ${kind}/${name}`);
  objs.splice(i, 1);
}

const hit = new Set<string>();

/** Asserts that check `id` reports `object` (reason matching `reason`), alone and through checkPolicy. */
function expectViolation(id: string, stack: Stack, objs: K8sObject[], object: string, reason?: RegExp): void {
  const alone = runCheck(id, objs, ctx(stack));
  const match = (v: { id: string; object: string; reason: string }) => v.id === id && v.object === object && (!reason || reason.test(v.reason));
  assert.ok(alone.some(match), `expected ${id} on ${object}${reason ? ` matching ${reason}` : ""}; ${id} reported:\n${formatViolations(alone) || "(nothing)"}`);
  assert.ok(checkPolicy(objs, ctx(stack)).some(match), `checkPolicy lost the ${id} violation`);
  hit.add(id);
}

function expectClean(id: string, stack: Stack, objs: K8sObject[]): void {
  const v = runCheck(id, objs, ctx(stack));
  assert.deepEqual(v, [], formatViolations(v));
}

describe("policy checks (checklist/)", () => {
  describe("the good miniature stack", () => {
    for (const stack of ["dev", "prod"] as const) {
      it(`passes every check in ${stack}`, () => {
        const v = checkPolicy(goodObjects(stack), ctx(stack));
        assert.deepEqual(v, [], formatViolations(v));
      });
      it(`validates against the Kubernetes schema in ${stack}`, async () => {
        assert.deepEqual(await validateSchemas(goodObjects(stack)), []);
      });
    }
    it("formats violations one per line as 'ID Kind/name: reason'", () => {
      const objs = mutated("prod", (o) => {
        container(get(o, "Deployment", "gateway")).securityContext.allowPrivilegeEscalation = true;
        container(get(o, "Deployment", "redis")).securityContext.allowPrivilegeEscalation = true;
      });
      const text = formatViolations(runCheck("POD-1", objs, ctx("prod")));
      assert.equal(
        text,
        'POD-1 Deployment/redis: container "redis": securityContext.allowPrivilegeEscalation must be false\n' +
          'POD-1 Deployment/gateway: container "nginx": securityContext.allowPrivilegeEscalation must be false',
      );
    });
    it("runCheck refuses an unknown ID", () => {
      assert.throws(() => runCheck("POD-99", [], ctx("dev")), /unknown check POD-99/);
    });
  });

  describe("POD", () => {
    it("POD-1 rejects allowPrivilegeEscalation true", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "gateway")).securityContext.allowPrivilegeEscalation = true));
      expectViolation("POD-1", "dev", objs, "Deployment/gateway", /allowPrivilegeEscalation/);
    });
    it("POD-1 rejects an init container without allowPrivilegeEscalation false", () => {
      const objs = mutated("dev", (o) => {
        const c = container(get(o, "StatefulSet", "postgres"));
        podSpec(get(o, "StatefulSet", "postgres")).initContainers = [{ ...structuredClone(c), name: "init", securityContext: { ...c.securityContext, allowPrivilegeEscalation: undefined } }];
      });
      expectViolation("POD-1", "dev", objs, "StatefulSet/postgres", /initContainer "init"/);
    });
    it("POD-2 rejects a container that overrides runAsUser with 0", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "pyxis")).securityContext.runAsUser = 0));
      expectViolation("POD-2", "dev", objs, "Deployment/pyxis", /runAsUser/);
    });
    it("POD-2 rejects a pod without runAsNonRoot and runAsGroup", () => {
      const objs = mutated("dev", (o) => {
        const sc = podSpec(get(o, "CronJob", "postgres-backup")).securityContext;
        delete sc.runAsNonRoot;
        delete sc.runAsGroup;
      });
      expectViolation("POD-2", "dev", objs, "CronJob/postgres-backup", /runAsNonRoot/);
      expectViolation("POD-2", "dev", objs, "CronJob/postgres-backup", /runAsGroup/);
    });
    it("POD-3 rejects a container that keeps capabilities", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "redis")).securityContext.capabilities = { drop: ["NET_RAW"] }));
      expectViolation("POD-3", "dev", objs, "Deployment/redis", /drop must contain "ALL"/);
    });
    it("POD-3 rejects a container that adds a capability", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "redis")).securityContext.capabilities.add = ["NET_BIND_SERVICE"]));
      expectViolation("POD-3", "dev", objs, "Deployment/redis", /add must be empty/);
    });
    it("POD-4 rejects a container that overrides seccomp with Unconfined", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Job", "postgres-bootstrap-3f9a2c1e")).securityContext.seccompProfile = { type: "Unconfined" }));
      expectViolation("POD-4", "dev", objs, "Job/postgres-bootstrap-3f9a2c1e", /Unconfined/);
    });
    it("POD-4 rejects a pod without a seccomp profile", () => {
      const objs = mutated("dev", (o) => delete podSpec(get(o, "Deployment", "redis")).securityContext.seccompProfile);
      expectViolation("POD-4", "dev", objs, "Deployment/redis", /unset/);
    });
    it("POD-5 rejects a hostPath volume", () => {
      const objs = mutated("dev", (o) => podSpec(get(o, "Deployment", "pyxis")).volumes.push({ name: "host", hostPath: { path: "/var/run" } }));
      expectViolation("POD-5", "dev", objs, "Deployment/pyxis", /hostPath/);
    });
    it("POD-6 rejects hostNetwork, hostPort and privileged", () => {
      const objs = mutated("dev", (o) => {
        const d = get(o, "Deployment", "gateway");
        podSpec(d).hostNetwork = true;
        container(d).ports[0].hostPort = 80;
        container(get(o, "Deployment", "redis")).securityContext.privileged = true;
      });
      expectViolation("POD-6", "dev", objs, "Deployment/gateway", /hostNetwork/);
      expectViolation("POD-6", "dev", objs, "Deployment/gateway", /hostPort 80/);
      expectViolation("POD-6", "dev", objs, "Deployment/redis", /privileged/);
    });
    it("POD-7 rejects a writable root filesystem", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "pyxis")).securityContext.readOnlyRootFilesystem = false));
      expectViolation("POD-7", "dev", objs, "Deployment/pyxis", /readOnlyRootFilesystem/);
    });
    it("POD-7 rejects postgres without a Memory emptyDir on /dev/shm", () => {
      const objs = mutated("dev", (o) => delete podSpec(get(o, "StatefulSet", "postgres")).volumes.find((v: any) => v.name === "shm").emptyDir.medium);
      expectViolation("POD-7", "dev", objs, "StatefulSet/postgres", /\/dev\/shm/);
    });
    it("POD-7 rejects nginx without an emptyDir on /tmp", () => {
      const objs = mutated("dev", (o) => {
        const c = container(get(o, "Deployment", "gateway"));
        c.volumeMounts = c.volumeMounts.filter((m: any) => m.mountPath !== "/tmp");
      });
      expectViolation("POD-7", "dev", objs, "Deployment/gateway", /nginx writes to \/tmp/);
    });
    it("POD-8 rejects a pod that mounts the service account token", () => {
      const objs = mutated("dev", (o) => delete podSpec(get(o, "Deployment", "redis")).automountServiceAccountToken);
      expectViolation("POD-8", "dev", objs, "Deployment/redis", /automountServiceAccountToken/);
    });
    it("POD-8 accepts a pod whose ServiceAccount disables the token", () => {
      const objs = mutated("dev", (o) => {
        const spec = podSpec(get(o, "Deployment", "redis"));
        delete spec.automountServiceAccountToken;
        spec.serviceAccountName = "redis";
        o.push({ apiVersion: "v1", kind: "ServiceAccount", metadata: { ...structuredClone(get(o, "Deployment", "redis").metadata) }, automountServiceAccountToken: false });
      });
      expectClean("POD-8", "dev", objs);
    });
    it("POD-9 rejects an init container without an ephemeral-storage limit", () => {
      const objs = mutated("dev", (o) => {
        const c = structuredClone(container(get(o, "Deployment", "pyxis")));
        delete c.resources.limits["ephemeral-storage"];
        podSpec(get(o, "Deployment", "pyxis")).initContainers = [{ name: "wait", image: c.image, securityContext: c.securityContext, resources: c.resources }];
      });
      expectViolation("POD-9", "dev", objs, "Deployment/pyxis", /initContainer "wait".*limits lacks ephemeral-storage/);
    });
    it("POD-9 rejects a container without cpu requests and with requests above limits", () => {
      const objs = mutated("dev", (o) => {
        const r = container(get(o, "Deployment", "redis")).resources;
        delete r.requests.cpu;
        r.requests.memory = "1Gi";
      });
      expectViolation("POD-9", "dev", objs, "Deployment/redis", /requests lacks cpu/);
      expectViolation("POD-9", "dev", objs, "Deployment/redis", /memory request 1Gi exceeds its limit 256Mi/);
    });
    it("POD-10 rejects a long-running container without a liveness probe", () => {
      const objs = mutated("dev", (o) => delete container(get(o, "Deployment", "redis")).livenessProbe);
      expectViolation("POD-10", "dev", objs, "Deployment/redis", /livenessProbe is missing/);
    });
    it("POD-10 rejects identical readiness and liveness probes", () => {
      const objs = mutated("dev", (o) => {
        const c = container(get(o, "Deployment", "pyxis"));
        c.livenessProbe = structuredClone(c.readinessProbe);
      });
      expectViolation("POD-10", "dev", objs, "Deployment/pyxis", /identical/);
    });
    it("POD-10 rejects readiness and liveness that differ only in timing (kube-score pod-probes-identical compares the handlers)", () => {
      const tcp = mutated("dev", (o) => {
        const c = container(get(o, "Deployment", "pyxis"));
        c.readinessProbe = { tcpSocket: { port: "http" }, periodSeconds: 5, failureThreshold: 3 };
      });
      expectViolation("POD-10", "dev", tcp, "Deployment/pyxis", /identical checks \(only their timings differ\)/);
      // A named port and its number are the same check.
      const named = mutated("dev", (o) => (container(get(o, "Deployment", "gateway")).livenessProbe.httpGet.port = "ready"));
      expectViolation("POD-10", "dev", named, "Deployment/gateway", /identical checks/);
      const otherPath = mutated("dev", (o) => (container(get(o, "Deployment", "gateway")).livenessProbe = { httpGet: { path: "/live", port: 8091 }, periodSeconds: 20 }));
      expectClean("POD-10", "dev", otherPath);
    });
    it("POD-10 rejects a probe on a port the container does not declare", () => {
      const objs = mutated("dev", (o) => (container(get(o, "StatefulSet", "postgres")).livenessProbe.tcpSocket.port = "pg"));
      expectViolation("POD-10", "dev", objs, "StatefulSet/postgres", /livenessProbe tcpSocket port "pg"/);
      const numeric = mutated("dev", (o) => (container(get(o, "Deployment", "gateway")).readinessProbe.httpGet.port = 80));
      expectViolation("POD-10", "dev", numeric, "Deployment/gateway", /readinessProbe httpGet port 80/);
    });
    it("POD-11 rejects :latest and untagged images in prod", () => {
      const objs = mutated("prod", (o) => {
        container(get(o, "Deployment", "pyxis")).image = "elisaflemer/asky-pyxis:latest";
        container(get(o, "Deployment", "redis")).image = "registry.local:5000/redis";
      });
      expectViolation("POD-11", "prod", objs, "Deployment/pyxis", /latest/);
      expectViolation("POD-11", "prod", objs, "Deployment/redis", /no tag/);
    });
    it("POD-11 allows a moving tag in dev", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "redis")).image = "redis"));
      assert.equal(container(get(objs, "Deployment", "pyxis")).image, "elisaflemer/asky-pyxis:latest");
      expectClean("POD-11", "dev", objs);
    });
    it("POD-12 rejects a password as a literal env value", () => {
      const objs = mutated("dev", (o) => container(get(o, "Deployment", "pyxis")).env.push({ name: "DB_PASSWORD", value: "postgres" }));
      expectViolation("POD-12", "dev", objs, "Deployment/pyxis", /DB_PASSWORD/);
    });
    it("POD-12 rejects a DATABASE_URL with its password as a literal env value", () => {
      const objs = mutated("dev", (o) => {
        container(get(o, "Deployment", "pyxis")).env[0] = { name: "DATABASE_URL", value: "postgresql+asyncpg://pyxis:s3cret@postgres:5432/asky" };
      });
      expectViolation("POD-12", "dev", objs, "Deployment/pyxis", /URL with an embedded password/);
    });
    it("POD-13 rejects a namespace without restricted pod security labels", () => {
      const objs = mutated("dev", (o) => {
        const l = get(o, "Namespace", NAMESPACE).metadata.labels;
        l["pod-security.kubernetes.io/enforce"] = "baseline";
        delete l["pod-security.kubernetes.io/audit"];
      });
      expectViolation("POD-13", "dev", objs, `Namespace/${NAMESPACE}`, /enforce must be "restricted" \(is baseline\)/);
      expectViolation("POD-13", "dev", objs, `Namespace/${NAMESPACE}`, /audit/);
    });
    it("POD-13 rejects a stack without its Namespace", () => {
      const objs = mutated("dev", (o) => remove(o, "Namespace", NAMESPACE));
      expectViolation("POD-13", "dev", objs, `Namespace/${NAMESPACE}`, /not among the objects/);
    });
  });

  describe("WIRE", () => {
    it("WIRE-1 rejects a Service selecting `app: py` (the seed's typo)", () => {
      const objs = mutated("dev", (o) => (get(o, "Service", "pyxis").spec.selector = { app: "py" }));
      expectViolation("WIRE-1", "dev", objs, "Service/pyxis", /matches no workload/);
    });
    it("WIRE-1 rejects a Service selecting two workloads", () => {
      const objs = mutated("dev", (o) => (get(o, "Service", "pyxis").spec.selector = { "app.kubernetes.io/part-of": "asky" }));
      expectViolation("WIRE-1", "dev", objs, "Service/pyxis", /matches \d+ workloads/);
    });
    it("WIRE-1 rejects a Deployment whose selector misses its pod labels", () => {
      const objs = mutated("dev", (o) => (get(o, "Deployment", "redis").spec.selector.matchLabels["app.kubernetes.io/name"] = "cache"));
      expectViolation("WIRE-1", "dev", objs, "Deployment/redis", /spec.selector/);
    });
    it("WIRE-2 rejects a Service on the wrong target port", () => {
      const objs = mutated("dev", (o) => (get(o, "Service", "pyxis").spec.ports[0].targetPort = 8000));
      expectViolation("WIRE-2", "dev", objs, "Service/pyxis", /TCP 8000/);
    });
    it("WIRE-2 rejects a named target port no container declares", () => {
      const objs = mutated("dev", (o) => (get(o, "Service", "redis").spec.ports[0].targetPort = "http"));
      expectViolation("WIRE-2", "dev", objs, "Service/redis", /"http"/);
    });
    it("WIRE-3 rejects a reference to a missing ConfigMap and a missing Secret key", () => {
      const objs = mutated("dev", (o) => {
        remove(o, "ConfigMap", "gateway-config");
        container(get(o, "Deployment", "pyxis")).env[0].valueFrom.secretKeyRef.key = "DB_URL";
      });
      expectViolation("WIRE-3", "dev", objs, "Deployment/gateway", /ConfigMap "gateway-config", which does not exist/);
      expectViolation("WIRE-3", "dev", objs, "Deployment/pyxis", /reads key "DB_URL"/);
    });
    it("WIRE-3 rejects a PVC in another namespace, and exempts optional references", () => {
      const objs = mutated("dev", (o) => {
        get(o, "PersistentVolumeClaim", "postgres-backup").metadata.namespace = "default";
        container(get(o, "Deployment", "pyxis")).env.push({ name: "FIREBASE", valueFrom: { secretKeyRef: { name: "firebase", key: "x", optional: true } } });
      });
      const v = runCheck("WIRE-3", objs, ctx("dev"));
      assert.ok(!v.some((x) => x.reason.includes("firebase")), formatViolations(v));
      expectViolation("WIRE-3", "dev", objs, "CronJob/postgres-backup", /PersistentVolumeClaim "postgres-backup", which does not exist in namespace asky/);
    });
    it("WIRE-3 follows every way a pod names a ConfigMap or Secret: volume items, projected sources, env and envFrom refs, imagePullSecrets, init containers", () => {
      const pyxis = (o: K8sObject[]) => get(o, "Deployment", "pyxis");
      const cases: [string, (o: K8sObject[]) => void, RegExp][] = [
        ["secret volume item", (o) => (podSpec(pyxis(o)).volumes[0].secret.items[0].key = "private.pem"), /^volume "jwt" reads key "private.pem", which Secret "jwt-public-key" does not have$/],
        ["configMap volume item", (o) => podSpec(pyxis(o)).volumes.push({ name: "conf", configMap: { name: "gateway-config", items: [{ key: "other.conf", path: "x" }] } }), /^volume "conf" reads key "other.conf", which ConfigMap "gateway-config" does not have$/],
        ["projected configMap", (o) => podSpec(pyxis(o)).volumes.push({ name: "all", projected: { sources: [{ configMap: { name: "nope" } }] } }), /^volume "all" \(projected\) references ConfigMap "nope", which does not exist in namespace asky$/],
        ["projected secret key", (o) => podSpec(pyxis(o)).volumes.push({ name: "all", projected: { sources: [{ secret: { name: "pyxis-db", items: [{ key: "X", path: "x" }] } }] } }), /^volume "all" \(projected\) reads key "X", which Secret "pyxis-db" does not have$/],
        ["configMapKeyRef", (o) => container(pyxis(o)).env.push({ name: "C", valueFrom: { configMapKeyRef: { name: "gateway-config", key: "missing" } } }), /^container "pyxis" env C reads key "missing", which ConfigMap "gateway-config" does not have$/],
        ["envFrom configMapRef", (o) => (container(pyxis(o)).envFrom = [{ configMapRef: { name: "settings" } }]), /^container "pyxis" envFrom references ConfigMap "settings", which does not exist in namespace asky$/],
        ["envFrom secretRef", (o) => (container(pyxis(o)).envFrom = [{ secretRef: { name: "creds" } }]), /^container "pyxis" envFrom references Secret "creds", which does not exist/],
        ["imagePullSecrets", (o) => (podSpec(pyxis(o)).imagePullSecrets = [{ name: "registry" }]), /^imagePullSecrets references Secret "registry", which does not exist/],
        ["init container", (o) => (podSpec(pyxis(o)).initContainers = [{ name: "wait", image: "x", env: [{ name: "P", valueFrom: { secretKeyRef: { name: "gone", key: "k" } } }] }]), /^initContainer "wait" env P references Secret "gone"/],
        ["mount of an undeclared volume", (o) => container(pyxis(o)).volumeMounts.push({ name: "cache", mountPath: "/cache" }), /^container "pyxis" mounts volume "cache", which the pod does not declare$/],
      ];
      for (const [what, change, reason] of cases) {
        const objs = mutated("dev", change);
        assert.ok(runCheck("WIRE-3", objs, ctx("dev")).some((v) => v.object === "Deployment/pyxis" && reason.test(v.reason)), `${what}: ${formatViolations(runCheck("WIRE-3", objs, ctx("dev")))}`);
        hit.add("WIRE-3");
      }
      // Keys a Secret holds in stringData or a ConfigMap in binaryData count; optional sources and volumeClaimTemplates are fine.
      expectClean("WIRE-3", "dev", mutated("dev", (o) => {
        get(o, "Secret", "jwt-public-key").stringData = { "private.pem": "<redacted>" };
        podSpec(pyxis(o)).volumes[0].secret.items.push({ key: "private.pem", path: "p" });
        get(o, "ConfigMap", "gateway-config").binaryData = { "logo.png": "AAAA" };
        podSpec(pyxis(o)).volumes.push(
          { name: "logo", configMap: { name: "gateway-config", items: [{ key: "logo.png", path: "logo.png" }] } },
          { name: "opt", projected: { sources: [{ configMap: { name: "maybe", optional: true } }, { secret: { name: "maybe", optional: true } }] } },
        );
        container(pyxis(o)).envFrom = [{ configMapRef: { name: "maybe", optional: true } }, { secretRef: { name: "maybe", optional: true } }];
        container(pyxis(o)).env.push({ name: "O", valueFrom: { configMapKeyRef: { name: "maybe", key: "k", optional: true } } });
        const pg = get(o, "StatefulSet", "postgres");
        pg.spec.volumeClaimTemplates = [{ metadata: { name: "extra" }, spec: {} }];
        container(pg).volumeMounts.push({ name: "extra", mountPath: "/extra" });
      }));
    });
    it("WIRE-4 rejects a PVC without a namespace (the seed's defect)", () => {
      const objs = mutated("dev", (o) => delete get(o, "PersistentVolumeClaim", "postgres-pv-claim").metadata.namespace);
      expectViolation("WIRE-4", "dev", objs, "PersistentVolumeClaim/postgres-pv-claim", /namespace/);
    });
    it("WIRE-5 rejects objects and pod templates without the recommended labels", () => {
      const objs = mutated("dev", (o) => {
        delete get(o, "ConfigMap", "gateway-config").metadata.labels["app.kubernetes.io/managed-by"];
        delete get(o, "Job", "postgres-bootstrap-3f9a2c1e").spec.template.metadata.labels["app.kubernetes.io/component"];
        get(o, "NetworkPolicy", "allow-dns").metadata.labels["app.kubernetes.io/instance"] = "asky-prod";
      });
      expectViolation("WIRE-5", "dev", objs, "ConfigMap/gateway-config", /managed-by/);
      expectViolation("WIRE-5", "dev", objs, "Job/postgres-bootstrap-3f9a2c1e", /pod template labels lack app.kubernetes.io\/component/);
      expectViolation("WIRE-5", "dev", objs, "NetworkPolicy/allow-dns", /instance is "asky-prod"/);
    });
    it("WIRE-6 rejects a pod that mounts a ConfigMap without a checksum annotation", () => {
      const objs = mutated("dev", (o) => delete get(o, "Deployment", "gateway").spec.template.metadata.annotations);
      expectViolation("WIRE-6", "dev", objs, "Deployment/gateway", /ConfigMap\/gateway-config/);
    });
    it("WIRE-6 rejects per-object checksums that miss one Secret", () => {
      const objs = mutated("dev", (o) => delete get(o, "Deployment", "pyxis").spec.template.metadata.annotations["checksum/jwt-public-key"]);
      expectViolation("WIRE-6", "dev", objs, "Deployment/pyxis", /checksum\/jwt-public-key/);
    });
    it("WIRE-6 rejects an empty checksum, accepts hashed names, and exempts Jobs", () => {
      const empty = mutated("dev", (o) => (get(o, "Deployment", "gateway").spec.template.metadata.annotations["checksum/config"] = ""));
      expectViolation("WIRE-6", "dev", empty, "Deployment/gateway", /not a hash/);
      const hashed = mutated("dev", (o) => {
        delete get(o, "Deployment", "gateway").spec.template.metadata.annotations;
        get(o, "ConfigMap", "gateway-config").metadata.name = "gateway-config-5f2b9c1d";
        podSpec(get(o, "Deployment", "gateway")).volumes[0].configMap.name = "gateway-config-5f2b9c1d";
      });
      expectClean("WIRE-6", "dev", hashed);
      assert.equal(get(goodObjects("dev"), "Job", "postgres-bootstrap-3f9a2c1e").spec.template.metadata.annotations, undefined);
    });
  });

  describe("HA (prod)", () => {
    it("HA-1 rejects an HPA with minReplicas 1 and a Deployment that also sets replicas", () => {
      const objs = mutated("prod", (o) => {
        get(o, "HorizontalPodAutoscaler", "pyxis").spec.minReplicas = 1;
        get(o, "Deployment", "gateway").spec.replicas = 2;
      });
      expectViolation("HA-1", "prod", objs, "HorizontalPodAutoscaler/pyxis", /minReplicas must be ≥ 2/);
      expectViolation("HA-1", "prod", objs, "Deployment/gateway", /sets spec.replicas/);
    });
    it("HA-1 rejects a single-replica service without HPA, an autoscaling/v1 HPA and max ≤ min", () => {
      const objs = mutated("prod", (o) => {
        remove(o, "HorizontalPodAutoscaler", "pyxis");
        const h = get(o, "HorizontalPodAutoscaler", "gateway");
        h.apiVersion = "autoscaling/v1";
        h.spec.maxReplicas = 2;
      });
      expectViolation("HA-1", "prod", objs, "Deployment/pyxis", /1 replica/);
      expectViolation("HA-1", "prod", objs, "HorizontalPodAutoscaler/gateway", /autoscaling\/v2/);
      expectViolation("HA-1", "prod", objs, "HorizontalPodAutoscaler/gateway", /maxReplicas must exceed/);
    });
    it("HA-1..4 do not apply in dev", () => {
      const objs = goodObjects("dev");
      assert.equal(get(objs, "Deployment", "pyxis").spec.replicas, 1);
      for (const id of ["HA-1", "HA-2", "HA-3", "HA-4"]) expectClean(id, "dev", objs);
    });
    it("HA-2 rejects a rolling update that may take pods down", () => {
      const objs = mutated("prod", (o) => (get(o, "Deployment", "pyxis").spec.strategy.rollingUpdate.maxUnavailable = 1));
      expectViolation("HA-2", "prod", objs, "Deployment/pyxis", /maxUnavailable must be 0/);
      const recreate = mutated("prod", (o) => (get(o, "Deployment", "gateway").spec.strategy = { type: "Recreate" }));
      expectViolation("HA-2", "prod", recreate, "Deployment/gateway", /RollingUpdate/);
    });
    it("HA-3 rejects a PDB with maxUnavailable 0", () => {
      const objs = mutated("prod", (o) => (get(o, "PodDisruptionBudget", "pyxis").spec.maxUnavailable = 0));
      expectViolation("HA-3", "prod", objs, "PodDisruptionBudget/pyxis", /maxUnavailable must be 1 \(is 0\)/);
    });
    it("HA-3 rejects a multi-replica workload without a PDB, and a PDB without AlwaysAllow", () => {
      const objs = mutated("prod", (o) => {
        remove(o, "PodDisruptionBudget", "gateway");
        delete get(o, "PodDisruptionBudget", "pyxis").spec.unhealthyPodEvictionPolicy;
      });
      expectViolation("HA-3", "prod", objs, "Deployment/gateway", /no PodDisruptionBudget/);
      expectViolation("HA-3", "prod", objs, "PodDisruptionBudget/pyxis", /AlwaysAllow/);
    });
    it("HA-3 rejects a PDB whose selector is not the workload's", () => {
      const objs = mutated("prod", (o) => (get(o, "PodDisruptionBudget", "pyxis").spec.selector = { matchLabels: { "app.kubernetes.io/name": "pyxis" } }));
      expectViolation("HA-3", "prod", objs, "PodDisruptionBudget/pyxis", /selector differs/);
    });
    it("HA-3 judges each PDB on its own: apiVersion, minAvailable, an empty selector, two PDBs for one workload, a selector reaching no workload; selectors read as the API does", () => {
      const pdb = (o: K8sObject[], name = "pyxis") => get(o, "PodDisruptionBudget", name);
      const PDB = "PodDisruptionBudget/pyxis";
      expectViolation("HA-3", "prod", mutated("prod", (o) => (pdb(o).apiVersion = "policy/v1beta1")), PDB, /^must be policy\/v1 \(is policy\/v1beta1\)$/);
      expectViolation("HA-3", "prod", mutated("prod", (o) => (pdb(o).spec.minAvailable = 1)), PDB, /^uses minAvailable; use maxUnavailable: 1$/);
      expectViolation("HA-3", "prod", mutated("prod", (o) => delete pdb(o).spec.unhealthyPodEvictionPolicy), PDB, /^unhealthyPodEvictionPolicy must be AlwaysAllow \(is unset\)$/);
      expectViolation("HA-3", "prod", mutated("prod", (o) => (pdb(o).spec.selector = {})), PDB, /^has an empty selector$/);
      expectViolation("HA-3", "prod", mutated("prod", (o) => (pdb(o).spec.selector = { matchLabels: { "app.kubernetes.io/name": "nothing" } })), PDB, /^selects 0 workloads \(must be exactly one\)$/);
      const twice = mutated("prod", (o) => o.push({ ...JSON.parse(JSON.stringify(pdb(o))), metadata: { ...pdb(o).metadata, name: "pyxis-2" } }));
      expectViolation("HA-3", "prod", twice, "Deployment/pyxis", /^is selected by 2 PodDisruptionBudgets: pyxis, pyxis-2$/);
      // matchExpressions select as the API server does: each operator, and an unknown one selects nothing.
      const expr = (e: object) => mutated("prod", (o) => (pdb(o).spec.selector = { matchExpressions: [e] }));
      const selects = (e: object) => !runCheck("HA-3", expr(e), ctx("prod")).some((v) => v.object === PDB && /selects 0 workloads/.test(v.reason));
      assert.ok(selects({ key: "app.kubernetes.io/name", operator: "In", values: ["pyxis"] }));
      assert.ok(!selects({ key: "app.kubernetes.io/name", operator: "In", values: ["auth"] }));
      assert.ok(!selects({ key: "app.kubernetes.io/name", operator: "In" }));
      assert.ok(!selects({ key: "no-such-label", operator: "In", values: ["pyxis"] }));
      assert.ok(!selects({ key: "app.kubernetes.io/name", operator: "NotIn", values: ["pyxis", "gateway", "redis", "postgres"] }));
      assert.ok(!selects({ key: "no-such-label", operator: "Exists" }));
      assert.ok(!selects({ key: "app.kubernetes.io/name", operator: "DoesNotExist" }));
      assert.ok(!selects({ key: "app.kubernetes.io/name", operator: "Matches", values: ["pyxis"] }));
      const exists = runCheck("HA-3", expr({ key: "app.kubernetes.io/name", operator: "Exists" }), ctx("prod"));
      assert.ok(exists.some((v) => v.object === PDB && /^selects [2-9] workloads/.test(v.reason)), formatViolations(exists));
      const notIn = runCheck("HA-3", expr({ key: "app.kubernetes.io/name", operator: "NotIn", values: ["gateway", "redis", "postgres"] }), ctx("prod"));
      assert.ok(!notIn.some((v) => v.object === PDB && /selects/.test(v.reason)), formatViolations(notIn));
      const absent = runCheck("HA-3", expr({ key: "no-such-label", operator: "DoesNotExist" }), ctx("prod"));
      assert.ok(absent.some((v) => v.object === PDB && /^selects [2-9] workloads/.test(v.reason)), formatViolations(absent));
    });
    it("checks find pods wherever a workload keeps them (Pod, Job, CronJob, ReplicaSet, DaemonSet) and count a single replica under an HPA as several", () => {
      const pod = (name: string) => JSON.parse(JSON.stringify(podSpec(get(goodObjects("dev"), "Deployment", "redis"))));
      const escalating = (spec: any) => {
        spec.containers[0].securityContext.allowPrivilegeEscalation = true;
        return spec;
      };
      const meta = (name: string) => ({ name, namespace: NAMESPACE, labels: { "app.kubernetes.io/name": name } });
      const objs = mutated("dev", (o) => o.push(
        { apiVersion: "v1", kind: "Pod", metadata: meta("bare"), spec: escalating(pod("bare")) },
        { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: meta("rs"), spec: { template: { metadata: { labels: {} }, spec: escalating(pod("rs")) } } },
        { apiVersion: "apps/v1", kind: "DaemonSet", metadata: meta("ds"), spec: { template: { spec: escalating(pod("ds")) } } },
        { apiVersion: "batch/v1", kind: "CronJob", metadata: meta("cron"), spec: { jobTemplate: { spec: { template: { spec: escalating(pod("cron")) } } } } },
        { apiVersion: "batch/v1", kind: "CronJob", metadata: meta("empty"), spec: {} },
        { apiVersion: "apps/v1", kind: "Deployment", metadata: meta("no-template"), spec: { template: "none" } },
      ));
      for (const name of ["Pod/bare", "ReplicaSet/rs", "DaemonSet/ds", "CronJob/cron"]) {
        expectViolation("POD-1", "dev", objs, name, /^container "redis": securityContext.allowPrivilegeEscalation must be false$/);
      }
      // A Pod's own probes are demanded (it runs until stopped), a CronJob's are not.
      expectViolation("POD-10", "dev", mutated("dev", (o) => o.push({ apiVersion: "v1", kind: "Pod", metadata: meta("bare"), spec: { ...pod("bare"), containers: [{ ...pod("bare").containers[0], readinessProbe: undefined }] } })), "Pod/bare", /readinessProbe is missing/);
      // One replica under an HPA is a multi-replica workload in prod: it needs its PDB.
      const hpa = (target: object, namespace = NAMESPACE) => ({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "redis", namespace }, spec: { scaleTargetRef: target, minReplicas: 1, maxReplicas: 3 } });
      expectViolation("HA-3", "prod", mutated("prod", (o) => o.push(hpa({ apiVersion: "apps/v1", kind: "Deployment", name: "redis" }))), "Deployment/redis", /^has no PodDisruptionBudget$/);
      for (const other of [hpa({ kind: "StatefulSet", name: "redis" }), hpa({ kind: "Deployment", name: "redis-2" }), hpa({ kind: "Deployment", name: "redis" }, "default")]) {
        assert.ok(!runCheck("HA-3", mutated("prod", (o) => o.push(other)), ctx("prod")).some((v) => v.object === "Deployment/redis"), JSON.stringify(other.spec));
      }
    });
    it("HA-4 rejects a workload without topology spread or with a hard spread", () => {
      const objs = mutated("prod", (o) => {
        delete podSpec(get(o, "Deployment", "pyxis")).topologySpreadConstraints;
        podSpec(get(o, "Deployment", "gateway")).topologySpreadConstraints[0].whenUnsatisfiable = "DoNotSchedule";
      });
      expectViolation("HA-4", "prod", objs, "Deployment/pyxis", /no topologySpreadConstraints/);
      expectViolation("HA-4", "prod", objs, "Deployment/gateway", /ScheduleAnyway/);
    });
    it("HA-4 rejects anti-affinity on the wrong topology key", () => {
      const objs = mutated("prod", (o) => {
        podSpec(get(o, "Deployment", "pyxis")).affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey = "topology.kubernetes.io/zone";
      });
      expectViolation("HA-4", "prod", objs, "Deployment/pyxis", /kubernetes.io\/hostname/);
    });
    it("HA-1 and HA-2 a failing case per rule: two HPAs, an HPA aimed at nothing, no maxReplicas; Recreate, the default maxUnavailable, a zero surge, OnDelete", () => {
      const hpa = (o: K8sObject[]) => get(o, "HorizontalPodAutoscaler", "pyxis");
      const twice = mutated("prod", (o) => o.push({ ...JSON.parse(JSON.stringify(hpa(o))), metadata: { ...hpa(o).metadata, name: "pyxis-2" } }));
      expectViolation("HA-1", "prod", twice, "Deployment/pyxis", /^is targeted by 2 HorizontalPodAutoscalers$/);
      expectViolation("HA-1", "prod", mutated("prod", (o) => (hpa(o).spec.scaleTargetRef.name = "pyxis-old")), "HorizontalPodAutoscaler/pyxis", /^scaleTargetRef Deployment\/pyxis-old does not exist$/);
      expectViolation("HA-1", "prod", mutated("prod", (o) => delete hpa(o).spec.scaleTargetRef), "HorizontalPodAutoscaler/pyxis", /^scaleTargetRef undefined\/undefined does not exist$/);
      expectViolation("HA-1", "prod", mutated("prod", (o) => delete hpa(o).spec.maxReplicas), "HorizontalPodAutoscaler/pyxis", /^maxReplicas must exceed minReplicas \(undefined ≤ 2\)$/);
      expectViolation("HA-1", "prod", mutated("prod", (o) => delete hpa(o).spec.minReplicas), "HorizontalPodAutoscaler/pyxis", /^minReplicas must be ≥ 2 \(is 1\)$/);
      const unscaled = mutated("prod", (o) => { remove(o, "HorizontalPodAutoscaler", "pyxis"); get(o, "Deployment", "pyxis").spec.replicas = 2; });
      assert.deepEqual(runCheck("HA-1", unscaled, ctx("prod")), [], "two fixed replicas are enough");
      expectViolation("HA-1", "prod", mutated("prod", (o) => remove(o, "HorizontalPodAutoscaler", "pyxis")), "Deployment/pyxis", /^runs 1 replica\(s\) and no HorizontalPodAutoscaler; needs ≥ 2$/);
      const strategy = (s: object) => mutated("prod", (o) => (get(o, "Deployment", "gateway").spec.strategy = s));
      expectViolation("HA-2", "prod", strategy({ type: "Recreate" }), "Deployment/gateway", /^strategy.type must be RollingUpdate \(is Recreate\)$/);
      expectViolation("HA-2", "prod", strategy({}), "Deployment/gateway", /^strategy.rollingUpdate.maxUnavailable must be 0 \(is "25% \(default\)"\)$/);
      expectViolation("HA-2", "prod", strategy({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: "0%", maxSurge: 0 } }), "Deployment/gateway", /^maxSurge 0 with maxUnavailable 0 can never roll$/);
      expectViolation("HA-2", "prod", strategy({ rollingUpdate: { maxUnavailable: "0", maxSurge: "0%" } }), "Deployment/gateway", /can never roll/);
      expectClean("HA-2", "prod", strategy({ rollingUpdate: { maxUnavailable: 0 } }));
      const sts = mutated("prod", (o) => { const pg = get(o, "StatefulSet", "postgres"); pg.spec.replicas = 2; pg.spec.updateStrategy = { type: "OnDelete" }; });
      expectViolation("HA-2", "prod", sts, "StatefulSet/postgres", /^updateStrategy OnDelete never rolls$/);
    });
    it("HA-5 a failing case per rule of the database's volume", () => {
      const pg = (o: K8sObject[]) => get(o, "StatefulSet", "postgres");
      const STS = "StatefulSet/postgres";
      expectViolation("HA-5", "dev", mutated("dev", (o) => remove(o, "StatefulSet", "postgres")), STS, /^the database StatefulSet is missing$/);
      expectViolation("HA-5", "dev", mutated("dev", (o) => (podSpec(pg(o)).containers = [])), STS, /^has no container$/);
      expectViolation("HA-5", "dev", mutated("dev", (o) => (container(pg(o)).env = container(pg(o)).env.filter((e: any) => e.name !== "PGDATA"))), STS, /^container "postgres" must set PGDATA to a subdirectory of the data volume's mount$/);
      expectViolation("HA-5", "dev", mutated("dev", (o) => (podSpec(pg(o)).volumes[0].persistentVolumeClaim.claimName = "gone")), STS, /^data volume "data" claims PVC "gone", which does not exist$/);
      expectViolation("HA-5", "dev", mutated("dev", (o) => { podSpec(pg(o)).volumes[0] = { name: "data", emptyDir: {} }; }), STS, /^PGDATA \/var\/lib\/postgresql\/data\/pgdata lives on volume "data", which is not a PersistentVolumeClaim$/);
      const pv = (o: K8sObject[]) => get(o, "PersistentVolume", "postgres-pv-volume");
      expectViolation("HA-5", "dev", mutated("dev", (o) => (pv(o).spec.storageClassName = "other")), "PersistentVolumeClaim/postgres-pv-claim", /^storageClassName manual differs from PV postgres-pv-volume's other$/);
      expectViolation("HA-5", "dev", mutated("dev", (o) => (pv(o).spec.accessModes = ["ReadOnlyMany"])), "PersistentVolume/postgres-pv-volume", /^accessModes must include ReadWriteOnce$/);
      expectViolation("HA-5", "dev", mutated("dev", (o) => (pv(o).spec.claimRef = { name: "other", namespace: NAMESPACE })), "PersistentVolume/postgres-pv-volume", /^claimRef points at asky\/other$/);
      expectViolation("HA-5", "dev", mutated("dev", (o) => (pv(o).spec.claimRef = { name: "postgres-pv-claim", namespace: "default" })), "PersistentVolume/postgres-pv-volume", /^claimRef points at default\/postgres-pv-claim$/);
      // A volumeClaimTemplate is a claim too: its access modes count, and its mount point itself is refused.
      const templated = (modes: string[], pgdata = "/var/lib/postgresql/data/pgdata") => mutated("dev", (o) => {
        const s = pg(o);
        podSpec(s).volumes = podSpec(s).volumes.filter((v: any) => v.name !== "data");
        s.spec.volumeClaimTemplates = [{ metadata: { name: "data" }, spec: { accessModes: modes, resources: { requests: { storage: "1Gi" } } } }];
        container(s).env.find((e: any) => e.name === "PGDATA").value = pgdata;
      });
      expectClean("HA-5", "dev", templated(["ReadWriteOnce"]));
      expectViolation("HA-5", "dev", templated(["ReadWriteMany"]), STS, /^accessModes must be \[ReadWriteOnce\] \(is \["ReadWriteMany"\]\)$/);
      expectViolation("HA-5", "dev", templated(["ReadWriteOnce"], "/var/lib/postgresql/data/"), STS, /^PGDATA \/var\/lib\/postgresql\/data\/ is the mount point of volume "data" itself; use a subdirectory such as \/var\/lib\/postgresql\/data\/pgdata$/);
    });
    it("HA-5 rejects a database with 2 replicas", () => {
      const objs = mutated("dev", (o) => (get(o, "StatefulSet", "postgres").spec.replicas = 2));
      expectViolation("HA-5", "dev", objs, "StatefulSet/postgres", /exactly 1 replica/);
    });
    it("HA-5 rejects PGDATA at the mount point itself and PGDATA off the volume", () => {
      const at = mutated("dev", (o) => (container(get(o, "StatefulSet", "postgres")).env[0].value = "/var/lib/postgresql/data"));
      expectViolation("HA-5", "dev", at, "StatefulSet/postgres", /mount point/);
      const off = mutated("prod", (o) => (container(get(o, "StatefulSet", "postgres")).env[0].value = "/pgdata"));
      expectViolation("HA-5", "prod", off, "StatefulSet/postgres", /not under any volumeMount/);
    });
    it("HA-5 rejects a ReadWriteMany database PVC and a dev PVC bound to a missing PV", () => {
      const objs = mutated("prod", (o) => (get(o, "PersistentVolumeClaim", "postgres-pv-claim").spec.accessModes = ["ReadWriteMany"]));
      expectViolation("HA-5", "prod", objs, "PersistentVolumeClaim/postgres-pv-claim", /ReadWriteOnce/);
      const nopv = mutated("dev", (o) => remove(o, "PersistentVolume", "postgres-pv-volume"));
      expectViolation("HA-5", "dev", nopv, "PersistentVolumeClaim/postgres-pv-claim", /postgres-pv-volume/);
    });
    it("HA-5 rejects a database run as a Deployment", () => {
      const objs = mutated("dev", (o) => {
        const s = get(o, "StatefulSet", "postgres");
        s.kind = "Deployment";
        delete s.spec.serviceName;
      });
      expectViolation("HA-5", "dev", objs, "Deployment/postgres", /StatefulSet/);
    });
  });

  describe("NET", () => {
    it("NET-1 rejects a namespace without default deny", () => {
      const objs = mutated("dev", (o) => remove(o, "NetworkPolicy", "default-deny"));
      expectViolation("NET-1", "dev", objs, `Namespace/${NAMESPACE}`, /ingress/);
      expectViolation("NET-1", "dev", objs, `Namespace/${NAMESPACE}`, /egress/);
    });
    it("NET-1 rejects a 'default deny' that allows something", () => {
      const objs = mutated("dev", (o) => (get(o, "NetworkPolicy", "default-deny").spec.egress = [{}]));
      expectViolation("NET-1", "dev", objs, `Namespace/${NAMESPACE}`, /egress/);
    });
    it("NET-2 rejects an extra flow (pyxis → gateway)", () => {
      const objs = mutated("dev", (o) => get(o, "NetworkPolicy", "allow-pyxis").spec.egress.push({ to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "gateway" } } }], ports: [{ protocol: "TCP", port: 8080 }] }));
      expectViolation("NET-2", "dev", objs, "NetworkPolicy/allow-pyxis", /extra flow pyxis → gateway TCP\/8080/);
    });
    it("NET-2 rejects a missing DNS egress", () => {
      const objs = mutated("dev", (o) => remove(o, "NetworkPolicy", "allow-dns"));
      expectViolation("NET-2", "dev", objs, "Deployment/pyxis", /missing flow pyxis → kube-dns TCP\/53, UDP\/53/);
      expectViolation("NET-2", "dev", objs, "CronJob/postgres-backup", /missing flow postgres-backup → kube-dns/);
    });
    it("NET-2 rejects DNS for pods that resolve no name (postgres, redis): a DNS policy for every pod", () => {
      const objs = mutated("dev", (o) => (get(o, "NetworkPolicy", "allow-dns").spec.podSelector = {}));
      expectViolation("NET-2", "dev", objs, "NetworkPolicy/allow-dns", /extra flow postgres → kube-dns TCP\/53, UDP\/53/);
      expectViolation("NET-2", "dev", objs, "NetworkPolicy/allow-dns", /extra flow redis → kube-dns TCP\/53, UDP\/53/);
    });
    it("NET-2 resolves named ports (pod ports, CoreDNS's dns/dns-tcp)", () => {
      const objs = mutated("dev", (o) => {
        get(o, "NetworkPolicy", "allow-dns").spec.egress[0].ports = [{ protocol: "UDP", port: "dns" }, { protocol: "TCP", port: "dns-tcp" }];
        get(o, "NetworkPolicy", "allow-pyxis").spec.ingress[0].ports = [{ protocol: "TCP", port: "http" }];
      });
      expectClean("NET-2", "dev", objs);
      const wrong = mutated("dev", (o) => (get(o, "NetworkPolicy", "allow-pyxis").spec.ingress[0].ports = [{ protocol: "TCP", port: "web" }]));
      expectViolation("NET-2", "dev", wrong, "Deployment/pyxis", /missing flow gateway → pyxis TCP\/8001/);
    });
    it("NET-2 counts a link-local resolver (NodeLocal DNSCache) as DNS, and only on port 53", () => {
      const dns = mutated("dev", (o) => get(o, "NetworkPolicy", "allow-dns").spec.egress[0].to.push({ ipBlock: { cidr: "169.254.20.10/32" } }));
      expectClean("NET-2", "dev", dns);
      const https = mutated("dev", (o) => get(o, "NetworkPolicy", "allow-pyxis").spec.egress.push({ to: [{ ipBlock: { cidr: "169.254.20.10/32" } }], ports: [{ protocol: "TCP", port: 443 }] }));
      expectViolation("NET-2", "dev", https, "NetworkPolicy/allow-pyxis", /extra flow pyxis → kube-dns TCP\/443/);
      const wide = mutated("dev", (o) => get(o, "NetworkPolicy", "allow-dns").spec.egress[0].to.push({ ipBlock: { cidr: "169.0.0.0/8" } }));
      expectViolation("NET-2", "dev", wide, "NetworkPolicy/allow-dns", /extra flow \S+ → external/);
    });
    it("NET-2 rejects a missing flow (gateway → pyxis blocked at pyxis' ingress)", () => {
      const objs = mutated("dev", (o) => (get(o, "NetworkPolicy", "allow-pyxis").spec.ingress[0].ports[0].port = 8000));
      expectViolation("NET-2", "dev", objs, "Deployment/pyxis", /missing flow gateway → pyxis TCP\/8001 \(blocked by ingress of pyxis\)/);
    });
    it("NET-2 rejects egress to anywhere (a rule with no `to`, or 0.0.0.0/0)", () => {
      const objs = mutated("dev", (o) => get(o, "NetworkPolicy", "allow-pyxis").spec.egress.push({ ports: [{ protocol: "TCP", port: 443 }] }));
      expectViolation("NET-2", "dev", objs, "NetworkPolicy/allow-pyxis", /extra flow pyxis → external TCP\/443/);
      const cidr = mutated("dev", (o) => get(o, "NetworkPolicy", "allow-gateway").spec.egress.push({ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }));
      expectViolation("NET-2", "dev", cidr, "NetworkPolicy/allow-gateway", /extra flow gateway → external any port/);
    });
    it("NET-2 rejects a gateway open to other namespaces only, or to external clients only", () => {
      const ns = mutated("dev", (o) => (get(o, "NetworkPolicy", "allow-gateway").spec.ingress[0].from = [{ namespaceSelector: {} }]));
      expectViolation("NET-2", "dev", ns, "Deployment/gateway", /missing flow external → gateway TCP\/8080 \(blocked by ingress of gateway\)/);
      const cidr = mutated("dev", (o) => (get(o, "NetworkPolicy", "allow-gateway").spec.ingress[0].from = [{ ipBlock: { cidr: "0.0.0.0/0" } }]));
      expectViolation("NET-2", "dev", cidr, "Deployment/gateway", /missing flow other-namespaces → gateway TCP\/8080/);
    });
    it("NET-2 rejects ingress to the database from other namespaces", () => {
      const objs = mutated("dev", (o) => get(o, "NetworkPolicy", "allow-postgres").spec.ingress[0].from.push({ namespaceSelector: {} }));
      expectViolation("NET-2", "dev", objs, "NetworkPolicy/allow-postgres", /extra flow other-namespaces → postgres TCP\/5432/);
    });
    it("NET-2 rejects everything open when no policy isolates the pods", () => {
      const objs = mutated("dev", (o) => {
        for (const p of o.filter((x) => x.kind === "NetworkPolicy")) remove(o, "NetworkPolicy", p.metadata.name);
      });
      expectViolation("NET-2", "dev", objs, "Deployment/redis", /extra flow redis → postgres any port/);
    });
    it("NET-2 drops the flows of a pod the stack does not run (backup disabled in dev)", () => {
      const objs = mutated("dev", (o) => {
        remove(o, "CronJob", "postgres-backup");
        remove(o, "NetworkPolicy", "allow-postgres-backup");
      });
      expectClean("NET-2", "dev", objs);
    });
    it("NET-3 a failing case per rule: externalIPs, a LoadBalancer service, the dev gateway's type and node port, an Ingress default backend, Gateway API routes", () => {
      const svc = (o: K8sObject[], name: string) => get(o, "Service", name).spec;
      expectViolation("NET-3", "dev", mutated("dev", (o) => (svc(o, "gateway").externalIPs = ["192.0.2.1"])), "Service/gateway", /^sets externalIPs$/);
      expectViolation("NET-3", "dev", mutated("dev", (o) => (svc(o, "redis").externalIPs = ["192.0.2.1"])), "Service/redis", /^sets externalIPs$/);
      expectViolation("NET-3", "prod", mutated("prod", (o) => (svc(o, "pyxis").type = "LoadBalancer")), "Service/pyxis", /^type LoadBalancer exposes it outside the cluster; only gateway may be exposed$/);
      expectViolation("NET-3", "dev", mutated("dev", (o) => { svc(o, "gateway").type = "LoadBalancer"; svc(o, "gateway").ports.forEach((p: any) => delete p.nodePort); }), "Service/gateway", /^must be NodePort in dev \(is LoadBalancer\)$/);
      expectViolation("NET-3", "dev", mutated("dev", (o) => { delete svc(o, "gateway").type; svc(o, "gateway").ports.forEach((p: any) => delete p.nodePort); }), "Service/gateway", /^must be NodePort in dev \(is ClusterIP\)$/);
      expectViolation("NET-3", "dev", mutated("dev", (o) => svc(o, "gateway").ports.forEach((p: any) => (p.nodePort = 30001))), "Service/gateway", /^must use nodePort 30000 in dev$/);
      expectViolation("NET-3", "prod", mutated("prod", (o) => (svc(o, "gateway").type = "NodePort")), "Service/gateway", /^must be LoadBalancer in prod \(is NodePort\)$/);
      const meta = { name: "edge", namespace: NAMESPACE, labels: { "app.kubernetes.io/name": "edge" } };
      const withRoute = (route: object) => mutated("dev", (o) => o.push(route as K8sObject));
      expectViolation("NET-3", "dev", withRoute({ apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: meta, spec: { defaultBackend: { service: { name: "redis", port: { number: 6379 } } } } }), "Ingress/edge", /^routes to Service redis; only gateway may be exposed$/);
      expectClean("NET-3", "dev", withRoute({ apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: meta, spec: { defaultBackend: { service: { name: "gateway", port: { number: 80 } } }, rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "gateway", port: { number: 80 } } } }] } }] } }));
      for (const kind of ["HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"]) {
        expectViolation("NET-3", "dev", withRoute({ apiVersion: "gateway.networking.k8s.io/v1", kind, metadata: meta, spec: { rules: [{ backendRefs: [{ name: "gateway" }, { name: "postgres", port: 5432 }] }] } }), `${kind}/edge`, /^routes to Service postgres; only gateway may be exposed$/);
      }
      expectClean("NET-3", "dev", withRoute({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: meta, spec: { rules: [{ backendRefs: [{ name: "gateway" }, { kind: "Backend", name: "elsewhere" }] }] } }));
    });
    it("NET-1 names the side without a default deny: ingress, egress, or both when the deny selects some pods only", () => {
      const deny = (o: K8sObject[]) => get(o, "NetworkPolicy", "default-deny").spec;
      expectViolation("NET-1", "dev", mutated("dev", (o) => (deny(o).policyTypes = ["Ingress"])), "Namespace/asky", /^no default-deny NetworkPolicy for egress \(podSelector \{\}, policyTypes \[Egress\], no rules\)$/);
      expectViolation("NET-1", "dev", mutated("dev", (o) => (deny(o).policyTypes = ["Egress"])), "Namespace/asky", /^no default-deny NetworkPolicy for ingress \(podSelector \{\}, policyTypes \[Ingress\], no rules\)$/);
      const partial = mutated("dev", (o) => (deny(o).podSelector = { matchLabels: { "app.kubernetes.io/name": "redis" } }));
      assert.equal(runCheck("NET-1", partial, ctx("dev")).length, 2);
      expectViolation("NET-1", "dev", mutated("dev", (o) => (get(o, "NetworkPolicy", "default-deny").metadata.namespace = "default")), "Namespace/asky", /for ingress/);
    });
    it("NET-3 rejects a NodePort Service other than the gateway", () => {
      const objs = mutated("dev", (o) => (get(o, "Service", "redis").spec.type = "NodePort"));
      expectViolation("NET-3", "dev", objs, "Service/redis", /NodePort/);
    });
    it("NET-3 rejects a ClusterIP gateway in prod and an Ingress to an API service", () => {
      const objs = mutated("prod", (o) => {
        get(o, "Service", "gateway").spec.type = "ClusterIP";
        o.push({
          apiVersion: "networking.k8s.io/v1",
          kind: "Ingress",
          metadata: structuredClone(get(o, "Service", "pyxis").metadata),
          spec: { rules: [{ http: { paths: [{ path: "/pyxis", pathType: "Prefix", backend: { service: { name: "pyxis", port: { number: 8001 } } } }] } }] },
        });
      });
      expectViolation("NET-3", "prod", objs, "Service/gateway", /LoadBalancer/);
      expectViolation("NET-3", "prod", objs, "Ingress/pyxis", /routes to Service pyxis/);
    });
  });

  describe("DATA", () => {
    it("DATA-1 rejects an unprotected database PVC in prod", () => {
      const objs = mutated("prod", (o) => delete get(o, "PersistentVolumeClaim", "postgres-pv-claim").metadata.annotations);
      expectViolation("DATA-1", "prod", objs, "PersistentVolumeClaim/postgres-pv-claim", /protected/);
    });
    it("DATA-1 rejects an unprotected database StatefulSet and a Delete StorageClass in prod", () => {
      const objs = mutated("prod", (o) => {
        get(o, "StatefulSet", "postgres").metadata.annotations["render.asky.io/pulumi-protect"] = "false";
        o.push({ apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: "standard-rwo", labels: structuredClone(get(o, "StatefulSet", "postgres").metadata.labels) }, provisioner: "pd.csi.storage.gke.io" });
      });
      expectViolation("DATA-1", "prod", objs, "StatefulSet/postgres", /protected/);
      expectViolation("DATA-1", "prod", objs, "StorageClass/standard-rwo", /Retain/);
    });
    it("DATA-1 rejects a PersistentVolume that deletes its data", () => {
      const objs = mutated("dev", (o) => (get(o, "PersistentVolume", "postgres-pv-volume").spec.persistentVolumeReclaimPolicy = "Delete"));
      expectViolation("DATA-1", "dev", objs, "PersistentVolume/postgres-pv-volume", /Retain/);
    });
    it("DATA-1 asks for no protection in dev", () => {
      const objs = goodObjects("dev");
      assert.equal(get(objs, "StatefulSet", "postgres").metadata.annotations, undefined);
      expectClean("DATA-1", "dev", objs);
    });
    it("DATA-2 rejects a backup CronJob that may overlap and keeps no history", () => {
      const objs = mutated("dev", (o) => {
        const cj = get(o, "CronJob", "postgres-backup");
        cj.spec.concurrencyPolicy = "Allow";
        delete cj.spec.failedJobsHistoryLimit;
        delete cj.spec.startingDeadlineSeconds;
      });
      expectViolation("DATA-2", "dev", objs, "CronJob/postgres-backup", /Forbid/);
      expectViolation("DATA-2", "dev", objs, "CronJob/postgres-backup", /failedJobsHistoryLimit/);
      expectViolation("DATA-2", "dev", objs, "CronJob/postgres-backup", /startingDeadlineSeconds/);
    });
    it("DATA-2 rejects a backup written to the database's own PVC", () => {
      const objs = mutated("dev", (o) => (podSpec(get(o, "CronJob", "postgres-backup")).volumes[0].persistentVolumeClaim.claimName = "postgres-pv-claim"));
      expectViolation("DATA-2", "dev", objs, "CronJob/postgres-backup", /database's own PVC/);
    });
    it("DATA-2 rejects a backup job that does not run pg_dump", () => {
      const objs = mutated("dev", (o) => (container(get(o, "CronJob", "postgres-backup")).command = ["/bin/sh", "-c", "true"]));
      expectViolation("DATA-2", "dev", objs, "CronJob/postgres-backup", /pg_dump/);
    });
    it("DATA-2 requires the backup in prod only", () => {
      const prod = mutated("prod", (o) => remove(o, "CronJob", "postgres-backup"));
      expectViolation("DATA-2", "prod", prod, "CronJob/postgres-backup", /prod needs/);
      expectClean("DATA-2", "dev", mutated("dev", (o) => remove(o, "CronJob", "postgres-backup")));
    });
  });

  describe("SEC", () => {
    it("SEC-1 rejects a password in a ConfigMap (SQL literal)", () => {
      const objs = mutated("dev", (o) => (get(o, "ConfigMap", "postgres-initdb-config").data["05-roles.sql"] = "ALTER ROLE pyxis WITH LOGIN PASSWORD 'postgres';\n"));
      expectViolation("SEC-1", "dev", objs, "ConfigMap/postgres-initdb-config", /literal SQL password/);
    });
    it("SEC-1 rejects a bcrypt hash, a private key and a secret-named key in ConfigMaps", () => {
      const objs = mutated("dev", (o) => {
        get(o, "ConfigMap", "postgres-initdb-config").data["06-seed.sql"] =
          "INSERT INTO auth.users (email, password_hash) VALUES ('a@b.c', '$2b$12$KIXQJ1l9l4u8x0o3b5Yd7eJ4m9a0p2q3r4s5t6u7v8w9x0y1z2A3B');";
        get(o, "ConfigMap", "gateway-config").data["key.pem"] = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n";
        get(o, "ConfigMap", "gateway-config").data["JWT_SECRET"] = "changeme";
      });
      expectViolation("SEC-1", "dev", objs, "ConfigMap/postgres-initdb-config", /bcrypt/);
      expectViolation("SEC-1", "dev", objs, "ConfigMap/gateway-config", /"key.pem" contains a PEM private key/);
      expectViolation("SEC-1", "dev", objs, "ConfigMap/gateway-config", /"JWT_SECRET" names a secret/);
    });
    it("SEC-1 rejects a literal env secret and a password on a command line", () => {
      const objs = mutated("dev", (o) => {
        container(get(o, "Deployment", "pyxis")).env.push({ name: "JWT_SECRET_KEY", value: "hunter2" });
        container(get(o, "Job", "postgres-bootstrap-3f9a2c1e")).command = ["psql", "postgresql://postgres:postgres@postgres:5432/asky"];
      });
      expectViolation("SEC-1", "dev", objs, "Deployment/pyxis", /JWT_SECRET_KEY/);
      expectViolation("SEC-1", "dev", objs, "Job/postgres-bootstrap-3f9a2c1e", /command line contains a URL with an embedded password/);
    });
    it("SEC-1 and POD-12 reject a secret that leaked into an env value (redacted by the render)", () => {
      const objs = mutated("dev", (o) => container(get(o, "Deployment", "pyxis")).env.push({ name: "DB_PASSWORD", value: "<redacted>" }));
      expectViolation("SEC-1", "dev", objs, "Deployment/pyxis", /DB_PASSWORD holds a secret value \(redacted by the render\)/);
      expectViolation("POD-12", "dev", objs, "Deployment/pyxis", /DB_PASSWORD/);
    });
    it("SEC-1 rejects a Secret the render failed to redact", () => {
      const objs = mutated("dev", (o) => (get(o, "Secret", "pyxis-db").data.DATABASE_URL = Buffer.from("postgresql://pyxis:pw@postgres/asky").toString("base64")));
      expectViolation("SEC-1", "dev", objs, "Secret/pyxis-db", /not redacted/);
    });
    it("SEC-1 keeps settings and file names that merely mention secrets", () => {
      const objs = mutated("dev", (o) => {
        container(get(o, "Deployment", "pyxis")).env.push(
          { name: "PRIVATE_KEY_PATH", value: "/app/private_key.pem" },
          { name: "DATABASE_URL_TEMPLATE", value: "postgresql://$(DB_USER):$(DB_PASSWORD)@postgres:5432/asky" },
        );
      });
      expectClean("SEC-1", "dev", objs);
      expectClean("POD-12", "dev", objs);
    });
    it("SEC-4 rejects a database in trust mode", () => {
      const objs = mutated("dev", (o) => container(get(o, "StatefulSet", "postgres")).env.push({ name: "POSTGRES_HOST_AUTH_METHOD", value: "trust" }));
      expectViolation("SEC-4", "dev", objs, "StatefulSet/postgres", /trust/);
    });
  });

  describe("SEC-1 and SEC-4, each way a secret or a weak setting shows (checklist/secrets.ts)", () => {
    const CM = "ConfigMap/gateway-config";
    const setCm = (key: string, value: string) => mutated("dev", (o) => (get(o, "ConfigMap", "gateway-config").data[key] = value));
    it("SEC-1 names each kind of secret found in a ConfigMap value", () => {
      const cases: [string, RegExp][] = [
        ["-----BEGIN PRIVATE KEY-----\nMIIE", /a PEM private key/],
        ["-----BEGIN ENCRYPTED PRIVATE KEY-----", /a PEM private key/],
        [`hash $2y$10$${"a".repeat(53)}`, /a bcrypt password hash/],
        ["SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy", /a SCRAM password verifier/],
        [`md5${"0123456789abcdef".repeat(2)}`, /an md5 password hash/],
        ["Bearer eyJhbGciOiJI.eyJzdWIiOiJ4.c2lnbmF0dXJl", /a JWT/],
        ["aws AKIAABCDEFGHIJKLMNOP here", /an AWS access key id/],
        ["ALTER ROLE x PASSWORD 'hunter2'", /a literal SQL password/],
        ["SELECT crypt ( 'hunter2', gen_salt('bf'))", /a literal password passed to crypt\(\)/],
        ["redis://:hunter2@redis:6379/0", /a URL with an embedded password/],
        ["a <redacted> value", /a secret value \(redacted by the render\)/],
      ];
      for (const [value, reason] of cases) {
        expectViolation("SEC-1", "dev", setCm("conf", value), CM, new RegExp(`key "conf" contains ${reason.source}; it belongs in a Secret`));
      }
    });
    it("SEC-1 passes variables, placeholders and look-alikes that hold no secret", () => {
      for (const value of [
        "postgresql://$(DB_USER):$(DB_PASSWORD)@postgres/asky", "postgresql://u:${PW}@h/db", "postgresql://u:$PW@h/db",
        "postgresql://u:%s@h/db", "postgresql://u:{{ .pw }}@h/db", "postgresql://u:***@h/db", "postgresql://u:<password>@h/db",
        "postgresql://u:pw", "ALTER ROLE x PASSWORD :'pw'", "md5 of it", `md5${"0".repeat(31)}`, "AKIA1234", "$2y$10$short",
        "crypt(:'pw', gen_salt('bf'))",
      ]) {
        expectClean("SEC-1", "dev", setCm("conf", value));
      }
    });
    it("SEC-1 finds a secret in binaryData, in an annotation or label, and in a Secret's stringData", () => {
      const objs = mutated("dev", (o) => {
        get(o, "ConfigMap", "gateway-config").binaryData = { "server.key": Buffer.from("-----BEGIN EC PRIVATE KEY-----").toString("base64") };
        get(o, "Deployment", "pyxis").metadata.annotations = { "asky/db": "postgresql://pyxis:pw@postgres/asky" };
        get(o, "Deployment", "redis").metadata.labels = { ...get(o, "Deployment", "redis").metadata.labels, hash: `md5${"a".repeat(32)}` };
        get(o, "Secret", "jwt-public-key").stringData = { "private.pem": "-----BEGIN PRIVATE KEY-----" };
      });
      expectViolation("SEC-1", "dev", objs, CM, /key "server.key" contains a PEM private key/);
      expectViolation("SEC-1", "dev", objs, "Deployment/pyxis", /^annotation "asky\/db" contains a URL with an embedded password$/);
      expectViolation("SEC-1", "dev", objs, "Deployment/redis", /^label "hash" contains an md5 password hash$/);
      expectViolation("SEC-1", "dev", objs, "Secret/jwt-public-key", /^key "private.pem" is not redacted in the render: it contains a PEM private key$/);
    });
    it("SEC-1 reads the last word of a key or variable name: secrets by name, settings and files not", () => {
      for (const key of ["DB_PASSWORD", "PGPASSWORD", "api-key", "ACCESS_TOKEN", "aws_credentials", "CREDENTIAL", "APIKEY", "passphrase", "SMTP_PASSWD", "mysecret", "X_PASSWORDHASH"]) {
        expectViolation("SEC-1", "dev", setCm(key, "x"), CM, new RegExp(`^key "${key}" names a secret; it belongs in a Secret$`));
      }
      for (const key of ["DB_PASSWORD_FILE", "PRIVATE_KEY_PATH", "public_key.pem", "ACCESS_TOKEN_EXPIRE_MINUTES", "TURKEY", "monkey", "JWT_ALGORITHM", "SECRET_NAME", "keyboard"]) {
        expectClean("SEC-1", "dev", setCm(key, "x"));
      }
      expectClean("SEC-1", "dev", setCm("DB_PASSWORD", "  "));
    });
    it("SEC-1 rejects a literal secret-named env value and KEY=value on a command line, not a variable", () => {
      const objs = mutated("dev", (o) => {
        container(get(o, "Deployment", "pyxis")).env.push({ name: "API_TOKEN", value: "abc" });
        container(get(o, "Job", "postgres-bootstrap-3f9a2c1e")).args = ["env", "PGPASSWORD=hunter2", "psql"];
        container(get(o, "Deployment", "redis")).args = ["run", "JWT_SECRET=$(JWT_SECRET)", "ADMIN_TOKEN=${T}"];
        container(get(o, "Deployment", "redis")).env = [{ name: "SESSION_SECRET", value: "$(SESSION_SECRET)" }, { name: "EMPTY_TOKEN", value: "" }];
      });
      expectViolation("SEC-1", "dev", objs, "Deployment/pyxis", /env API_TOKEN looks like a secret but has a literal value; use valueFrom.secretKeyRef or a mounted file$/);
      expectViolation("SEC-1", "dev", objs, "Job/postgres-bootstrap-3f9a2c1e", /command line sets PGPASSWORD to a literal value$/);
      assert.deepEqual(runCheck("SEC-1", objs, ctx("dev")).filter((v) => v.object === "Deployment/redis"), []);
    });
    it("SEC-4 rejects each weakening of database authentication, on the container and in a ConfigMap", () => {
      const pg = (o: K8sObject[]) => container(get(o, "StatefulSet", "postgres"));
      const env = (name: string, value: string) => mutated("dev", (o) => pg(o).env.push({ name, value }));
      expectViolation("SEC-4", "dev", env("POSTGRES_HOST_AUTH_METHOD", "md5"), "StatefulSet/postgres", /sets POSTGRES_HOST_AUTH_METHOD=md5; use scram-sha-256$/);
      expectClean("SEC-4", "dev", env("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256"));
      for (const args of ["--auth=trust", "--auth-host=md5", "--auth-local password"]) {
        expectViolation("SEC-4", "dev", env("POSTGRES_INITDB_ARGS", args), "StatefulSet/postgres", new RegExp(`POSTGRES_INITDB_ARGS weakens authentication: ${args}$`));
      }
      expectClean("SEC-4", "dev", env("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256 --data-checksums"));
      const cmd = mutated("dev", (o) => (pg(o).args = ["-c", "password_encryption='md5'"]));
      expectViolation("SEC-4", "dev", cmd, "StatefulSet/postgres", /command line sets password_encryption to something weaker than scram-sha-256$/);
      expectClean("SEC-4", "dev", mutated("dev", (o) => (pg(o).args = ["-c", "password_encryption=scram-sha-256"])));
      expectViolation("SEC-4", "dev", setCm("pg_hba.conf", "# ok\nhost all all 0.0.0.0/0 trust\n"), CM, /^key "pg_hba.conf" has a pg_hba 'trust' line$/);
      expectViolation("SEC-4", "dev", setCm("local.conf", "local all postgres trust"), CM, /pg_hba 'trust' line/);
      expectClean("SEC-4", "dev", setCm("pg_hba.conf", "host all all 0.0.0.0/0 scram-sha-256\n# trust nobody\n"));
      expectViolation("SEC-4", "dev", setCm("postgresql.conf", "password_encryption = off"), CM, /^key "postgresql.conf" sets password_encryption weaker than scram-sha-256$/);
    });
  });

  describe("GW (object parts)", () => {
    it("GW-7 rejects gateway probes that do not use /healthz", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "gateway")).livenessProbe = { tcpSocket: { port: "http" } }));
      expectViolation("GW-7", "dev", objs, "Deployment/gateway", /livenessProbe must be an httpGet on \/healthz/);
    });
    it("GW-8 rejects a gateway on port 80", () => {
      const objs = mutated("dev", (o) => (container(get(o, "Deployment", "gateway")).ports[0].containerPort = 80));
      expectViolation("GW-8", "dev", objs, "Deployment/gateway", /8080/);
    });
  });

  // Counted, so that a filtered run (--grep, mutation testing's per-test runs) skips the check below.
  let ran = 0;
  afterEach(() => void ran++);
  after(function () {
    // No check may pass everything silently: every ID has at least one test that makes it fire.
    if (ran < this.test!.parent!.total()) return;
    const silent = CHECK_IDS.filter((id) => !hit.has(id));
    if (silent.length) throw new Error(`checks never shown to fire: ${silent.join(", ")}`);
  });
});

describe("schema validation (validateSchemas)", () => {
  it("reports a wrong type (replicas: \"two\")", async () => {
    const objs = mutated("dev", (o) => (get(o, "Deployment", "pyxis").spec.replicas = "two"));
    const errors = await validateSchemas(objs);
    assert.deepEqual(errors, ["Deployment/pyxis: spec.replicas must be integer"]);
  });
  it("reports a missing required field (container without name)", async () => {
    const objs = mutated("dev", (o) => delete container(get(o, "Deployment", "redis")).name);
    const errors = await validateSchemas(objs);
    assert.deepEqual(errors, ["Deployment/redis: spec.template.spec.containers[0] must have required property name"]);
  });
  it("reports a misspelt field (imagePullPolcy) with a suggestion", async () => {
    const objs = mutated("dev", (o) => (container(get(o, "Deployment", "gateway")).imagePullPolcy = "Always"));
    const errors = await validateSchemas(objs);
    assert.deepEqual(errors, ["Deployment/gateway: unknown field spec.template.spec.containers[0].imagePullPolcy (did you mean imagePullPolicy?)"]);
  });
  it("reports unknown fields at any depth, but not in free-form maps", async () => {
    const objs = mutated("prod", (o) => {
      const n = get(o, "NetworkPolicy", "allow-pyxis");
      n.spec.ingress[0].form = n.spec.ingress[0].from;
      get(o, "CronJob", "postgres-backup").spec.jobTemplate.spec.template.spec.restartPolicyy = "Never";
      const cm = get(o, "ConfigMap", "gateway-config");
      cm.metdata = {};
      cm.data["anything.goes"] = "x";
      get(o, "Deployment", "pyxis").metadata.annotations = { "any/key": "v" };
    });
    const errors = await validateSchemas(objs);
    assert.deepEqual(errors.sort(), [
      "ConfigMap/gateway-config: unknown field metdata (did you mean metadata?)",
      "CronJob/postgres-backup: unknown field spec.jobTemplate.spec.template.spec.restartPolicyy (did you mean restartPolicy?)",
      "NetworkPolicy/allow-pyxis: unknown field spec.ingress[0].form (did you mean from?)",
    ]);
  });
  it("reports unknown apiVersion/kind combinations", async () => {
    const objs: K8sObject[] = [
      { apiVersion: "apps/v1", kind: "Deploymnt", metadata: { name: "a" } },
      { apiVersion: "extensions/v1beta1", kind: "Deployment", metadata: { name: "b" } },
      { apiVersion: "policy/v1beta1", kind: "PodDisruptionBudget", metadata: { name: "c" } },
      { apiVersion: "asky.io/v1", kind: "Thing", metadata: { name: "d" } },
      { apiVersion: "../../etc", kind: "X", metadata: { name: "e" } },
    ];
    const errors = await validateSchemas(objs);
    assert.equal(errors.length, 5, errors.join("\n"));
    for (const e of errors) assert.match(e, /unknown apiVersion\/kind/);
    assert.match(errors[2], /policy\/v1beta1.*removed in Kubernetes 1\.25/);
  });
  it("accepts the render's redacted Secret data, rejects other non-base64 data", async () => {
    const objs = mutated("dev", (o) => (get(o, "Secret", "pyxis-db").data.OTHER = "not base64!"));
    const errors = await validateSchemas(objs);
    assert.deepEqual(errors, ['Secret/pyxis-db: data.OTHER must match format "byte"']);
  });
});

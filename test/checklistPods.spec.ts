// POD-1..13 (checklist/pods.ts) at their edges: each rule's passing and failing case per branch, with the
// message an operator reads, the pod-level settings a container inherits or overrides, and the readers
// the rules stand on (quantities, image references). The mutation run over the file
// (npm run test:mutation -- checklist-pods) showed which of them no spec asserted.
import assert from "node:assert/strict";
import { Check, K8sObject, PolicyContext, checks } from "../checklist";
import { imageName, imageTagKind, parseQuantity, pod1, pod10, pod11, pod13, pod2, pod3, pod4, pod5, pod6, pod7, pod8, pod9 } from "../checklist/pods";
import { reasons as checkReasons } from "./support/checklist";

const dev: PolicyContext = { stack: "dev", namespace: "asky" };
const prod: PolicyContext = { stack: "prod", namespace: "asky" };
/** A workload of `kind` named w with one container "app" (its fields merged in) and the pod spec's extra fields. */
const workload = (container: Record<string, unknown>, podSpec: Record<string, unknown> = {}, kind = "Deployment"): K8sObject => {
    const spec = { containers: [{ name: "app", image: "asky/app:1.0", ...container }], ...podSpec };
    return {
        apiVersion: "apps/v1", kind, metadata: { name: "w", namespace: "asky" },
        spec: kind === "Pod" ? spec : kind === "CronJob" ? { jobTemplate: { spec: { template: { spec } } } } : { template: { metadata: {}, spec } },
    } as unknown as K8sObject;
};
const reasons = (check: Check, objects: K8sObject[], ctx: PolicyContext = dev) => checkReasons(check, objects, ctx);
const sc = (securityContext: Record<string, unknown>) => ({ securityContext });

describe("POD-1..13 at their edges (checklist/pods.ts)", () => {
    it("a malformed pod (null containers, volumes, ports, probes) is reported, never a crash of the whole pack", () => {
        const broken = [
            workload({}, { containers: [null], initContainers: [null], volumes: [null, { name: "v", projected: { sources: [null] } }] }),
            workload({ ports: [null], volumeMounts: [null], securityContext: null, resources: null, readinessProbe: null, env: [null] }),
            { apiVersion: "v1", kind: "Pod", metadata: { name: "bare", namespace: "asky" } } as unknown as K8sObject,
        ];
        for (const [id, check] of Object.entries(checks)) assert.doesNotThrow(() => check(broken, prod), id);
        assert.deepEqual(reasons(pod1, broken.slice(0, 1)), [
            'Deployment/w: initContainer "undefined": securityContext.allowPrivilegeEscalation must be false',
            'Deployment/w: container "undefined": securityContext.allowPrivilegeEscalation must be false',
        ]);
        assert.deepEqual(reasons(pod5, broken.slice(0, 1)), ['Deployment/w: volume "undefined" has no source']);
    });

    it("POD-1: allowPrivilegeEscalation false on every container and init container, nothing else passes", () => {
        assert.deepEqual(reasons(pod1, [workload(sc({ allowPrivilegeEscalation: false }))]), []);
        for (const c of [{}, sc({}), sc({ allowPrivilegeEscalation: true }), sc({ allowPrivilegeEscalation: "false" })])
            assert.deepEqual(reasons(pod1, [workload(c)]), ['Deployment/w: container "app": securityContext.allowPrivilegeEscalation must be false'], JSON.stringify(c));
        assert.deepEqual(reasons(pod1, [workload(sc({ allowPrivilegeEscalation: false }), { initContainers: [{ name: "wait" }] })]),
            ['Deployment/w: initContainer "wait": securityContext.allowPrivilegeEscalation must be false']);
    });

    it("POD-2: runAsNonRoot and numeric non-zero ids, the container's value over the pod's", () => {
        const good = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 };
        assert.deepEqual(reasons(pod2, [workload({}, sc(good))]), [], "inherited from the pod");
        assert.deepEqual(reasons(pod2, [workload(sc(good))]), []);
        assert.deepEqual(reasons(pod2, [workload(sc({ runAsNonRoot: false, runAsUser: 0 }), sc(good))]), [
            'Deployment/w: container "app": runAsNonRoot must be true (pod or container securityContext)',
            'Deployment/w: container "app": runAsUser must be a numeric non-zero id (is 0)',
        ], "the container overrides the pod");
        for (const bad of ["1000", 1.5, -1, null])
            assert.deepEqual(reasons(pod2, [workload(sc({ runAsGroup: bad }), sc(good))]), [`Deployment/w: container "app": runAsGroup must be a numeric non-zero id (is ${JSON.stringify(bad)})`], String(bad));
        assert.deepEqual(reasons(pod2, [workload({})]), [
            'Deployment/w: container "app": runAsNonRoot must be true (pod or container securityContext)',
            'Deployment/w: container "app": runAsUser must be a numeric non-zero id (is undefined)',
            'Deployment/w: container "app": runAsGroup must be a numeric non-zero id (is undefined)',
        ]);
    });

    it("POD-3: every capability dropped, none added, each said apart", () => {
        assert.deepEqual(reasons(pod3, [workload(sc({ capabilities: { drop: ["ALL"] } }))]), []);
        assert.deepEqual(reasons(pod3, [workload(sc({ capabilities: { drop: ["ALL"], add: [] } }))]), []);
        assert.deepEqual(reasons(pod3, [workload(sc({ capabilities: { drop: ["NET_RAW"], add: ["NET_ADMIN", "SYS_TIME"] } }))]), [
            'Deployment/w: container "app": securityContext.capabilities.drop must contain "ALL"',
            'Deployment/w: container "app": securityContext.capabilities.add must be empty (adds NET_ADMIN, SYS_TIME)',
        ]);
        assert.deepEqual(reasons(pod3, [workload({})]), ['Deployment/w: container "app": securityContext.capabilities.drop must contain "ALL"']);
    });

    it("POD-4: RuntimeDefault seccomp, the container's profile over the pod's", () => {
        const runtimeDefault = { seccompProfile: { type: "RuntimeDefault" } };
        assert.deepEqual(reasons(pod4, [workload({}, sc(runtimeDefault))]), []);
        assert.deepEqual(reasons(pod4, [workload(sc({ seccompProfile: { type: "Unconfined" } }), sc(runtimeDefault))]),
            ['Deployment/w: container "app": seccompProfile.type must be RuntimeDefault (is Unconfined)']);
        assert.deepEqual(reasons(pod4, [workload(sc(runtimeDefault), sc({ seccompProfile: { type: "Unconfined" } }))]), []);
        assert.deepEqual(reasons(pod4, [workload({})]), ['Deployment/w: container "app": seccompProfile.type must be RuntimeDefault (is unset)']);
    });

    it("POD-5: the six safe volume sources pass; any other source is named; a volume without one is refused", () => {
        const safe = [{ name: "a", configMap: { name: "c" } }, { name: "b", secret: { secretName: "s" } }, { name: "c", emptyDir: {} },
            { name: "d", projected: { sources: [] } }, { name: "e", downwardAPI: { items: [] } }, { name: "f", persistentVolumeClaim: { claimName: "p" } }];
        assert.deepEqual(reasons(pod5, [workload({}, { volumes: safe })]), []);
        const allowed = "only configMap, secret, emptyDir, projected, downwardAPI, persistentVolumeClaim are allowed";
        assert.deepEqual(reasons(pod5, [workload({}, { volumes: [{ name: "host", hostPath: { path: "/" } }, { name: "two", nfs: {}, emptyDir: {}, hostPath: {} }, { name: "none" }] })]), [
            `Deployment/w: volume "host" uses hostPath; ${allowed}`,
            `Deployment/w: volume "two" uses nfs, hostPath; ${allowed}`,
            'Deployment/w: volume "none" has no source',
        ]);
    });

    it("POD-6: host namespaces, hostProcess, privileged and host ports, each named; false and 0 pass", () => {
        assert.deepEqual(reasons(pod6, [workload(sc({ privileged: false }), { hostNetwork: false, hostPID: false, hostIPC: false })]), []);
        assert.deepEqual(reasons(pod6, [workload({}, { hostNetwork: true, hostPID: true, hostIPC: true, ...sc({ windowsOptions: { hostProcess: true } }) })]), [
            "Deployment/w: hostNetwork must not be true", "Deployment/w: hostPID must not be true", "Deployment/w: hostIPC must not be true", "Deployment/w: hostProcess must not be true",
        ]);
        assert.deepEqual(reasons(pod6, [workload({ ...sc({ privileged: true, windowsOptions: { hostProcess: true } }), ports: [{ containerPort: 8080, hostPort: 80 }, { containerPort: 9000, hostPort: 0 }, { containerPort: 9100 }] })]), [
            'Deployment/w: container "app": privileged must not be true',
            'Deployment/w: container "app": hostProcess must not be true',
            'Deployment/w: container "app": port 8080 uses hostPort 80',
        ]);
        assert.deepEqual(reasons(pod6, [workload(sc({ windowsOptions: { hostProcess: false } }), sc({ windowsOptions: {} }))]), []);
    });

    it("an image's repository name and tag kind, registry ports and digests included", () => {
        const names: [string, string][] = [["nginx", "nginx"], ["nginxinc/nginx-unprivileged:1.27", "nginx-unprivileged"], ["registry.local:5000/team/postgres:16@sha256:" + "a".repeat(64), "postgres"],
            ["postgres@sha256:" + "b".repeat(64), "postgres"], ["localhost:5000/redis", "redis"]];
        for (const [image, name] of names) assert.equal(imageName(image), name, image);
        const kinds: [string, string][] = [["postgres@sha256:" + "c".repeat(64), "digest"], ["postgres:16@sha256:" + "d".repeat(64), "digest"], ["nginx", "untagged"], ["nginx:", "untagged"],
            ["nginx:latest", "latest"], ["nginx:1.27", "tag"], ["registry.local:5000/nginx", "untagged"], ["registry.local:5000/nginx:1.27", "tag"], ["registry.local:5000/nginx:latest", "latest"],
            ["postgres@sha256:" + "c".repeat(63), "tag"], ["postgres@sha256:" + "C".repeat(64), "tag"], ["postgres@sha256:" + "c".repeat(64) + "x", "tag"]];
        for (const [image, kind] of kinds) assert.equal(imageTagKind(image), kind, image);
    });

    it("POD-7: a read-only root, and a writable emptyDir where nginx and the postgres server write; clients in Jobs need none", () => {
        const ro = sc({ readOnlyRootFilesystem: true });
        assert.deepEqual(reasons(pod7, [workload({ securityContext: { readOnlyRootFilesystem: "true" } })]), ['Deployment/w: container "app": securityContext.readOnlyRootFilesystem must be true']);
        assert.deepEqual(reasons(pod7, [workload({ ...ro })]), []);
        const nginx = (mounts: unknown[], volumes: unknown[], kind = "Deployment", image = "nginxinc/nginx-unprivileged:1.27") =>
            reasons(pod7, [workload({ ...ro, image, volumeMounts: mounts }, { volumes }, kind)]);
        const tmpNeeded = ['Deployment/w: container "app": nginx writes to /tmp: mount a writable emptyDir there'];
        const emptyTmp = [{ name: "tmp", emptyDir: {} }];
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tmp" }], emptyTmp), []);
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tmp/" }], emptyTmp), [], "a trailing slash is the same directory");
        assert.deepEqual(nginx([null, { name: "tmp", mountPath: "/tmp//" }], emptyTmp), [], "and two");
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tm" }], emptyTmp), tmpNeeded, "a path that only starts the same");
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/" }], emptyTmp), [], "a parent directory covers it");
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tmp" }], emptyTmp, "Pod"), [], "a bare Pod too");
        assert.deepEqual(nginx([], []), tmpNeeded);
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tmp", readOnly: true }], emptyTmp), tmpNeeded, "a read-only mount");
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tmp2" }], emptyTmp), tmpNeeded, "a sibling path");
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tmp/cache" }], emptyTmp), tmpNeeded, "a subdirectory");
        assert.deepEqual(nginx([{ name: "tmp", mountPath: "/tmp" }], [{ name: "tmp", configMap: { name: "c" } }]), tmpNeeded, "not an emptyDir");
        assert.deepEqual(nginx([{ name: "other", mountPath: "/tmp" }], emptyTmp), tmpNeeded, "a mount of a volume the pod does not have");
        assert.deepEqual(nginx([{ name: "tmp" }], emptyTmp), tmpNeeded, "a mount without a path");
        assert.deepEqual(nginx([], [], "Job"), tmpNeeded.map((r) => r.replace("Deployment", "Job")), "nginx writes in a Job too");
        assert.deepEqual(nginx([], [], "Deployment", "nginx/nginx-prometheus-exporter:1.5.1"), [], "an image that only carries the name");
        assert.deepEqual(nginx([], [], "Deployment", "nginx:1.27"), tmpNeeded);
        assert.deepEqual(nginx([], [], "Deployment", "ghcr.io/acme/bnginx:1"), [], "another image whose name ends in nginx");
        const postgres = (mounts: unknown[], volumes: unknown[], kind = "StatefulSet") => reasons(pod7, [workload({ ...ro, image: "postgres:16.15", volumeMounts: mounts }, { volumes }, kind)]);
        assert.deepEqual(postgres([], [], "Job"), [], "psql and pg_dump in Jobs");
        assert.deepEqual(postgres([], [], "CronJob"), []);
        assert.deepEqual(postgres([{ name: "run", mountPath: "/var/run" }, { name: "tmp", mountPath: "/tmp" }, { name: "shm", mountPath: "/dev/shm" }],
            [{ name: "run", emptyDir: {} }, { name: "tmp", emptyDir: {} }, { name: "shm", emptyDir: { medium: "Memory" } }]), []);
        assert.deepEqual(postgres([{ name: "run", mountPath: "/var/run/postgresql" }, { name: "shm", mountPath: "/dev/shm" }], [{ name: "run", emptyDir: {} }, { name: "shm", emptyDir: {} }]), [
            'StatefulSet/w: container "app": the postgres server writes to /tmp: mount a writable emptyDir there',
            'StatefulSet/w: container "app": the postgres server writes to /dev/shm: mount a writable emptyDir with medium Memory there',
        ]);
        assert.deepEqual(reasons(pod7, [workload({ ...ro, image: "ghcr.io/acme/mypostgres:1" })]), [], "another image whose name ends in postgres");
        assert.deepEqual(reasons(pod7, [workload({ ...ro, image: 42 })]), [], "no image name, no known writer");
    });

    it("POD-8: no service account token, from the pod, its own ServiceAccount, or a projected volume", () => {
        const sa = (name: string, automount: boolean | undefined, namespace = "asky") =>
            ({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace }, ...(automount === undefined ? {} : { automountServiceAccountToken: automount }) } as unknown as K8sObject);
        const refused = ["Deployment/w: automountServiceAccountToken must be false"];
        assert.deepEqual(reasons(pod8, [workload({}, { automountServiceAccountToken: false })]), []);
        assert.deepEqual(reasons(pod8, [workload({}, { serviceAccountName: "pyxis" }), sa("pyxis", false)]), [], "the ServiceAccount's setting when the pod has none");
        assert.deepEqual(reasons(pod8, [workload({}, { serviceAccount: "pyxis" }), sa("pyxis", false)]), [], "the deprecated field names it too");
        assert.deepEqual(reasons(pod8, [workload({}), sa("default", false)]), [], "no name is the default ServiceAccount");
        assert.deepEqual(reasons(pod8, [workload({}, { serviceAccountName: "pyxis" }), sa("pyxis", false, "other")]), refused, "another namespace's ServiceAccount");
        assert.deepEqual(reasons(pod8, [workload({}, { serviceAccountName: "pyxis" }), sa("pyxis", undefined)]), refused);
        assert.deepEqual(reasons(pod8, [workload({}, { serviceAccountName: "pyxis" }), sa("default", false)]), refused, "another ServiceAccount");
        assert.deepEqual(reasons(pod8, [workload({}, { automountServiceAccountToken: true, serviceAccountName: "pyxis" }), sa("pyxis", false)]), refused, "the pod's true wins");
        assert.deepEqual(reasons(pod8, [workload({}, { automountServiceAccountToken: false, volumes: [{ name: "token", projected: { sources: [{ configMap: { name: "ca" } }, { serviceAccountToken: { path: "t" } }] } }, { name: "ca", projected: { sources: [{ configMap: { name: "ca" } }] } }] })]),
            ['Deployment/w: volume "token" projects a service account token']);
    });

    it("Kubernetes quantities read as numbers: suffixes, exponents, signs and spaces; anything else unread", () => {
        const cases: [unknown, number | undefined][] = [
            ["500m", 0.5], ["2", 2], ["1.5", 1.5], ["1Ki", 1024], ["1Mi", 2 ** 20], ["1Gi", 2 ** 30], ["2Ti", 2 * 2 ** 40], ["1Pi", 2 ** 50], ["1Ei", 2 ** 60],
            ["1k", 1e3], ["1M", 1e6], ["1G", 1e9], ["1T", 1e12], ["1P", 1e15], ["1E", 1e18], ["100n", 1e-7], ["5u", 5e-6], ["1e3", 1000], ["1e10", 1e10], ["1E-3", 0.001], ["1e+2", 100],
            ["+3", 3], [" 64Mi ", 64 * 2 ** 20], [3, 3], [0.25, 0.25],
            ["abc", undefined], ["1Gib", undefined], ["Mi", undefined], ["e3", undefined], ["1e", undefined], ["1 Gi", undefined], ["x1", undefined], [null, undefined], [undefined, undefined],
        ];
        for (const [q, n] of cases) {
            const got = parseQuantity(q);
            if (n === undefined) assert.equal(got, undefined, String(q));
            else assert.ok(got !== undefined && Math.abs(got - n) <= n * 1e-12, `${String(q)}: ${got} ≠ ${n}`);
        }
        assert.equal(parseQuantity("-1"), -1);
    });

    it("POD-9: all three resources requested and limited, and no request above its limit, units compared", () => {
        const res = (requests: Record<string, unknown>, limits: Record<string, unknown>) => ({ resources: { requests, limits } });
        const all = { cpu: "100m", memory: "64Mi", "ephemeral-storage": "100Mi" };
        assert.deepEqual(reasons(pod9, [workload(res(all, all))]), []);
        assert.deepEqual(reasons(pod9, [workload(res({ ...all, memory: "1Gi" }, { ...all, memory: "1024Mi" }))]), [], "equal in other units");
        assert.deepEqual(reasons(pod9, [workload(res({ ...all, cpu: "2" }, { ...all, cpu: "1500m" }))]), ['Deployment/w: container "app": cpu request 2 exceeds its limit 1500m']);
        assert.deepEqual(reasons(pod9, [workload(res({ ...all, "ephemeral-storage": "1Gi" }, { ...all, "ephemeral-storage": "1G" }))]),
            ['Deployment/w: container "app": ephemeral-storage request 1Gi exceeds its limit 1G']);
        assert.deepEqual(reasons(pod9, [workload(res({ ...all, cpu: "lots" }, all))]), [], "an unreadable quantity is the API server's to refuse");
        assert.deepEqual(reasons(pod9, [workload(res({ cpu: "100m" }, { memory: "64Mi" }))]), [
            'Deployment/w: container "app": resources.requests lacks memory, ephemeral-storage',
            'Deployment/w: container "app": resources.limits lacks cpu, ephemeral-storage',
        ]);
        assert.deepEqual(reasons(pod9, [workload({ resources: { requests: all } })]), ['Deployment/w: container "app": resources.limits lacks cpu, memory, ephemeral-storage']);
        assert.deepEqual(reasons(pod9, [workload({ resources: { limits: all } })]), ['Deployment/w: container "app": resources.requests lacks cpu, memory, ephemeral-storage']);
        assert.deepEqual(reasons(pod9, [workload({})]), [
            'Deployment/w: container "app": resources.requests lacks cpu, memory, ephemeral-storage',
            'Deployment/w: container "app": resources.limits lacks cpu, memory, ephemeral-storage',
        ]);
    });

    it("POD-10: two probes on long-running containers, checking different things on declared ports", () => {
        const ports = [null, { name: "http", containerPort: 8000 }, { name: "admin", containerPort: 9000 }];
        const probes = (readinessProbe: unknown, livenessProbe: unknown, extra: Record<string, unknown> = {}) => reasons(pod10, [workload({ ports, readinessProbe, livenessProbe, ...extra })]);
        const identical = 'Deployment/w: container "app": readinessProbe and livenessProbe are identical checks (only their timings differ): make readiness prove the container can serve now, liveness that it is not wedged';
        assert.deepEqual(probes({ httpGet: { path: "/ready", port: 8000 } }, { httpGet: { path: "/live", port: "http" } }), []);
        assert.deepEqual(probes({ httpGet: { path: "/healthz", port: 8000 }, periodSeconds: 5 }, { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 20 }), [identical], "a named port is its number");
        assert.deepEqual(probes({ httpGet: { port: 8000 } }, { httpGet: { path: "/", port: 8000, scheme: "HTTP" } }), [identical], "the defaults path / and scheme HTTP");
        assert.deepEqual(probes({ httpGet: { path: "/", port: 8000, scheme: "HTTPS" } }, { httpGet: { path: "/", port: 8000 } }), [], "another scheme");
        assert.deepEqual(probes({ httpGet: { path: "/", port: 8000, host: "127.0.0.1" } }, { httpGet: { path: "/", port: 8000 } }), [], "another host");
        assert.deepEqual(probes({ httpGet: { path: "/", port: 8000 } }, { httpGet: { path: "/", port: "admin" } }), [], "another port");
        assert.deepEqual(probes({ tcpSocket: { port: "http" } }, { tcpSocket: { port: 8000 } }), [identical]);
        assert.deepEqual(probes({ tcpSocket: { port: 8000 } }, { tcpSocket: { port: 9000 } }), []);
        assert.deepEqual(probes({ tcpSocket: { port: 8000 } }, { httpGet: { port: 8000 } }), [], "another handler");
        assert.deepEqual(probes({ exec: { command: ["pg_isready"] } }, { exec: { command: ["pg_isready"] }, timeoutSeconds: 9 }), [identical]);
        assert.deepEqual(probes({ exec: { command: ["pg_isready", "-q"] } }, { exec: { command: ["pg_isready"] } }), []);
        assert.deepEqual(probes({ grpc: { port: 8000 } }, { grpc: { port: 8000, service: "" } }), [identical], "the default gRPC service is the empty one");
        assert.deepEqual(probes({ grpc: { port: 8000, service: "ready" } }, { grpc: { port: 8000 } }), []);
        assert.deepEqual(probes({ httpGet: { path: "/a", port: 7000 } }, { tcpSocket: { port: "metrics" } }, { startupProbe: { grpc: { port: 7001 } } }), [
            'Deployment/w: container "app": readinessProbe httpGet port 7000 is not a declared containerPort',
            'Deployment/w: container "app": livenessProbe tcpSocket port "metrics" is not a declared containerPort',
            'Deployment/w: container "app": startupProbe grpc port 7001 is not a declared containerPort',
        ]);
        assert.deepEqual(probes({ periodSeconds: 5 }, { exec: { command: ["true"] } }), ['Deployment/w: container "app": readinessProbe has no handler']);
        assert.deepEqual(probes(undefined, { exec: { command: ["true"] } }, { startupProbe: "yes" }), ['Deployment/w: container "app": readinessProbe is missing']);
        assert.deepEqual(reasons(pod10, [workload({})]), ['Deployment/w: container "app": readinessProbe is missing', 'Deployment/w: container "app": livenessProbe is missing']);
        // Jobs and init containers run to completion: no probes asked.
        assert.deepEqual(reasons(pod10, [workload({}, {}, "Job"), workload({}, {}, "CronJob")]), []);
        assert.deepEqual(reasons(pod10, [workload({ readinessProbe: { exec: { command: ["a"] } }, livenessProbe: { exec: { command: ["b"] } } }, { initContainers: [{ name: "wait" }] })]), []);
        for (const kind of ["StatefulSet", "DaemonSet", "ReplicaSet", "Pod"]) assert.equal(reasons(pod10, [workload({}, {}, kind)]).length, 2, kind);
    });

    it("POD-11: prod pins every image by version or digest; dev may follow a moving tag", () => {
        const image = (image: unknown, ctx = prod) => reasons(pod11, [workload({ image })], ctx);
        assert.deepEqual(image("asky/app:latest", dev), []);
        assert.deepEqual(image("asky/app:1.0"), []);
        assert.deepEqual(image("asky/app@sha256:" + "e".repeat(64)), []);
        assert.deepEqual(image("asky/app:latest"), ['Deployment/w: container "app": image asky/app:latest uses the moving tag latest; pin a version or a digest']);
        assert.deepEqual(image("registry.local:5000/asky/app"), ['Deployment/w: container "app": image registry.local:5000/asky/app has no tag (means latest); pin a version or a digest']);
        for (const none of ["", undefined, 7]) assert.deepEqual(image(none), ['Deployment/w: container "app": has no image'], String(none));
    });

    it("POD-13: the stack's Namespace enforces, warns and audits restricted; each missing mode named", () => {
        const ns = (labels: Record<string, string>, name = "asky") => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } } as unknown as K8sObject);
        const restricted = Object.fromEntries(["enforce", "warn", "audit"].map((m) => [`pod-security.kubernetes.io/${m}`, "restricted"]));
        assert.deepEqual(reasons(pod13, [ns(restricted)]), []);
        assert.deepEqual(reasons(pod13, [ns(restricted, "other")]), ["Namespace/asky: the stack's Namespace is not among the objects"]);
        assert.deepEqual(reasons(pod13, [ns({ ...restricted, "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/audit": "" })]), [
            'Namespace/asky: label pod-security.kubernetes.io/enforce must be "restricted" (is baseline)',
            'Namespace/asky: label pod-security.kubernetes.io/audit must be "restricted" (is )',
        ]);
        assert.deepEqual(reasons(pod13, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "asky" } } as unknown as K8sObject]).map((r) => r.replace(/.*label (\S+).*\(is (.*)\)/, "$1 $2")), [
            "pod-security.kubernetes.io/enforce unset", "pod-security.kubernetes.io/warn unset", "pod-security.kubernetes.io/audit unset",
        ]);
    });
});

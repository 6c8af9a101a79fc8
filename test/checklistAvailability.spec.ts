// HA-1..5 (checklist/availability.ts) at their edges: a failing case per branch with the message an operator
// reads, and the passing case beside it. The mutation run over the file
// (npm run test:mutation -- checklist-availability) showed which of them no spec asserted.
import assert from "node:assert/strict";
import { Check, K8sObject, PolicyContext } from "../checklist";
import { ha1, ha2, ha3, ha4, ha5 } from "../checklist/availability";
import { reasons as checkReasons, k8sObject } from "./support/checklist";

const prod: PolicyContext = { stack: "prod", namespace: "asky" };
const dev: PolicyContext = { stack: "dev", namespace: "asky" };
const reasons = (check: Check, objects: K8sObject[], ctx: PolicyContext = prod) => checkReasons(check, objects, ctx);
const k8s = (apiVersion: string, kind: string, name: string, spec: Record<string, unknown>, namespace = "asky"): K8sObject => k8sObject(kind, name, { apiVersion, spec }, namespace);
const labels = (app: string) => ({ "app.kubernetes.io/name": app });
const deployment = (name: string, spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}, namespace = "asky") =>
    k8s("apps/v1", "Deployment", name, { selector: { matchLabels: labels(name) }, template: { metadata: { labels: labels(name) }, spec: { containers: [{ name }], ...podSpec } }, ...spec }, namespace);
const hpa = (name: string, spec: Record<string, unknown>, apiVersion = "autoscaling/v2", namespace = "asky") =>
    k8s(apiVersion, "HorizontalPodAutoscaler", name, { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name }, minReplicas: 2, maxReplicas: 4, ...spec }, namespace);
const pdb = (name: string, spec: Record<string, unknown> = {}, apiVersion = "policy/v1", namespace = "asky") =>
    k8s(apiVersion, "PodDisruptionBudget", name, { selector: { matchLabels: labels(name) }, maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow", ...spec }, namespace);

describe("HA-1..5 at their edges (checklist/availability.ts)", () => {
    it("HA-1 (prod): a service runs two replicas or an autoscaling/v2 HPA from two up, not both; the cache and the database exporter run one", () => {
        assert.deepEqual(reasons(ha1, [deployment("pyxis")], dev), []);
        assert.deepEqual(reasons(ha1, [deployment("pyxis", { replicas: 2 }), deployment("redis"), deployment("postgres-exporter")]), []);
        for (const replicas of [undefined, 1, "3"])
            assert.deepEqual(reasons(ha1, [deployment("pyxis", replicas === undefined ? {} : { replicas })]), [`Deployment/pyxis: runs ${replicas ?? 1} replica(s) and no HorizontalPodAutoscaler; needs ≥ 2`], String(replicas));
        assert.deepEqual(reasons(ha1, [deployment("pyxis"), hpa("pyxis", {})]), []);
        assert.deepEqual(reasons(ha1, [deployment("pyxis", { replicas: 2 }), hpa("pyxis", {}), { ...hpa("pyxis", {}), metadata: { name: "pyxis-2", namespace: "asky" } } as K8sObject]), [
            "Deployment/pyxis: is targeted by 2 HorizontalPodAutoscalers",
            "Deployment/pyxis: sets spec.replicas although an HPA manages it",
        ]);
        assert.deepEqual(reasons(ha1, [deployment("pyxis"), hpa("pyxis", { minReplicas: undefined, maxReplicas: 1 }, "autoscaling/v1")]), [
            "HorizontalPodAutoscaler/pyxis: must be autoscaling/v2 (is autoscaling/v1)",
            "HorizontalPodAutoscaler/pyxis: minReplicas must be ≥ 2 (is 1)",
            "HorizontalPodAutoscaler/pyxis: maxReplicas must exceed minReplicas (1 ≤ 1)",
        ]);
        assert.deepEqual(reasons(ha1, [deployment("pyxis"), hpa("pyxis", { minReplicas: 2, maxReplicas: 2 })]), ["HorizontalPodAutoscaler/pyxis: maxReplicas must exceed minReplicas (2 ≤ 2)"]);
        assert.deepEqual(reasons(ha1, [deployment("pyxis"), hpa("pyxis", { minReplicas: "2", maxReplicas: "4" })]), [
            "HorizontalPodAutoscaler/pyxis: minReplicas must be ≥ 2 (is 2)",
            "HorizontalPodAutoscaler/pyxis: maxReplicas must exceed minReplicas (4 ≤ 2)",
        ]);
        assert.deepEqual(reasons(ha1, [hpa("ghost", {}), k8s("autoscaling/v2", "HorizontalPodAutoscaler", "blind", { minReplicas: 2, maxReplicas: 3 }), deployment("elsewhere", { replicas: 2 }, {}, "other"), hpa("elsewhere", {})]), [
            "HorizontalPodAutoscaler/ghost: scaleTargetRef Deployment/ghost does not exist",
            "HorizontalPodAutoscaler/blind: scaleTargetRef undefined/undefined does not exist",
            "HorizontalPodAutoscaler/elsewhere: scaleTargetRef Deployment/elsewhere does not exist",
        ]);
    });

    it("HA-2 (prod): replicated workloads roll without taking a pod down first, and can roll at all", () => {
        const rolling = (strategy: unknown, kind = "Deployment") => reasons(ha2, [kind === "Deployment"
            ? deployment("pyxis", { replicas: 2, ...(strategy === undefined ? {} : { strategy }) })
            : k8s("apps/v1", "StatefulSet", "db", { replicas: 3, updateStrategy: strategy, template: { metadata: {}, spec: {} } })]);
        for (const maxUnavailable of [0, "0", "0%"]) assert.deepEqual(rolling({ type: "RollingUpdate", rollingUpdate: { maxUnavailable, maxSurge: 1 } }), [], String(maxUnavailable));
        assert.deepEqual(rolling({ rollingUpdate: { maxUnavailable: 0 } }), [], "type defaults to RollingUpdate, maxSurge to 25%");
        assert.deepEqual(rolling(undefined), ['Deployment/pyxis: strategy.rollingUpdate.maxUnavailable must be 0 (is "25% (default)")']);
        assert.deepEqual(rolling({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } }), ["Deployment/pyxis: strategy.rollingUpdate.maxUnavailable must be 0 (is 1)"]);
        assert.deepEqual(rolling({ type: "Recreate" }), ["Deployment/pyxis: strategy.type must be RollingUpdate (is Recreate)"]);
        for (const maxSurge of [0, "0%"]) assert.deepEqual(rolling({ rollingUpdate: { maxUnavailable: 0, maxSurge } }), ["Deployment/pyxis: maxSurge 0 with maxUnavailable 0 can never roll"], String(maxSurge));
        assert.deepEqual(rolling({ type: "OnDelete" }, "StatefulSet"), ["StatefulSet/db: updateStrategy OnDelete never rolls"]);
        assert.deepEqual(rolling({ type: "RollingUpdate" }, "StatefulSet"), []);
        assert.deepEqual(rolling(undefined, "StatefulSet"), []);
        assert.deepEqual(reasons(ha2, [deployment("single", { strategy: { type: "Recreate" } })]), [], "one pod: nothing to keep up");
        assert.deepEqual(reasons(ha2, [deployment("pyxis", { replicas: 2 })], dev), []);
    });

    it("HA-3 (prod): one policy/v1 budget per replicated workload, maxUnavailable 1, AlwaysAllow, the workload's own selector", () => {
        const pyxis = deployment("pyxis", { replicas: 2 });
        assert.deepEqual(reasons(ha3, [pyxis, pdb("pyxis")]), []);
        assert.deepEqual(reasons(ha3, [pyxis], dev), [], "dev runs one replica of everything: no budgets asked");
        const db = k8s("apps/v1", "StatefulSet", "db", { replicas: 2, selector: { matchLabels: labels("db") }, template: { metadata: { labels: labels("db") }, spec: {} } });
        assert.deepEqual(reasons(ha3, [db, pdb("db")]), [], "a StatefulSet's budget");
        assert.deepEqual(reasons(ha3, [pyxis]), ["Deployment/pyxis: has no PodDisruptionBudget"]);
        assert.deepEqual(reasons(ha3, [pyxis, pdb("pyxis", {}, "policy/v1", "other")]), ["Deployment/pyxis: has no PodDisruptionBudget", "PodDisruptionBudget/pyxis: selects 0 workloads (must be exactly one)"]);
        const byExpression = pdb("pyxis-expr", { selector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["pyxis"] }] } });
        assert.deepEqual(reasons(ha3, [pyxis, pdb("pyxis"), byExpression]), [
            "Deployment/pyxis: is selected by 2 PodDisruptionBudgets: pyxis, pyxis-expr",
            "PodDisruptionBudget/pyxis-expr: selector differs from Deployment/pyxis's selector",
        ]);
        assert.deepEqual(reasons(ha3, [pyxis, pdb("pyxis", { maxUnavailable: undefined, minAvailable: 1, unhealthyPodEvictionPolicy: undefined }, "policy/v1beta1")]), [
            "PodDisruptionBudget/pyxis: must be policy/v1 (is policy/v1beta1)",
            "PodDisruptionBudget/pyxis: uses minAvailable; use maxUnavailable: 1",
            "PodDisruptionBudget/pyxis: maxUnavailable must be 1 (is undefined)",
            "PodDisruptionBudget/pyxis: unhealthyPodEvictionPolicy must be AlwaysAllow (is unset)",
        ]);
        assert.deepEqual(reasons(ha3, [pyxis, pdb("pyxis", { maxUnavailable: "1", unhealthyPodEvictionPolicy: "IfHealthyBudget" })]), [
            'PodDisruptionBudget/pyxis: maxUnavailable must be 1 (is "1")',
            "PodDisruptionBudget/pyxis: unhealthyPodEvictionPolicy must be AlwaysAllow (is IfHealthyBudget)",
        ]);
        for (const selector of [undefined, {}, { matchLabels: {}, matchExpressions: [] }]) {
            assert.deepEqual(reasons(ha3, [deployment("single"), pdb("any", { selector })]), ["PodDisruptionBudget/any: has an empty selector"], JSON.stringify(selector));
        }
        // Budgets are about replicated Deployments and StatefulSets; one spanning two of them is refused.
        const both = pdb("both", { selector: { matchLabels: { tier: "api" } } });
        const tiered = (name: string) => k8s("apps/v1", "Deployment", name, { selector: { matchLabels: { tier: "api", app: name } }, template: { metadata: { labels: { tier: "api", app: name } }, spec: {} } });
        assert.deepEqual(reasons(ha3, [tiered("a"), tiered("b"), both, k8s("batch/v1", "Job", "j", { template: { metadata: { labels: { tier: "api" } }, spec: {} } })]), ["PodDisruptionBudget/both: selects 2 workloads (must be exactly one)"]);
    });

    it("HA-4 (prod): replicated pods prefer other nodes and spread evenly, both judged on the workload's own pods", () => {
        const own = { matchLabels: labels("pyxis") };
        const anti = (topologyKey: string, labelSelector: unknown = own) => ({ podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey, labelSelector } }] } });
        const spread = (over: Record<string, unknown> = {}) => ({ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: own, ...over });
        const judge = (podSpec: Record<string, unknown>, ctx = prod) => reasons(ha4, [deployment("pyxis", { replicas: 2 }, podSpec)], ctx);
        assert.deepEqual(judge({ affinity: anti("kubernetes.io/hostname"), topologySpreadConstraints: [spread(), spread({ topologyKey: "topology.kubernetes.io/zone" })] }), []);
        assert.deepEqual(judge({}, dev), []);
        const noAnti = "Deployment/pyxis: needs a preferred podAntiAffinity term on kubernetes.io/hostname selecting its own pods";
        for (const affinity of [undefined, anti("topology.kubernetes.io/zone"), anti("kubernetes.io/hostname", { matchLabels: labels("auth") }), anti("kubernetes.io/hostname", null),
            { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname", labelSelector: own }] } }])
            assert.deepEqual(judge({ affinity, topologySpreadConstraints: [spread()] }), [noAnti], JSON.stringify(affinity));
        assert.deepEqual(judge({ affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [null, { weight: 1 }, anti("zone").podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0], anti("kubernetes.io/hostname").podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]] } }, topologySpreadConstraints: [spread()] }), [],
            "one good term among others is enough");
        assert.deepEqual(judge({ affinity: anti("kubernetes.io/hostname") }), ["Deployment/pyxis: has no topologySpreadConstraints"]);
        assert.deepEqual(judge({ affinity: anti("kubernetes.io/hostname"), topologySpreadConstraints: [spread({ maxSkew: 2, whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: labels("auth") } }), spread({ labelSelector: undefined }), null] }), [
            "Deployment/pyxis: topologySpreadConstraint on kubernetes.io/hostname: maxSkew must be 1 (is 2)",
            "Deployment/pyxis: topologySpreadConstraint on kubernetes.io/hostname: whenUnsatisfiable must be ScheduleAnyway (is DoNotSchedule)",
            "Deployment/pyxis: topologySpreadConstraint on kubernetes.io/hostname: labelSelector must select the workload's own pods",
            "Deployment/pyxis: topologySpreadConstraint on kubernetes.io/hostname: labelSelector must select the workload's own pods",
            "Deployment/pyxis: topologySpreadConstraint on undefined: maxSkew must be 1 (is undefined)",
            "Deployment/pyxis: topologySpreadConstraint on undefined: whenUnsatisfiable must be ScheduleAnyway (is undefined)",
            "Deployment/pyxis: topologySpreadConstraint on undefined: labelSelector must select the workload's own pods",
        ]);
    });

    describe("HA-5: the database is one StatefulSet whose PGDATA lives below a ReadWriteOnce claim's mount", () => {
        const server = (env: unknown[] = [{ name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" }], mounts: unknown[] = [{ name: "data", mountPath: "/var/lib/postgresql/data" }]) =>
            ({ name: "postgres", ports: [{ containerPort: 5432 }], env, volumeMounts: mounts });
        const sts = (containers: unknown[], volumes: unknown[] = [{ name: "data", persistentVolumeClaim: { claimName: "postgres-data" } }], spec: Record<string, unknown> = {}) =>
            k8s("apps/v1", "StatefulSet", "postgres", { replicas: 1, template: { metadata: {}, spec: { containers, volumes } }, ...spec });
        const claim = (spec: Record<string, unknown> = {}, namespace = "asky") => k8s("v1", "PersistentVolumeClaim", "postgres-data", { accessModes: ["ReadWriteOnce"], ...spec }, namespace);
        const pv = (spec: Record<string, unknown> = {}) => ({ apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "pv" }, spec: { accessModes: ["ReadWriteOnce"], ...spec } } as unknown as K8sObject);

        it("the sound database passes in both stacks, through a claim or a claim template, with a bound volume", () => {
            assert.deepEqual(reasons(ha5, [sts([server()]), claim()], dev), []);
            assert.deepEqual(reasons(ha5, [sts([server()], [], { volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"] } }] })]), []);
            assert.deepEqual(reasons(ha5, [sts([server()]), claim({ volumeName: "pv", storageClassName: "manual" }), pv({ storageClassName: "manual", claimRef: { name: "postgres-data", namespace: "asky" } })]), []);
            assert.deepEqual(reasons(ha5, [sts([server()]), claim({ volumeName: "pv" }), pv({ storageClassName: "", claimRef: { name: "postgres-data" } })]), [], "no class on either side; a claimRef without a namespace");
            assert.deepEqual(reasons(ha5, [sts([server()]), claim({ volumeName: "pv", storageClassName: "" }), pv()]), [], "the empty class is no class");
            assert.deepEqual(reasons(ha5, [sts([server()], undefined, { replicas: undefined }), claim()]), [], "replicas default to 1");
        });

        it("the database's shape: a StatefulSet, one replica, a container", () => {
            assert.deepEqual(reasons(ha5, [deployment("postgres")]), [
                "Deployment/postgres: the database must be a StatefulSet, not a Deployment",
                "StatefulSet/postgres: the database StatefulSet is missing",
            ]);
            assert.deepEqual(reasons(ha5, [{ ...sts([server()]), metadata: { name: "postgres", namespace: "other" } } as K8sObject]), ["StatefulSet/postgres: the database StatefulSet is missing"]);
            assert.deepEqual(reasons(ha5, [sts([server()], undefined, { replicas: 2 }), claim()]), ["StatefulSet/postgres: must run exactly 1 replica (has 2)"]);
            assert.deepEqual(reasons(ha5, [sts([])]), ["StatefulSet/postgres: has no container"]);
            assert.deepEqual(reasons(ha5, [k8s("apps/v1", "StatefulSet", "postgres", {})]), ["StatefulSet/postgres: has no pod template"]);
        });

        it("PGDATA is read from the container that serves 5432, whatever its place; an init container's does not count", () => {
            const exporter = { name: "exporter", ports: [{ containerPort: 9187 }], env: [] };
            assert.deepEqual(reasons(ha5, [sts([exporter, server()]), claim()]), []);
            assert.deepEqual(reasons(ha5, [sts([server(), exporter]), claim()]), []);
            assert.deepEqual(reasons(ha5, [sts([{ name: "app", env: [{ name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" }], volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }] }]), claim()]), [], "no port: the first container");
            const initServer = k8s("apps/v1", "StatefulSet", "postgres", { template: { spec: { initContainers: [server()], containers: [exporter], volumes: [{ name: "data", persistentVolumeClaim: { claimName: "postgres-data" } }] } } });
            assert.deepEqual(reasons(ha5, [initServer, claim()]), ['StatefulSet/postgres: container "exporter" must set PGDATA to a subdirectory of the data volume\'s mount']);
            for (const env of [[], [{ name: "PGDATA", value: "" }], [{ name: "PGDATA", valueFrom: { configMapKeyRef: { name: "c", key: "k" } } }], [null]])
                assert.deepEqual(reasons(ha5, [sts([server(env)]), claim()]), ['StatefulSet/postgres: container "postgres" must set PGDATA to a subdirectory of the data volume\'s mount'], JSON.stringify(env));
        });

        it("PGDATA below the claim's mount, not the mount itself, not outside every mount; the deepest mount holds it", () => {
            for (const pgdata of ["/var/lib/postgresql/data", "/var/lib/postgresql/data/", "/var/lib/postgresql/data//"])
                assert.deepEqual(reasons(ha5, [sts([server([{ name: "PGDATA", value: pgdata }], [{ name: "data", mountPath: "/var/lib/postgresql/data/" }])]), claim()]),
                    [`StatefulSet/postgres: PGDATA ${pgdata} is the mount point of volume "data" itself; use a subdirectory such as /var/lib/postgresql/data/pgdata`], pgdata);
            assert.deepEqual(reasons(ha5, [sts([server([{ name: "PGDATA", value: "/var/lib/postgresql/data" }])], [], { volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"] } }] })]),
                ['StatefulSet/postgres: PGDATA /var/lib/postgresql/data is the mount point of volume "data" itself; use a subdirectory such as /var/lib/postgresql/data/pgdata']);
            assert.deepEqual(reasons(ha5, [sts([server([{ name: "PGDATA", value: "/scratch" }], [{ name: "scratch", mountPath: "/scratch" }])], [{ name: "scratch", emptyDir: {} }]), claim()]),
                ["StatefulSet/postgres: PGDATA /scratch is not under any volumeMount: the data would live in the container and be lost"], "the mount point of an emptyDir");
            assert.deepEqual(reasons(ha5, [sts([server([{ name: "PGDATA", value: "/pgdata" }])]), claim()]),
                ["StatefulSet/postgres: PGDATA /pgdata is not under any volumeMount: the data would live in the container and be lost"]);
            assert.deepEqual(reasons(ha5, [sts([server([{ name: "PGDATA", value: "/var/lib/postgresql/data2/pg" }])]), claim()]),
                ["StatefulSet/postgres: PGDATA /var/lib/postgresql/data2/pg is not under any volumeMount: the data would live in the container and be lost"], "a sibling directory");
            assert.deepEqual(reasons(ha5, [sts([server(undefined, [{ name: "data", mountPath: "/var/lib/postgresql/data" }, { name: "data" }])], [{ name: "data", emptyDir: {} }]), claim()]),
                ['StatefulSet/postgres: PGDATA /var/lib/postgresql/data/pgdata lives on volume "data", which is not a PersistentVolumeClaim']);
            const nested = [{ name: "run", mountPath: "/var/lib" }, { name: "data", mountPath: "/var/lib/postgresql/data" }];
            const volumes = [{ name: "run", emptyDir: {} }, { name: "data", persistentVolumeClaim: { claimName: "postgres-data" } }];
            assert.deepEqual(reasons(ha5, [sts([server(undefined, nested)], volumes), claim()]), []);
            assert.deepEqual(reasons(ha5, [sts([server(undefined, [...nested].reverse())], volumes), claim()]), []);
            assert.deepEqual(reasons(ha5, [sts([server(undefined, [{ name: "root", mountPath: "/" }])], [{ name: "root", persistentVolumeClaim: { claimName: "postgres-data" } }]), claim()]), [], "a claim at / holds every path");
        });

        it("the claim exists in the namespace with exactly ReadWriteOnce, and the volume it binds exists and matches it", () => {
            assert.deepEqual(reasons(ha5, [sts([server()]), claim({}, "other")]), ['StatefulSet/postgres: data volume "data" claims PVC "postgres-data", which does not exist']);
            for (const accessModes of [["ReadWriteMany"], ["ReadWriteOnce", "ReadOnlyMany"], undefined])
                assert.deepEqual(reasons(ha5, [sts([server()]), claim({ accessModes })]), [`PersistentVolumeClaim/postgres-data: accessModes must be [ReadWriteOnce] (is ${JSON.stringify(accessModes)})`], JSON.stringify(accessModes));
            assert.deepEqual(reasons(ha5, [sts([server()], [], { volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOncePod"] } }] })]),
                ['StatefulSet/postgres: accessModes must be [ReadWriteOnce] (is ["ReadWriteOncePod"])']);
            assert.deepEqual(reasons(ha5, [sts([server()]), claim({ volumeName: "pv" })]), ['PersistentVolumeClaim/postgres-data: binds PersistentVolume "pv", which does not exist']);
            assert.deepEqual(reasons(ha5, [sts([server()]), claim({ volumeName: "pv", storageClassName: "fast" }), pv({ storageClassName: "manual", accessModes: ["ReadWriteMany"], claimRef: { name: "other-claim", namespace: "asky" } })]), [
                "PersistentVolumeClaim/postgres-data: storageClassName fast differs from PV pv's manual",
                "PersistentVolume/pv: accessModes must include ReadWriteOnce",
                "PersistentVolume/pv: claimRef points at asky/other-claim",
            ]);
            assert.deepEqual(reasons(ha5, [sts([server()]), claim({ volumeName: "pv" }), pv({ storageClassName: "manual", accessModes: undefined, claimRef: { name: "postgres-data", namespace: "other" } })]), [
                "PersistentVolumeClaim/postgres-data: storageClassName undefined differs from PV pv's manual",
                "PersistentVolume/pv: accessModes must include ReadWriteOnce",
                "PersistentVolume/pv: claimRef points at other/postgres-data",
            ]);
        });
    });
});

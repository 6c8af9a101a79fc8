// DATA-1..2 (checklist/data.ts), the object parts of GW-7/GW-8 (checklist/gateway.ts) and the checklist's
// entry points (checklist/index.ts) at their edges: a failing case per branch with the message an operator
// reads, and the passing case beside it. The mutation run over these files
// (npm run test:mutation -- checklist-rest) showed which of them no spec asserted.
import assert from "node:assert/strict";
import { CHECK_IDS, Check, K8sObject, PolicyContext, checkPolicy, checks, formatViolations, runCheck } from "../checklist";
import { PROTECTED_ANNOTATION, data1, data2, databaseClaims } from "../checklist/data";
import { gw7, gw8 } from "../checklist/gateway";
import { reasons as checkReasons, k8sObject as k8s } from "./support/checklist";

const dev: PolicyContext = { stack: "dev", namespace: "asky" };
const prod: PolicyContext = { stack: "prod", namespace: "asky" };
const reasons = (check: Check, objects: K8sObject[], ctx: PolicyContext = prod) => checkReasons(check, objects, ctx);
const protect = { metadata: { annotations: { [PROTECTED_ANNOTATION]: "true" } } };
const database = (volumes: unknown[] = [{ name: "data", persistentVolumeClaim: { claimName: "postgres-pv-claim" } }], extra: Record<string, unknown> = protect) =>
    k8s("StatefulSet", "postgres", { ...extra, spec: { template: { spec: { containers: [{ name: "postgres" }], volumes } } } });

describe("DATA-1..2, GW-7/GW-8 and the checklist's entry points at their edges", () => {
    it("the database's claims: the conventional name and every claim its StatefulSet mounts, in the stack's namespace", () => {
        assert.deepEqual(databaseClaims([], "asky"), ["postgres-pv-claim"]);
        assert.deepEqual(databaseClaims([database([{ name: "a", persistentVolumeClaim: { claimName: "pgdata" } }, { name: "b", emptyDir: {} }, null, { name: "c", persistentVolumeClaim: {} }])], "asky"), ["postgres-pv-claim", "pgdata"]);
        assert.deepEqual(databaseClaims([database([{ name: "a", persistentVolumeClaim: { claimName: "pgdata" } }])], "other"), ["postgres-pv-claim"]);
    });

    it("DATA-1: volumes reclaim with Retain everywhere; in prod, Retain classes and the database and its claims protected from destroy", () => {
        const pv = (policy?: string) => k8s("PersistentVolume", "pv", { spec: policy ? { persistentVolumeReclaimPolicy: policy } : {} }, null);
        assert.deepEqual(reasons(data1, [pv("Retain")], dev), []);
        assert.deepEqual(reasons(data1, [pv("Delete"), pv()], dev), ["PersistentVolume/pv: persistentVolumeReclaimPolicy must be Retain (is Delete)", "PersistentVolume/pv: persistentVolumeReclaimPolicy must be Retain (is unset)"]);
        assert.deepEqual(reasons(data1, [k8s("StorageClass", "fast", {}, null)], dev), [], "dev: classes and protection are not asked");
        const claim = (name: string, extra: Record<string, unknown> = protect) => k8s("PersistentVolumeClaim", name, extra);
        assert.deepEqual(reasons(data1, [database(), claim("postgres-pv-claim"), k8s("StorageClass", "keep", { reclaimPolicy: "Retain" }, null)]), []);
        assert.deepEqual(reasons(data1, [database(), claim("postgres-pv-claim"), k8s("StorageClass", "fast", {}, null), k8s("StorageClass", "tmp", { reclaimPolicy: "Delete" }, null)]), [
            "StorageClass/fast: reclaimPolicy must be Retain (is Delete (default))",
            "StorageClass/tmp: reclaimPolicy must be Retain (is Delete)",
        ]);
        assert.deepEqual(reasons(data1, []), ["StatefulSet/postgres: the database object is missing", "PersistentVolumeClaim/postgres-pv-claim: the database object is missing"]);
        const notProtected = (ref: string) => `${ref}: is not protected from destroy (annotation ${PROTECTED_ANNOTATION}: "true" missing)`;
        const mounted = [{ name: "data", persistentVolumeClaim: { claimName: "pgdata" } }];
        assert.deepEqual(reasons(data1, [database(mounted, {}), claim("pgdata", { metadata: { annotations: { [PROTECTED_ANNOTATION]: "yes" } } }), claim("postgres-pv-claim", {})]), [
            notProtected("StatefulSet/postgres"), notProtected("PersistentVolumeClaim/postgres-pv-claim"), notProtected("PersistentVolumeClaim/pgdata"),
        ]);
        assert.deepEqual(reasons(data1, [database(mounted), claim("postgres-pv-claim")]), [], "a mounted claim the render does not have is HA-5's and WIRE-3's to report");
        assert.deepEqual(reasons(data1, [database(mounted)]), ["PersistentVolumeClaim/postgres-pv-claim: the database object is missing"]);
    });

    describe("DATA-2: the backup CronJob", () => {
        const dump = { name: "dump", command: ["sh", "-c", "pg_dump -Fc asky > /backup/asky.dump"], volumeMounts: [{ name: "backup", mountPath: "/backup" }] };
        const cron = (spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}) => k8s("CronJob", "postgres-backup", { spec: {
            schedule: "0 3 * * *", concurrencyPolicy: "Forbid", successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, startingDeadlineSeconds: 600,
            jobTemplate: { spec: { template: { spec: { containers: [dump], volumes: [{ name: "backup", persistentVolumeClaim: { claimName: "postgres-backup" } }], ...podSpec } } } },
            ...spec,
        } });
        const backupClaim = k8s("PersistentVolumeClaim", "postgres-backup");
        const judge = (objects: K8sObject[], ctx = prod) => reasons(data2, objects, ctx);

        it("a sound backup passes; prod needs one, dev may go without", () => {
            assert.deepEqual(judge([cron(), backupClaim]), []);
            assert.deepEqual(judge([cron(), backupClaim], dev), []);
            assert.deepEqual(judge([], dev), []);
            assert.deepEqual(judge([]), ["CronJob/postgres-backup: prod needs the backup CronJob"]);
            assert.deepEqual(judge([{ ...cron(), metadata: { name: "postgres-backup", namespace: "other" } } as K8sObject]), ["CronJob/postgres-backup: prod needs the backup CronJob"]);
        });

        it("its schedule, suspension, concurrency, history and deadline", () => {
            for (const schedule of [undefined, "", "   ", 5]) assert.deepEqual(judge([cron({ schedule }), backupClaim]), ["CronJob/postgres-backup: has no schedule"], String(schedule));
            assert.deepEqual(judge([cron({ suspend: true }), backupClaim]), ["CronJob/postgres-backup: is suspended"]);
            assert.deepEqual(judge([cron({ suspend: true }), backupClaim], dev), [], "dev may pause its backups");
            assert.deepEqual(judge([cron({ concurrencyPolicy: undefined, successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: undefined, startingDeadlineSeconds: 0 }), backupClaim]), [
                "CronJob/postgres-backup: concurrencyPolicy must be Forbid (is Allow (default))",
                "CronJob/postgres-backup: successfulJobsHistoryLimit must be set (≥ 1) (is 0)",
                "CronJob/postgres-backup: failedJobsHistoryLimit must be set (≥ 1) (is unset)",
                "CronJob/postgres-backup: startingDeadlineSeconds must be set (is 0)",
            ]);
            assert.deepEqual(judge([cron({ concurrencyPolicy: "Replace", successfulJobsHistoryLimit: "3", failedJobsHistoryLimit: 1, startingDeadlineSeconds: "600" }), backupClaim]), [
                "CronJob/postgres-backup: concurrencyPolicy must be Forbid (is Replace)",
                "CronJob/postgres-backup: successfulJobsHistoryLimit must be set (≥ 1) (is 3)",
                "CronJob/postgres-backup: startingDeadlineSeconds must be set (is 600)",
            ]);
            assert.deepEqual(judge([cron({ startingDeadlineSeconds: undefined }), backupClaim]), ["CronJob/postgres-backup: startingDeadlineSeconds must be set (is unset)"]);
            assert.deepEqual(judge([cron({ successfulJobsHistoryLimit: 1 }), backupClaim]), []);
        });

        it("its own mounted claim, existing, never the database's", () => {
            assert.deepEqual(judge([cron()]), ["CronJob/postgres-backup: PVC postgres-backup does not exist"]);
            assert.deepEqual(judge([cron({}, { containers: [{ ...dump, volumeMounts: [] }] }), backupClaim]), ["CronJob/postgres-backup: mounts no PersistentVolumeClaim for the dumps"], "declared but not mounted");
            assert.deepEqual(judge([cron({}, { volumes: [{ name: "backup", emptyDir: {} }] })]), ["CronJob/postgres-backup: mounts no PersistentVolumeClaim for the dumps"]);
            assert.deepEqual(judge([cron({}, { volumes: [{ name: "backup", persistentVolumeClaim: { claimName: "postgres-pv-claim" } }] })]),
                ["CronJob/postgres-backup: writes to the database's own PVC postgres-pv-claim; the backup needs its own"]);
            assert.deepEqual(judge([cron({}, { volumes: [{ name: "backup", persistentVolumeClaim: { claimName: "pgdata" } }] }), database([{ name: "d", persistentVolumeClaim: { claimName: "pgdata" } }]), k8s("PersistentVolumeClaim", "pgdata")]),
                ["CronJob/postgres-backup: writes to the database's own PVC pgdata; the backup needs its own"]);
            assert.deepEqual(judge([cron({}, { initContainers: [dump], containers: [{ name: "upload", command: ["rclone"] }] }), backupClaim]), [], "the dump in an init container");
        });

        it("pg_dump on a command line or in a script mounted from a ConfigMap", () => {
            const noDump = "CronJob/postgres-backup: runs no pg_dump (neither on its command line nor in a mounted script)";
            const run = (c: Record<string, unknown>, extra: K8sObject[] = [], volumes: unknown[] = []) =>
                judge([cron({}, { containers: [{ ...dump, command: undefined, ...c }], volumes: [{ name: "backup", persistentVolumeClaim: { claimName: "postgres-backup" } }, ...volumes] }), backupClaim, ...extra]);
            assert.deepEqual(run({ args: ["pg_dumpall", "-g"] }), []);
            assert.deepEqual(run({ command: ["/bin/sh"], args: ["-c", "exec pg_dump asky"] }), []);
            assert.deepEqual(run({ command: ["my_pg_dump_wrapper"] }), [noDump]);
            assert.deepEqual(run({ command: ["pg_dumper"] }), [noDump]);
            assert.deepEqual(run({ command: ["sh", "/scripts/backup.sh"] }), [noDump]);
            const script = k8s("ConfigMap", "backup-script", { data: { "backup.sh": "#!/bin/sh\nset -eu\npg_dump -Fc \"$DB\" > /backup/x.dump\n" } });
            assert.deepEqual(run({ command: ["sh", "/scripts/backup.sh"] }, [script], [{ name: "scripts", configMap: { name: "backup-script" } }]), []);
            assert.deepEqual(run({ command: ["sh", "/scripts/backup.sh"] }, [script], []), [noDump], "a ConfigMap the job does not mount");
            assert.deepEqual(run({ command: ["sh", "/scripts/backup.sh"] }, [{ ...script, metadata: { name: "backup-script", namespace: "other" } } as K8sObject], [{ name: "scripts", configMap: { name: "backup-script" } }]), [noDump]);
            assert.deepEqual(run({ command: ["sh", "/scripts/backup.sh"] }, [], [{ name: "scripts", configMap: { name: "backup-script" } }]), [noDump], "a missing ConfigMap (WIRE-3 names it)");
            // Words are not glued across containers, script files or the command line and the scripts.
            assert.deepEqual(judge([cron({}, { initContainers: [{ name: "a", command: ["sh"] }], containers: [{ ...dump, command: ["pg_dump", "asky"] }] }), backupClaim]), []);
            const twoFiles = k8s("ConfigMap", "backup-script", { data: { "a.sh": "echo", "b.sh": "pg_dump -Fc asky" } });
            assert.deepEqual(run({ command: ["sh"], args: ["/scripts/b.sh"] }, [twoFiles], [{ name: "scripts", configMap: { name: "backup-script" } }]), []);
            const bare = k8s("ConfigMap", "backup-script", { data: { "backup": "pg_dump -Fc asky" } });
            assert.deepEqual(run({ command: ["sh", "/scripts/backup"] }, [bare], [{ name: "scripts", configMap: { name: "backup-script" } }]), []);
        });
    });

    describe("GW-7 and GW-8 on the gateway Deployment's first container", () => {
        const gateway = (c: Record<string, unknown>, podSpec: Record<string, unknown> = {}, namespace = "asky") => k8s("Deployment", "gateway", { spec: { template: { spec: {
            initContainers: [{ name: "render" }],
            containers: [{
                name: "nginx", ports: [{ containerPort: 8080 }], securityContext: { runAsUser: 101, readOnlyRootFilesystem: true }, volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                readinessProbe: { httpGet: { path: "/healthz", port: 8080 } }, livenessProbe: { httpGet: { path: "/healthz", port: 8080 } }, ...c,
            }, { name: "exporter" }],
            volumes: [{ name: "tmp", emptyDir: {} }], ...podSpec,
        } } } }, namespace);

        it("GW-7: both probes an httpGet on /healthz", () => {
            assert.deepEqual(reasons(gw7, [gateway({})]), []);
            assert.deepEqual(reasons(gw7, [gateway({ readinessProbe: { httpGet: { path: "/ready", port: 8080 } }, livenessProbe: { tcpSocket: { port: 8080 } } })]), [
                'Deployment/gateway: container "nginx": readinessProbe must be an httpGet on /healthz',
                'Deployment/gateway: container "nginx": livenessProbe must be an httpGet on /healthz',
            ]);
            assert.deepEqual(reasons(gw7, [gateway({ readinessProbe: undefined })]), ['Deployment/gateway: container "nginx": readinessProbe must be an httpGet on /healthz']);
            assert.deepEqual(reasons(gw7, [gateway({ readinessProbe: undefined }, {}, "other")]), [], "another namespace's gateway");
            assert.deepEqual(reasons(gw7, [gateway({}, { containers: [] })]), [], "no container: POD rules report it");
        });

        it("GW-8: port 8080, a non-root uid from the container or the pod, a read-only root, /tmp an emptyDir", () => {
            assert.deepEqual(reasons(gw8, [gateway({})]), []);
            assert.deepEqual(reasons(gw8, [gateway({ securityContext: { readOnlyRootFilesystem: true } }, { securityContext: { runAsUser: 101 } })]), [], "the pod's uid");
            assert.deepEqual(reasons(gw8, [gateway({ securityContext: { runAsUser: 0, readOnlyRootFilesystem: true } }, { securityContext: { runAsUser: 101 } })]), ['Deployment/gateway: container "nginx": must run as a non-root uid'], "the container's 0 wins");
            for (const runAsUser of [undefined, "101", -1])
                assert.deepEqual(reasons(gw8, [gateway({ securityContext: { runAsUser, readOnlyRootFilesystem: true } })]), ['Deployment/gateway: container "nginx": must run as a non-root uid'], String(runAsUser));
            assert.deepEqual(reasons(gw8, [gateway({ ports: [{ containerPort: 80 }], securityContext: { runAsUser: 101 }, volumeMounts: [{ name: "tmp", mountPath: "/var/tmp" }] })]), [
                'Deployment/gateway: container "nginx": must declare containerPort 8080',
                'Deployment/gateway: container "nginx": root filesystem must be read-only',
                'Deployment/gateway: container "nginx": /tmp must be an emptyDir',
            ]);
            assert.deepEqual(reasons(gw8, [gateway({}, { volumes: [{ name: "tmp", configMap: { name: "x" } }] })]), ['Deployment/gateway: container "nginx": /tmp must be an emptyDir']);
            assert.deepEqual(reasons(gw8, [gateway({}, { volumes: [] })]), ['Deployment/gateway: container "nginx": /tmp must be an emptyDir']);
            assert.deepEqual(reasons(gw8, [gateway({ ports: [] }, {}, "other")]), []);
            assert.deepEqual(reasons(gw8, [k8s("Deployment", "gateway", {})]), [], "no pod template");
        });
    });

    it("the entry points: every ID in checklist order, one check by ID, all of them at once, one line per violation", () => {
        assert.deepEqual(CHECK_IDS, [
            "POD-1", "POD-2", "POD-3", "POD-4", "POD-5", "POD-6", "POD-7", "POD-8", "POD-9", "POD-10", "POD-11", "POD-12", "POD-13",
            "WIRE-1", "WIRE-2", "WIRE-3", "WIRE-4", "WIRE-5", "WIRE-6", "HA-1", "HA-2", "HA-3", "HA-4", "HA-5", "NET-1", "NET-2", "NET-3", "DATA-1", "DATA-2", "SEC-1", "SEC-4", "GW-7", "GW-8",
        ]);
        for (const id of CHECK_IDS) assert.equal(typeof checks[id], "function", id);
        assert.throws(() => runCheck("POD-99", [], dev), /^Error: unknown check POD-99$/);
        const objects = [k8s("PersistentVolume", "pv", { spec: { persistentVolumeReclaimPolicy: "Delete" } }, null)];
        assert.deepEqual(runCheck("DATA-1", objects, dev), [{ id: "DATA-1", object: "PersistentVolume/pv", reason: "persistentVolumeReclaimPolicy must be Retain (is Delete)" }]);
        const all = checkPolicy(objects, dev);
        assert.deepEqual([...new Set(all.map((v) => v.id))], ["POD-13", "WIRE-5", "HA-5", "NET-1", "DATA-1"], "in checklist order");
        assert.equal(formatViolations(all.filter((v) => v.id === "DATA-1" || v.id === "POD-13")),
            "POD-13 Namespace/asky: the stack's Namespace is not among the objects\nDATA-1 PersistentVolume/pv: persistentVolumeReclaimPolicy must be Retain (is Delete)");
        assert.equal(formatViolations([]), "");
    });
});

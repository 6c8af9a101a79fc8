import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DEFAULT_DATABASE_CLAIM } from "../config/schema";
import type { AskyConfig, ServiceName } from "../config";
import { BACKUP_DATABASE_ROLE, MONITORING_DATABASE_ROLE, SERVICE_DATABASE_ROLES, renderDatabaseSql, serviceLoginRole, superuserSyncScript, userPasswordEnv } from "../sql/render";
import {
    WorkloadIdentity,
    containerResources,
    containerSecurity,
    contentChecksum,
    imagePullPolicy,
    objectMeta,
    podSecurity,
    probes,
    recommendedLabels,
    retainedObject,
    scratchVolume,
    selectorLabels,
    JOB_RESOURCES,
} from "./podHardening";

/** The official image's postgres user (Debian variant): the pod runs as it, never as root (POD-2). */
export const POSTGRES_UID = 999;
export const POSTGRES_PORT = 5432;
/** Where the volume is mounted; PGDATA is a subdirectory so a lost+found at the root never breaks initdb (HA-5). */
export const DATA_MOUNT = "/var/lib/postgresql/data";
export const PGDATA = `${DATA_MOUNT}/pgdata`;

/** The dev PV's name: the seed's `postgres-pv-volume` for the default claim, else `<claim>-pv` (never the old PV's name). */
export function hostPathVolumeName(claimName: string): string {
    return claimName === DEFAULT_DATABASE_CLAIM ? "postgres-pv-volume" : `${claimName}-pv`;
}

/** libpq's env for a Job that connects to the database as the superuser (password by reference, POD-12). */
export function postgresClientEnv(databaseName: string, superuserSecretName: pulumi.Input<string>): k8s.types.input.core.v1.EnvVar[] {
    return [
        { name: "PGHOST", value: "postgres" },
        { name: "PGPORT", value: String(POSTGRES_PORT) },
        { name: "PGDATABASE", value: databaseName },
        { name: "PGUSER", value: "postgres" },
        { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: superuserSecretName, key: "password" } } },
    ];
}

export interface AskyDatabaseArgs {
    /** Namespace of every object but the cluster-scoped dev PV. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Image, database name, resources, bcrypt cost and the users to seed (`asky:database`). */
    database: AskyConfig["database"];
    /** Claim name, size and class; a hostPath makes the dev StorageClass `manual` and the PV `postgres-pv-volume` (`asky:storage`). */
    storage: AskyConfig["storage"];
    /** Protect the PVC, PV and StatefulSet from `pulumi destroy` and keep them if removed from the program (DATA-1). */
    protect: boolean;
    /** A PriorityClass for the database pod (prod); left out, the cluster's default priority. */
    priorityClassName?: pulumi.Input<string>;
}

/**
 * PostgreSQL as a one-replica StatefulSet on its own PVC, with generated credentials, one
 * least-privilege role per service, and a bootstrap Job that (re-)applies the idempotent SQL of
 * `sql/` whenever the SQL or a credential changes, so a schema change reaches an existing database.
 */
export class AskyDatabase extends pulumi.ComponentResource {
    /** In-cluster host name of the database Service. */
    public readonly host: pulumi.Output<string>;
    /** Per service, the Secret holding its `DATABASE_URL` (its own role). */
    public readonly databaseUrlSecretNames: Record<ServiceName, pulumi.Output<string>>;
    /** Per service, the DATABASE_URL itself (secret), for the services' rollout checksums. */
    public readonly databaseUrls: Record<ServiceName, pulumi.Output<string>>;
    /** Secret with the superuser password (key `password`), for the bootstrap and backup Jobs. */
    public readonly superuserSecretName: pulumi.Output<string>;
    /** Each seeded user's password, by e-mail (the bootstrap re-sets a hash its Secret no longer matches, unless the user changed it); a Pulumi secret. */
    public readonly userPasswords: pulumi.Output<Record<string, string>>;
    /** Password of the monitoring role (`asky_monitor`, pg_monitor only), for postgres-exporter; a Pulumi secret. */
    public readonly monitorPassword: pulumi.Output<string>;
    /** Password of the backup role (`asky_backup`, pg_read_all_data only), for the backup CronJob; a Pulumi secret. */
    public readonly backupPassword: pulumi.Output<string>;
    /** The Job that applied the current SQL: services depend on it so they roll after the schema. */
    public readonly bootstrap: k8s.batch.v1.Job;
    public readonly statefulSet: k8s.apps.v1.StatefulSet;
    public readonly service: k8s.core.v1.Service;
    /** The database's PersistentVolumeClaim (`asky:storage.claimName`). */
    public readonly claim: k8s.core.v1.PersistentVolumeClaim;

    constructor(name: string, args: AskyDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Database", name, {}, opts);
        const db = args.database;
        const id: WorkloadIdentity = { name: "postgres", component: "database", instance: args.instance };
        const kept = retainedObject(args.protect);
        const dataOpts: pulumi.CustomResourceOptions = { parent: this, ...kept.opts };

        // URL-safe generated passwords: they are embedded in DATABASE_URL.
        const password = (role: string) =>
            new random.RandomPassword(`${name}-${role}-password`, { length: 32, special: false }, { parent: this }).result;
        const superuserPassword = password("superuser");
        const rolePasswords = Object.fromEntries(
            Object.keys(SERVICE_DATABASE_ROLES).map((svc) => [svc, password(svc)]),
        ) as Record<ServiceName, pulumi.Output<string>>;
        const monitorPassword = password("monitor");
        const backupPassword = password("backup");
        const userPasswordList = db.users.map((u) => ({ user: u, password: password(`user-${userPasswordEnv(u.email).toLowerCase().replace(/_/g, "-")}`) }));

        const secret = (role: string, objName: string, stringData: Record<string, pulumi.Input<string>>) =>
            new k8s.core.v1.Secret(`${name}-${role}`, {
                metadata: objectMeta(id, args.namespace, objName),
                type: "Opaque",
                stringData,
            }, { parent: this });

        const superuserSecret = secret("superuser", "postgres-superuser", { username: "postgres", password: superuserPassword });
        const roleSecret = secret("role-passwords", "database-role-passwords", Object.fromEntries(
            [
                ...(Object.keys(rolePasswords) as ServiceName[]).map((svc) => [SERVICE_DATABASE_ROLES[svc].passwordEnv, rolePasswords[svc]]),
                [MONITORING_DATABASE_ROLE.passwordEnv, monitorPassword],
                [BACKUP_DATABASE_ROLE.passwordEnv, backupPassword],
            ],
        ));
        const userSecret = secret("user-passwords", "initial-user-passwords", Object.fromEntries(
            userPasswordList.map(({ user, password: pw }) => [userPasswordEnv(user.email), pw]),
        ));

        const host = pulumi.interpolate`postgres.${args.namespace}.svc.cluster.local`;
        this.databaseUrls = {} as Record<ServiceName, pulumi.Output<string>>;
        this.databaseUrlSecretNames = {} as Record<ServiceName, pulumi.Output<string>>;
        for (const svc of Object.keys(SERVICE_DATABASE_ROLES) as ServiceName[]) {
            // The login of this password (a rotation makes a new one beside the old: sql/05-roles.sql).
            const login = rolePasswords[svc].apply((pw) => serviceLoginRole(SERVICE_DATABASE_ROLES[svc].role, pw));
            this.databaseUrls[svc] = pulumi.secret(
                pulumi.interpolate`postgresql+asyncpg://${login}:${rolePasswords[svc]}@${host}:${POSTGRES_PORT}/${db.name}`,
            );
            const s = secret(`${svc}-database-url`, `${svc}-database-url`, { DATABASE_URL: this.databaseUrls[svc] });
            this.databaseUrlSecretNames[svc] = s.metadata.name;
        }

        const claimName = args.storage.claimName;
        let volumeName: pulumi.Output<string> | undefined;
        let classOpts: pulumi.CustomResourceOptions = {};
        if (args.storage.hostPath !== undefined) {
            // dev: a class without provisioner that allows expansion, so a larger asky:storage.size
            // updates the claim in place (the API server refuses to grow a claim whose class does not allow it).
            const storageClass = new k8s.storage.v1.StorageClass(`${name}-storageclass`, {
                metadata: { name: args.storage.storageClass, labels: recommendedLabels({ ...id, name: args.storage.storageClass, component: "storage" }) },
                provisioner: "kubernetes.io/no-provisioner",
                reclaimPolicy: "Retain",
                volumeBindingMode: "Immediate",
                allowVolumeExpansion: true,
            }, { parent: this });
            classOpts = { dependsOn: [storageClass] };
            // dev: the seed's hostPath volume, now bound to exactly this claim.
            const pv = new k8s.core.v1.PersistentVolume(`${name}-pv`, {
                metadata: { name: hostPathVolumeName(claimName), labels: recommendedLabels(id) },
                spec: {
                    storageClassName: args.storage.storageClass,
                    capacity: { storage: args.storage.size },
                    accessModes: ["ReadWriteOnce"],
                    persistentVolumeReclaimPolicy: "Retain",
                    hostPath: { path: args.storage.hostPath, type: "DirectoryOrCreate" },
                    claimRef: { namespace: args.namespace, name: claimName },
                },
            }, { ...dataOpts, ...classOpts });
            volumeName = pv.metadata.name;
        }
        const claim = new k8s.core.v1.PersistentVolumeClaim(`${name}-pvc`, {
            metadata: objectMeta(id, args.namespace, claimName, kept.annotations),
            spec: {
                storageClassName: args.storage.storageClass,
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: args.storage.size } },
                ...(volumeName ? { volumeName } : {}),
            },
        }, { ...dataOpts, ...classOpts });
        this.claim = claim;

        const sql = renderDatabaseSql({ databaseName: db.name, users: db.users, bcryptCost: db.bcryptCost, previousPasswordMinutes: db.previousPasswordMinutes });
        const initdb = new k8s.core.v1.ConfigMap(`${name}-initdb`, {
            metadata: objectMeta(id, args.namespace, "postgres-initdb-config"),
            data: { "bootstrap.sql": sql },
        }, { parent: this });

        const readiness = { command: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT), "-U", "postgres", "-d", db.name] };
        const liveness = { command: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT)] };
        this.statefulSet = new k8s.apps.v1.StatefulSet(`${name}-statefulset`, {
            metadata: objectMeta(id, args.namespace, id.name, kept.annotations),
            spec: {
                replicas: 1,
                serviceName: "postgres",
                selector: { matchLabels: selectorLabels(id) },
                updateStrategy: { type: "RollingUpdate" },
                template: {
                    metadata: {
                        labels: recommendedLabels(id),
                        annotations: { "checksum/superuser": contentChecksum(superuserPassword) },
                    },
                    spec: {
                        ...podSecurity(POSTGRES_UID, POSTGRES_UID, POSTGRES_UID),
                        ...(args.priorityClassName ? { priorityClassName: args.priorityClassName } : {}),
                        terminationGracePeriodSeconds: 60,
                        containers: [{
                            name: "postgres",
                            image: db.image,
                            imagePullPolicy: imagePullPolicy(db.image),
                            args: ["postgres", "-c", "password_encryption=scram-sha-256"],
                            ports: [{ name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" }],
                            env: [
                                { name: "POSTGRES_DB", value: db.name },
                                { name: "POSTGRES_USER", value: "postgres" },
                                { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: superuserSecret.metadata.name, key: "password" } } },
                                // Never trust (SEC-4): TCP asks for a SCRAM password; the pod's own socket
                                // admits only the OS user of the same name (peer), which lets the
                                // postStart hook keep the superuser's password in step with its Secret.
                                { name: "POSTGRES_INITDB_ARGS", value: "--auth-local=peer --auth-host=scram-sha-256" },
                                { name: "PGDATA", value: PGDATA },
                            ],
                            volumeMounts: [
                                { name: "data", mountPath: DATA_MOUNT },
                                { name: "run", mountPath: "/var/run/postgresql" },
                                { name: "tmp", mountPath: "/tmp" },
                                { name: "shm", mountPath: "/dev/shm" },
                            ],
                            lifecycle: { postStart: { exec: { command: ["sh", "-c", superuserSyncScript()] } } },
                            ...probes(readiness, liveness),
                            securityContext: containerSecurity(),
                            resources: containerResources(db.resources),
                        }],
                        volumes: [
                            { name: "data", persistentVolumeClaim: { claimName: claim.metadata.name } },
                            scratchVolume("run", "16Mi"),
                            scratchVolume("tmp", "256Mi"),
                            scratchVolume("shm", "256Mi", "Memory"),
                        ],
                    },
                },
            },
        }, dataOpts);

        // The StatefulSet's governing Service, headless (kube-score statefulset-has-servicename): `postgres` resolves to the one pod.
        // A separate headless Service would change the StatefulSet's immutable serviceName: a replacement protect forbids in prod.
        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: objectMeta(id, args.namespace),
            spec: {
                type: "ClusterIP",
                clusterIP: "None",
                selector: selectorLabels(id),
                ports: [{ name: "postgres", port: POSTGRES_PORT, targetPort: "postgres", protocol: "TCP" }],
            },
        }, { parent: this });

        // The Job's name follows the SQL, the credentials and the volume: any change creates a new Job,
        // which re-applies the idempotent SQL to the running (or newly created) database before the services roll.
        const revision = contentChecksum(sql, claimName, superuserPassword, ...Object.values(rolePasswords), monitorPassword, backupPassword, ...userPasswordList.map((u) => u.password))
            .apply((h) => h.slice(0, 10));
        const migrationId: WorkloadIdentity = { name: "postgres-bootstrap", component: "migration", instance: args.instance };
        this.bootstrap = new k8s.batch.v1.Job(`${name}-bootstrap`, {
            metadata: {
                ...objectMeta(migrationId, args.namespace),
                name: pulumi.interpolate`postgres-bootstrap-${revision}`,
                // A Job that failed is replaced by the next `pulumi up` instead of awaited forever.
                annotations: { "pulumi.com/replaceUnready": "true" },
            },
            spec: {
                backoffLimit: 2,
                // Inside Pulumi's wait below, so a stuck run fails the update with the Job's own reason.
                activeDeadlineSeconds: 900,
                template: {
                    metadata: { labels: recommendedLabels(migrationId) },
                    spec: {
                        ...podSecurity(POSTGRES_UID),
                        restartPolicy: "Never",
                        containers: [{
                            name: "apply-sql",
                            image: db.image,
                            imagePullPolicy: imagePullPolicy(db.image),
                            command: ["sh", "-c", "until pg_isready -q; do echo waiting for postgres; sleep 2; done; exec psql -v ON_ERROR_STOP=1 --no-psqlrc -f /sql/bootstrap.sql"],
                            env: postgresClientEnv(db.name, superuserSecret.metadata.name),
                            envFrom: [
                                { secretRef: { name: roleSecret.metadata.name } },
                                { secretRef: { name: userSecret.metadata.name } },
                            ],
                            volumeMounts: [
                                { name: "sql", mountPath: "/sql", readOnly: true },
                                { name: "tmp", mountPath: "/tmp" },
                            ],
                            securityContext: containerSecurity(),
                            resources: containerResources(JOB_RESOURCES),
                        }],
                        volumes: [
                            { name: "sql", configMap: { name: initdb.metadata.name } },
                            scratchVolume("tmp", "64Mi"),
                        ],
                    },
                },
            },
        }, { parent: this, dependsOn: [this.statefulSet, this.service], customTimeouts: { create: "20m", update: "20m" } });

        this.host = host;
        this.superuserSecretName = superuserSecret.metadata.name;
        this.monitorPassword = monitorPassword;
        this.backupPassword = backupPassword;
        this.userPasswords = pulumi.secret(pulumi.all(userPasswordList.map((u) => u.password)).apply((pws) =>
            Object.fromEntries(userPasswordList.map((u, i) => [u.user.email, pws[i]]))));
        this.registerOutputs({
            host: this.host,
            superuserSecretName: this.superuserSecretName,
            userPasswords: this.userPasswords,
        });
    }
}

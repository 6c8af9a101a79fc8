import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AskyConfig } from "../config";
import { BACKUP_DATABASE_ROLE, backupScript } from "../sql/render";
import { POSTGRES_PORT, POSTGRES_UID } from "./database";
import {
    JOB_RESOURCES,
    WorkloadIdentity,
    containerResources,
    containerSecurity,
    contentChecksum,
    imagePullPolicy,
    objectMeta,
    podSecurity,
    recommendedLabels,
    retainedObject,
    scratchVolume,
} from "./podHardening";

/** The CronJob's name, which its Jobs are named after (`postgres-backup-<minute>`): the backup alerts watch it. */
export const BACKUP_CRONJOB = "postgres-backup";

export interface AskyBackupArgs {
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Schedule, retention, claim name, volume size and class (`asky:backup`). */
    backup: AskyConfig["backup"];
    /** The database image: pg_dump of the same major version as the server. */
    image: string;
    /** Database to dump. */
    databaseName: string;
    /** The backup role's password (AskyDatabase.backupPassword: asky_backup, pg_read_all_data only); kept a secret. */
    backupPassword: pulumi.Output<string>;
    /** Protect the backup volume from `pulumi destroy` like the data volume (DATA-1). */
    protect: boolean;
}

/** Where the dumps are encrypted to: the OpenPGP public key of `asky:backup.encryption.publicKey`. */
export const BACKUP_RECIPIENT_FILE = "recipient.asc";

/**
 * Daily logical backups (DATA-2): a CronJob runs `sql/backup.sh` as the backup role `asky_backup`
 * (pg_read_all_data, read-only; never the superuser): pg_dump custom format, encrypted as it is written
 * to the OpenPGP public key of `asky:backup.encryption` when set, into its own PVC, old dumps pruned
 * after the retention, with the same hardening as every pod.
 */
export class AskyBackup extends pulumi.ComponentResource {
    /** Name of the PVC that keeps the dumps. */
    public readonly claimName: pulumi.Output<string>;
    public readonly cronJob: k8s.batch.v1.CronJob;

    constructor(name: string, args: AskyBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Backup", name, {}, opts);
        const id: WorkloadIdentity = { name: BACKUP_CRONJOB, component: "backup", instance: args.instance };
        const b = args.backup;

        const kept = retainedObject(args.protect);
        const claim = new k8s.core.v1.PersistentVolumeClaim(`${name}-pvc`, {
            metadata: objectMeta(id, args.namespace, b.claimName, kept.annotations),
            spec: {
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: b.storageSize } },
                ...(b.storageClass ? { storageClassName: b.storageClass } : {}),
            },
        }, { parent: this, ...kept.opts });

        const publicKey = b.encryption?.publicKey;
        const script = new k8s.core.v1.ConfigMap(`${name}-script`, {
            metadata: objectMeta(id, args.namespace, "postgres-backup-script"),
            // A public key is no secret: it can only encrypt.
            data: { "backup.sh": backupScript(), ...(publicKey ? { [BACKUP_RECIPIENT_FILE]: publicKey } : {}) },
        }, { parent: this });
        const credentials = new k8s.core.v1.Secret(`${name}-credentials`, {
            metadata: objectMeta(id, args.namespace, "postgres-backup-credentials"),
            type: "Opaque",
            stringData: { username: BACKUP_DATABASE_ROLE.role, password: args.backupPassword },
        }, { parent: this });

        this.cronJob = new k8s.batch.v1.CronJob(`${name}-cronjob`, {
            metadata: objectMeta(id, args.namespace),
            spec: {
                schedule: b.schedule,
                timeZone: "Etc/UTC",
                concurrencyPolicy: "Forbid",
                startingDeadlineSeconds: 3600,
                successfulJobsHistoryLimit: 3,
                failedJobsHistoryLimit: 3,
                jobTemplate: {
                    metadata: { labels: recommendedLabels(id) },
                    spec: {
                        backoffLimit: 2,
                        activeDeadlineSeconds: 3600,
                        template: {
                            metadata: {
                                labels: recommendedLabels(id),
                                annotations: { "checksum/postgres-backup-credentials": contentChecksum(args.backupPassword) },
                            },
                            spec: {
                                ...podSecurity(POSTGRES_UID, POSTGRES_UID, POSTGRES_UID),
                                restartPolicy: "Never",
                                containers: [{
                                    name: "pg-dump",
                                    image: args.image,
                                    imagePullPolicy: imagePullPolicy(args.image),
                                    command: ["sh", "/scripts/backup.sh"],
                                    env: [
                                        { name: "PGHOST", value: "postgres" },
                                        { name: "PGPORT", value: String(POSTGRES_PORT) },
                                        { name: "PGDATABASE", value: args.databaseName },
                                        { name: "PGUSER", value: BACKUP_DATABASE_ROLE.role },
                                        { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: credentials.metadata.name, key: "password" } } },
                                        { name: "BACKUP_DIR", value: "/backups" },
                                        { name: "BACKUP_RETENTION_DAYS", value: String(b.retentionDays) },
                                        ...(publicKey ? [{ name: "BACKUP_RECIPIENT_FILE", value: `/scripts/${BACKUP_RECIPIENT_FILE}` }] : []),
                                    ],
                                    volumeMounts: [
                                        { name: "backups", mountPath: "/backups" },
                                        { name: "scripts", mountPath: "/scripts", readOnly: true },
                                        { name: "tmp", mountPath: "/tmp" },
                                    ],
                                    securityContext: containerSecurity(),
                                    resources: containerResources(JOB_RESOURCES),
                                }],
                                volumes: [
                                    { name: "backups", persistentVolumeClaim: { claimName: claim.metadata.name } },
                                    { name: "scripts", configMap: { name: script.metadata.name } },
                                    scratchVolume("tmp", "64Mi"),
                                ],
                            },
                        },
                    },
                },
            },
        }, { parent: this });

        this.claimName = claim.metadata.name;
        this.registerOutputs({ claimName: this.claimName });
    }
}

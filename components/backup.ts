import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AskyConfig } from "../config";
import { BACKUP_DATABASE_ROLE, backupScript, backupUploadScript } from "../sql/render";
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
            data: {
                "backup.sh": backupScript(),
                ...(publicKey ? { [BACKUP_RECIPIENT_FILE]: publicKey } : {}),
                ...(b.offsite ? { "upload.sh": backupUploadScript() } : {}),
            },
        }, { parent: this });
        const credentials = new k8s.core.v1.Secret(`${name}-credentials`, {
            metadata: objectMeta(id, args.namespace, "postgres-backup-credentials"),
            type: "Opaque",
            stringData: { username: BACKUP_DATABASE_ROLE.role, password: args.backupPassword },
        }, { parent: this });

        const dump: k8s.types.input.core.v1.Container = {
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
        };

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
                                // With an off-cluster copy the dump runs first (init container), then the upload.
                                ...(b.offsite ? { initContainers: [dump], containers: [uploadContainer(b.offsite)] } : { containers: [dump] }),
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

type Offsite = NonNullable<AskyConfig["backup"]["offsite"]>;

/**
 * rclone copying the dump the init container just wrote (encrypted: config requires it) to the bucket. The
 * keys come from the organisation's Secret, optional so the program creates nothing it does not own: without
 * it the upload fails the Job (and AskyBackupJobFailed fires), the dump stays on the claim.
 */
function uploadContainer(o: Offsite): k8s.types.input.core.v1.Container {
    const key = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: o.credentialsSecret, key, optional: true } } });
    return {
        name: "upload",
        image: o.image,
        imagePullPolicy: imagePullPolicy(o.image),
        command: ["sh", "/scripts/upload.sh"],
        env: [
            { name: "BACKUP_DIR", value: "/backups" },
            { name: "OFFSITE_BUCKET", value: o.bucket },
            { name: "OFFSITE_PREFIX", value: o.prefix },
            { name: "RCLONE_CONFIG_OFFSITE_TYPE", value: "s3" },
            { name: "RCLONE_CONFIG_OFFSITE_PROVIDER", value: "Other" },
            { name: "RCLONE_CONFIG_OFFSITE_ENDPOINT", value: o.endpoint },
            { name: "RCLONE_CONFIG_OFFSITE_REGION", value: o.region },
            { name: "RCLONE_CONFIG_OFFSITE_ENV_AUTH", value: "false" },
            key("RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID", "accessKeyId"),
            key("RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY", "secretAccessKey"),
            // A read-only root: rclone's config and cache live in /tmp.
            { name: "RCLONE_CONFIG", value: "/tmp/rclone.conf" },
            { name: "RCLONE_CACHE_DIR", value: "/tmp/rclone" },
            { name: "HOME", value: "/tmp" },
        ],
        volumeMounts: [
            { name: "backups", mountPath: "/backups", readOnly: true },
            { name: "scripts", mountPath: "/scripts", readOnly: true },
            { name: "tmp", mountPath: "/tmp" },
        ],
        securityContext: containerSecurity(),
        resources: containerResources(JOB_RESOURCES),
    };
}

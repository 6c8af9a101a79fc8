import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AskyConfig } from "../config";
import { MONITORING_DATABASE_ROLE } from "../sql/render";
import { POSTGRES_PORT } from "./database";
import { EXPORTER_PORTS, EXPORTER_RESOURCES, METRICS_COMPONENT, postgresExporterContainer, scrapeAnnotations } from "./monitoring";
import { WorkloadIdentity, contentChecksum, objectMeta } from "./podHardening";
import { AskyWorkload } from "./workload";

/** The image runs as nobody. */
export const POSTGRES_EXPORTER_UID = 65534;

export interface AskyDatabaseExporterArgs {
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** The database to watch (`asky:database.name`). */
    databaseName: string;
    /** The monitoring role's password (AskyDatabase.monitorPassword); kept a secret. */
    monitorPassword: pulumi.Output<string>;
    /** Exporter image and discovery (`asky:monitoring`). */
    monitoring: AskyConfig["monitoring"];
}

/**
 * postgres_exporter as its own one-replica Deployment, not a sidecar: a new exporter version or
 * setting never restarts the single database pod, and `pg_up` 0 from a live exporter says the
 * database is down. It logs in as `asky_monitor` (pg_monitor, no table access) over the Service.
 */
export class AskyDatabaseExporter extends pulumi.ComponentResource {
    public readonly workload: AskyWorkload;

    constructor(name: string, args: AskyDatabaseExporterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:DatabaseExporter", name, {}, opts);
        const id: WorkloadIdentity = { name: "postgres-exporter", component: METRICS_COMPONENT, instance: args.instance };
        const secret = new k8s.core.v1.Secret(`${name}-credentials`, {
            metadata: objectMeta(id, args.namespace, "postgres-exporter-credentials"),
            type: "Opaque",
            stringData: { username: MONITORING_DATABASE_ROLE.role, password: args.monitorPassword },
        }, { parent: this });
        const exporter = postgresExporterContainer(
            args.monitoring.images.postgresExporter,
            { host: "postgres", port: POSTGRES_PORT, database: args.databaseName, user: MONITORING_DATABASE_ROLE.role },
            secret.metadata.name,
        );
        this.workload = new AskyWorkload(`${name}-workload`, {
            identity: id,
            namespace: args.namespace,
            runAsUser: POSTGRES_EXPORTER_UID,
            resources: EXPORTER_RESOURCES,
            // One scraper of one database: a second replica would only double the queries.
            replicas: 1,
            disruptionBudget: false,
            spreadAcrossNodes: false,
            podAnnotations: { "checksum/postgres-exporter-credentials": contentChecksum(args.monitorPassword) },
            container: exporter.container,
            service: { port: EXPORTER_PORTS.postgres, targetPort: "metrics", annotations: scrapeAnnotations(args.monitoring, EXPORTER_PORTS.postgres) },
        }, { parent: this, dependsOn: opts?.dependsOn });
        this.registerOutputs({});
    }
}

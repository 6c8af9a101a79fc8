import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { recommendedLabels } from "./podHardening";

/** Above every pod without a class (0), far below the cluster's own (system-cluster-critical is 2000000000). */
export const DATABASE_PRIORITY = 100000;
export const GATEWAY_PRIORITY = 50000;

export interface AskyPriorityClassesArgs {
    /** `app.kubernetes.io/instance` of the stack; PriorityClasses are cluster-wide, so their names carry it. */
    instance: string;
}

/**
 * The scheduling priority of the two pods everything else depends on: the database, then the gateway. On a
 * full cluster the scheduler evicts pods of lower priority to place them, and they are evicted last under node
 * pressure. None is the cluster's default (globalDefault false).
 */
export class AskyPriorityClasses extends pulumi.ComponentResource {
    /** Name of the database's PriorityClass (`<instance>-database`). */
    public readonly database: pulumi.Output<string>;
    /** Name of the gateway's PriorityClass (`<instance>-gateway`). */
    public readonly gateway: pulumi.Output<string>;

    constructor(name: string, args: AskyPriorityClassesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:PriorityClasses", name, {}, opts);
        // No `description`: kubernetes-models' schema (test/support/schema.ts) lacks that field of PriorityClass.
        const priorityClass = (role: "database" | "gateway", value: number) => {
            const className = `${args.instance}-${role}`;
            return new k8s.scheduling.v1.PriorityClass(`${name}-${role}`, {
                metadata: { name: className, labels: recommendedLabels({ name: className, component: "scheduling", instance: args.instance }) },
                value,
                globalDefault: false,
                preemptionPolicy: "PreemptLowerPriority",
            }, { parent: this }).metadata.name;
        };
        this.database = priorityClass("database", DATABASE_PRIORITY);
        this.gateway = priorityClass("gateway", GATEWAY_PRIORITY);
        this.registerOutputs({ database: this.database, gateway: this.gateway });
    }
}

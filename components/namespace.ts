import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { WorkloadIdentity, recommendedLabels, retainedObject } from "./podHardening";

export interface AskyNamespaceArgs {
    /** The namespace's name (config `asky:namespace`). */
    name: string;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Protect the namespace from `pulumi destroy` and keep it when it leaves the program: deleting a namespace deletes the database's PVC with it (DATA-1). */
    protect: boolean;
}

/** The stack's namespace, enforcing the restricted Pod Security Standard (POD-13). */
export class AskyNamespace extends pulumi.ComponentResource {
    public readonly namespace: k8s.core.v1.Namespace;
    /** The namespace name, resolved once the namespace exists. */
    public readonly name: pulumi.Output<string>;

    constructor(name: string, args: AskyNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Namespace", name, {}, opts);
        const id: WorkloadIdentity = { name: args.name, component: "namespace", instance: args.instance };
        const pss = Object.fromEntries(
            ["enforce", "warn", "audit"].flatMap((mode) => [
                [`pod-security.kubernetes.io/${mode}`, "restricted"],
                [`pod-security.kubernetes.io/${mode}-version`, "latest"],
            ]),
        );
        const kept = retainedObject(args.protect);
        this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: { name: args.name, labels: { ...recommendedLabels(id), ...pss }, ...(kept.annotations ? { annotations: kept.annotations } : {}) },
        }, { parent: this, ...kept.opts });
        this.name = this.namespace.metadata.name;
        this.registerOutputs({ name: this.name });
    }
}

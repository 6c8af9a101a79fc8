import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Resources } from "../config";
import {
    WorkloadIdentity,
    containerResources,
    containerSecurity,
    imagePullPolicy,
    objectMeta,
    podSecurity,
    recommendedLabels,
    selectorLabels,
    spreadAcrossNodes,
} from "./podHardening";

/** Autoscaling of a Deployment by CPU (HA-1). */
export interface AutoscalingArgs {
    /** Lowest replica count the HPA keeps (≥ 2 in prod). */
    minReplicas: number;
    /** Highest replica count; greater than minReplicas. */
    maxReplicas: number;
    /** Average CPU utilisation the HPA aims for, in percent of the requests. */
    cpuUtilizationPercent: number;
}

/** A second container of the pod (an exporter), hardened and sized like the main one. */
export interface Sidecar {
    /** The container without security context or resources: those are added here. */
    container: Omit<k8s.types.input.core.v1.Container, "securityContext" | "resources">;
    /** Its requests and limits (POD-9). */
    resources: Resources;
}

export interface AskyWorkloadArgs {
    /** Name, component and instance: the labels, selectors and the Kubernetes object names. */
    identity: WorkloadIdentity;
    /** Namespace of every object (WIRE-4). */
    namespace: pulumi.Input<string>;
    /** The main container without security context or resources: those are added here. */
    container: Omit<k8s.types.input.core.v1.Container, "securityContext" | "resources">;
    /** Requests and limits of the container (POD-9). */
    resources: Resources;
    /** Numeric non-root UID/GID the pod runs as (POD-2). */
    runAsUser: number;
    /** Containers beside the main one (exporters); left out, none. */
    sidecars?: Sidecar[];
    /** Volumes the container mounts; only configMap/secret/emptyDir/projected kinds (POD-5). */
    volumes?: pulumi.Input<k8s.types.input.core.v1.Volume>[];
    /** Fixed replica count; ignored when `autoscaling` is set (the HPA owns it). */
    replicas: number;
    /** When set, an autoscaling/v2 HPA scales the Deployment and `spec.replicas` is left out. */
    autoscaling?: AutoscalingArgs;
    /** A policy/v1 PDB (maxUnavailable 1) when the workload runs more than one pod (HA-3). */
    disruptionBudget: boolean;
    /** Preferred anti-affinity and topology spread across nodes (HA-4). */
    spreadAcrossNodes: boolean;
    /** A PriorityClass for the pods (the gateway's in prod); left out, the cluster's default priority. */
    priorityClassName?: pulumi.Input<string>;
    /**
     * Seconds a stopping pod's main container keeps serving before it is signalled (a preStop sleep), while the
     * Service and the load balancer take it out of rotation; the grace period grows by as much. Left out, none.
     */
    drainSeconds?: number;
    /** Pod-template annotations, e.g. `checksum/config` so a config change rolls the pods (WIRE-6). */
    podAnnotations?: Record<string, pulumi.Input<string>>;
    /** The Service in front of the pods; its targetPort is the container port's name (WIRE-2). */
    service: {
        /** Port the Service listens on. */
        port: number;
        /** Name of the container port it forwards to. */
        targetPort: string;
        /** ClusterIP unless this is the one exposed workload (NET-3). */
        type?: "ClusterIP" | "NodePort" | "LoadBalancer";
        /** Fixed node port for type NodePort; left out, Kubernetes picks one. */
        nodePort?: number;
        /** `Local` keeps the client's source address (no SNAT); left out, Kubernetes' default `Cluster`. */
        externalTrafficPolicy?: "Local" | "Cluster";
        /** More ports on the same Service, each to a named container port (the gateway's HTTPS); left out, one port. */
        extraPorts?: { port: number; targetPort: string; nodePort?: number }[];
        /** Annotations of the Service (e.g. prometheus.io discovery); left out, none but {@link NOT_AWAITED}. */
        annotations?: Record<string, string>;
        /** Wait for a LoadBalancer's address (prod's gateway); left out, the Service is not awaited ({@link NOT_AWAITED}). */
        awaitAddress?: boolean;
    };
}

/**
 * `pulumi.com/skipAwait` on a Service whose pods belong to a workload the deploy awaits anyway: the
 * provider would wait for the endpoints that the Deployment's (or StatefulSet's) readiness already
 * implies, then sleep 10 s after their last change (README "Deploy time"). Whether the selector
 * matches the pods is WIRE-1, checked on the rendered objects and at preview by the policy pack.
 */
export const NOT_AWAITED: Record<string, string> = { "pulumi.com/skipAwait": "true" };

/**
 * A hardened Deployment with its Service, and in prod its HPA and PDB: the building block
 * of the API services, the cache and the gateway (the pulumi/examples ServiceDeployment, hardened).
 */
export class AskyWorkload extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    /** The Service's name, which is also the in-cluster host name. */
    public readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: AskyWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Workload", name, {}, opts);
        const id = args.identity;
        const autoscaled = args.autoscaling !== undefined;
        const multiReplica = autoscaled || args.replicas > 1;
        // What the component waits for (e.g. the schema Job, the proxied Services), its pods wait for too.
        const childOpts: pulumi.CustomResourceOptions = { parent: this, dependsOn: opts?.dependsOn };

        this.deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata: objectMeta(id, args.namespace),
            spec: {
                // The HPA owns the replica count when it exists (HA-1).
                ...(autoscaled ? {} : { replicas: args.replicas }),
                revisionHistoryLimit: 5,
                selector: { matchLabels: selectorLabels(id) },
                strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                template: {
                    metadata: { labels: recommendedLabels(id), ...(args.podAnnotations ? { annotations: args.podAnnotations } : {}) },
                    spec: {
                        // fsGroup lets the non-root UID read the 0440 Secret files it mounts.
                        ...podSecurity(args.runAsUser, args.runAsUser, args.runAsUser),
                        ...(args.spreadAcrossNodes ? spreadAcrossNodes(id) : {}),
                        ...(args.priorityClassName ? { priorityClassName: args.priorityClassName } : {}),
                        // The drain, then 30 s to finish what is in flight after the stop signal.
                        terminationGracePeriodSeconds: 30 + (args.drainSeconds ?? 0),
                        containers: [
                            {
                                ...args.container,
                                ...(args.drainSeconds ? { lifecycle: { ...args.container.lifecycle, preStop: { sleep: { seconds: args.drainSeconds } } } } : {}),
                                imagePullPolicy: imagePullPolicy(args.container.image),
                                securityContext: containerSecurity(),
                                resources: containerResources(args.resources),
                            },
                            ...(args.sidecars ?? []).map((c) => ({
                                ...c.container,
                                imagePullPolicy: imagePullPolicy(c.container.image),
                                securityContext: containerSecurity(),
                                resources: containerResources(c.resources),
                            })),
                        ],
                        volumes: args.volumes,
                    },
                },
            },
        }, childOpts);

        const servicePort = (p: { port: number; targetPort: string; nodePort?: number }) => ({
            name: p.targetPort,
            port: p.port,
            targetPort: p.targetPort,
            protocol: "TCP",
            ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
        });
        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: objectMeta(id, args.namespace, id.name, { ...(args.service.awaitAddress ? {} : NOT_AWAITED), ...args.service.annotations }),
            spec: {
                type: args.service.type ?? "ClusterIP",
                ...(args.service.externalTrafficPolicy ? { externalTrafficPolicy: args.service.externalTrafficPolicy } : {}),
                selector: selectorLabels(id),
                ports: [args.service, ...(args.service.extraPorts ?? [])].map(servicePort),
            },
        }, { parent: this });

        if (args.autoscaling) {
            new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-hpa`, {
                metadata: objectMeta(id, args.namespace),
                spec: {
                    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: id.name },
                    minReplicas: args.autoscaling.minReplicas,
                    maxReplicas: args.autoscaling.maxReplicas,
                    metrics: [{
                        type: "Resource",
                        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: args.autoscaling.cpuUtilizationPercent } },
                    }],
                },
            }, { parent: this, dependsOn: [this.deployment] });
        }

        if (args.disruptionBudget && multiReplica) {
            new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
                metadata: objectMeta(id, args.namespace),
                spec: {
                    maxUnavailable: 1,
                    unhealthyPodEvictionPolicy: "AlwaysAllow",
                    selector: { matchLabels: selectorLabels(id) },
                },
            }, { parent: this });
        }

        this.serviceName = this.service.metadata.name;
        this.registerOutputs({ serviceName: this.serviceName });
    }
}

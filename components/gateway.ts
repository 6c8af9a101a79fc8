import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AskyConfig, parseQuantity } from "../config";
import { GATEWAY_HEALTH_PATH, GatewayUpstream, renderGatewayConfig } from "../nginx/render";
import { WorkloadIdentity, contentChecksum, objectMeta, probes, scratchVolume } from "./podHardening";
import { AskyWorkload, AutoscalingArgs } from "./workload";

/** nginx-unprivileged runs as UID 101 and listens on an unprivileged port (GW-8). */
export const GATEWAY_UID = 101;
export const GATEWAY_CONTAINER_PORT = 8080;

/** The gateway's in-cluster URL (`GATEWAY_URL`), known before the gateway exists: the services are created first. */
export function gatewayClusterUrl(namespace: string, port: number): string {
    return `http://gateway.${namespace}.svc.cluster.local:${port}`;
}

export interface AskyGatewayArgs {
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** The namespace as a plain string: upstream host names are rendered into nginx.conf. */
    namespaceName: string;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Image, exposure, ports, replicas, resources and limits (`asky:gateway`). */
    gateway: AskyConfig["gateway"];
    /** Port of each proxied Service (their names are fixed: auth, pyxis, request-management). */
    upstreamPorts: { auth: number; pyxis: number; requestManagement: number };
    /** Set in prod when `autoscale` is on. */
    autoscaling?: AutoscalingArgs;
    /** Create a PDB when the gateway runs more than one pod. */
    disruptionBudget: boolean;
    /** Spread pods across nodes. */
    spreadAcrossNodes: boolean;
}

/**
 * The NGINX reverse proxy in front of the three services: ConfigMap `gateway-config` rendered
 * from `nginx/`, a hardened Deployment whose pods roll when the config changes, and the only
 * Service exposed outside the cluster (NodePort in dev, LoadBalancer in prod).
 * Create it after the Services it proxies: NGINX resolves their names when it starts (GW-9).
 */
export class AskyGateway extends pulumi.ComponentResource {
    /** The rendered nginx.conf. */
    public readonly nginxConf: string;
    /** In-cluster URL, the services' `GATEWAY_URL`. */
    public readonly clusterUrl: string;
    /** How to reach the gateway from outside: the LoadBalancer address, or the node port. */
    public readonly externalUrl: pulumi.Output<string>;
    public readonly workload: AskyWorkload;

    constructor(name: string, args: AskyGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Gateway", name, {}, opts);
        const g = args.gateway;
        const id: WorkloadIdentity = { name: "gateway", component: "gateway", instance: args.instance };
        const upstream = (service: string, port: number): GatewayUpstream => ({ host: `${service}.${args.namespaceName}.svc.cluster.local`, port });

        this.nginxConf = renderGatewayConfig({
            upstreams: {
                auth: upstream("auth", args.upstreamPorts.auth),
                pyxis: upstream("pyxis", args.upstreamPorts.pyxis),
                requestManagement: upstream("request-management", args.upstreamPorts.requestManagement),
            },
            listenPort: GATEWAY_CONTAINER_PORT,
            // One worker per CPU the container may use.
            workerProcesses: Math.max(1, Math.ceil(parseQuantity(g.resources.limits.cpu))),
            workerConnections: 1024,
            keepaliveConnections: g.limits.keepaliveConnections,
            clientMaxBodySize: g.limits.clientMaxBodySize,
            proxyConnectTimeoutSeconds: g.limits.proxyConnectTimeoutSeconds,
            proxyReadTimeoutSeconds: g.limits.proxyReadTimeoutSeconds,
            proxySendTimeoutSeconds: g.limits.proxySendTimeoutSeconds,
            loginRateLimitPerMinute: g.limits.loginRateLimitPerMinute,
            loginBurst: g.limits.loginBurst,
            runtimeDir: "/tmp",
            errorLog: "/dev/stderr",
            accessLog: "/dev/stdout",
        });
        this.clusterUrl = gatewayClusterUrl(args.namespaceName, g.port);

        const config = new k8s.core.v1.ConfigMap(`${name}-config`, {
            metadata: objectMeta(id, args.namespace, "gateway-config"),
            data: { "nginx.conf": this.nginxConf },
        }, { parent: this });

        this.workload = new AskyWorkload(`${name}-workload`, {
            identity: id,
            namespace: args.namespace,
            runAsUser: GATEWAY_UID,
            resources: g.resources,
            replicas: g.replicas,
            autoscaling: args.autoscaling,
            disruptionBudget: args.disruptionBudget,
            spreadAcrossNodes: args.spreadAcrossNodes,
            podAnnotations: { "checksum/config": contentChecksum(this.nginxConf) },
            container: {
                name: "nginx",
                image: g.image,
                ports: [{ name: "http", containerPort: GATEWAY_CONTAINER_PORT, protocol: "TCP" }],
                volumeMounts: [
                    { name: "config", mountPath: "/etc/nginx/nginx.conf", subPath: "nginx.conf", readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                ],
                ...probes({ httpPort: "http", path: GATEWAY_HEALTH_PATH }),
            },
            volumes: [
                { name: "config", configMap: { name: config.metadata.name } },
                scratchVolume("tmp", "64Mi"),
            ],
            service: {
                port: g.port,
                targetPort: "http",
                type: g.exposure,
                ...(g.nodePort !== undefined ? { nodePort: g.nodePort } : {}),
                // The login rate limit is per client address: a LoadBalancer must not SNAT it away.
                // (NodePort keeps Cluster: kind maps the host port to a node that may run no gateway pod.)
                ...(g.exposure === "LoadBalancer" ? { externalTrafficPolicy: "Local" as const } : {}),
            },
        }, { parent: this, dependsOn: opts?.dependsOn });

        const svc = this.workload.service;
        this.externalUrl = g.exposure === "LoadBalancer"
            ? svc.status.apply((st) => {
                const ingress = st?.loadBalancer?.ingress?.[0];
                const address = ingress?.hostname || ingress?.ip;
                return address ? `http://${address}:${g.port}` : "(load balancer address pending: kubectl get svc gateway)";
            })
            : svc.spec.apply((spec) => `http://<node-ip>:${spec.ports[0].nodePort ?? g.nodePort} (minikube: http://$(minikube ip):${spec.ports[0].nodePort ?? g.nodePort})`);
        this.registerOutputs({ externalUrl: this.externalUrl });
    }
}

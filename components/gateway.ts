import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { AskyConfig, gatewaySizingOf, gatewayTmpBytesOf } from "../config";
import { GATEWAY_HEALTH_PATH, GATEWAY_PORTS, GatewayTlsInput, GatewayUpstream, renderGatewayConfig } from "../nginx/render";
import { WorkloadIdentity, contentChecksum, objectMeta, probes, recommendedLabels, scratchVolume, selectorLabels } from "./podHardening";
import {
    EXPORTER_PORTS,
    GATEWAY_METRICS_LOG_PORT,
    accessLogExporterSidecar,
    gatewayLogProgram,
    metricsService,
    nginxExporterSidecar,
} from "./monitoring";
import { AskyWorkload, AskyWorkloadArgs, AutoscalingArgs, NOT_AWAITED } from "./workload";

/** nginx-unprivileged runs as UID 101 and listens on unprivileged ports (GW-8). */
export const GATEWAY_UID = 101;
/** The public plain-HTTP container port. */
export const GATEWAY_CONTAINER_PORT = GATEWAY_PORTS.http;
/** The internal listener's container port: request-management's only way in (NET-2). */
export const GATEWAY_INTERNAL_PORT = GATEWAY_PORTS.internal;
/** The ClusterIP Service of the internal listener, the services' GATEWAY_URL. */
export const GATEWAY_INTERNAL_SERVICE = "gateway-internal";
/** Port of that Service. */
export const GATEWAY_INTERNAL_SERVICE_PORT = 80;
/** Where the TLS Secret is mounted: a directory, so a renewed certificate reaches the pod. */
const TLS_DIR = "/etc/nginx/tls";
/** Port of HTTPS on the exposed Service. */
const HTTPS_SERVICE_PORT = 443;

/** The gateway's in-cluster URL (`GATEWAY_URL`, the internal listener), known before the gateway exists. */
export function gatewayClusterUrl(namespace: string): string {
    return `http://${GATEWAY_INTERNAL_SERVICE}.${namespace}.svc.cluster.local:${GATEWAY_INTERNAL_SERVICE_PORT}`;
}

/** Container ports anyone may reach (NET-2): plain HTTP, and HTTPS when TLS is on. */
export function gatewayPublicPorts(g: AskyConfig["gateway"]): number[] {
    return g.tls.mode === "off" ? [GATEWAY_PORTS.http] : [GATEWAY_PORTS.http, GATEWAY_PORTS.https];
}

export interface AskyGatewayArgs {
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** The namespace as a plain string: upstream host names are rendered into nginx.conf. */
    namespaceName: string;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Image, exposure, TLS, public routes, ports, replicas, resources and limits (`asky:gateway`). */
    gateway: AskyConfig["gateway"];
    /** Wait for a LoadBalancer's address (prod); false sets `pulumi.com/skipAwait` so a cluster without one does not hang the deploy. */
    awaitLoadBalancer: boolean;
    /** Port of each proxied Service (their names are fixed: auth, pyxis, request-management). */
    upstreamPorts: { auth: number; pyxis: number; requestManagement: number };
    /** Set in prod when `autoscale` is on. */
    autoscaling?: AutoscalingArgs;
    /** Create a PDB when the gateway runs more than one pod. */
    disruptionBudget: boolean;
    /** Spread pods across nodes. */
    spreadAcrossNodes: boolean;
    /** Seconds a stopping gateway pod keeps serving before NGINX is told to quit (`asky:availability.drainSeconds`). */
    drainSeconds: number;
    /** Exporter images and discovery (`asky:monitoring`): the stub_status and access-log exporters run beside NGINX. */
    monitoring: AskyConfig["monitoring"];
    /** A PriorityClass for the gateway pods (prod); left out, the cluster's default priority. */
    priorityClassName?: pulumi.Input<string>;
}

/**
 * The NGINX reverse proxy in front of the three services: ConfigMap `gateway-config` rendered
 * from `nginx/`, a hardened Deployment whose pods roll when the config changes, the only Service
 * exposed outside the cluster (`gateway`: NodePort in dev, LoadBalancer in prod; the public
 * allow-list, TLS when configured) and the ClusterIP `gateway-internal` the services call.
 * With TLS, the certificate Secret is mounted optional and the pod is ready once it exists;
 * `certManager` and `selfSigned` modes create it (a cert-manager Certificate, or @pulumi/tls).
 * Create it after the Services it proxies: NGINX resolves their names when it starts (GW-9).
 */
export class AskyGateway extends pulumi.ComponentResource {
    /** The rendered nginx.conf. */
    public readonly nginxConf: string;
    /** In-cluster URL of the internal listener, the services' `GATEWAY_URL`. */
    public readonly clusterUrl: string;
    /** How to reach the gateway from outside: the LoadBalancer address, or the node port. */
    public readonly externalUrl: pulumi.Output<string>;
    public readonly workload: AskyWorkload;

    constructor(name: string, args: AskyGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Gateway", name, {}, opts);
        const id: WorkloadIdentity = { name: "gateway", component: "gateway", instance: args.instance };
        this.nginxConf = gatewayNginxConf(args);
        this.clusterUrl = gatewayClusterUrl(args.namespaceName);
        const logProgram = gatewayLogProgram();
        const config = this.createConfig(name, args, id, logProgram);
        const tlsCreated = this.createTls(name, args);
        this.workload = this.createWorkload(name, args, id, config, logProgram, tlsCreated, opts);
        this.createInternalService(name, args, id);
        this.createMetricsServices(name, args, id);
        this.externalUrl = externalUrlOf(args.gateway, this.workload.service);
        this.registerOutputs({ externalUrl: this.externalUrl });
    }

    /** Config: the ConfigMap `gateway-config` with nginx.conf and the access-log exporter's program. */
    private createConfig(name: string, args: AskyGatewayArgs, id: WorkloadIdentity, logProgram: string): k8s.core.v1.ConfigMap {
        return new k8s.core.v1.ConfigMap(`${name}-config`, {
            metadata: objectMeta(id, args.namespace, "gateway-config"),
            data: { "nginx.conf": this.nginxConf, "gateway.mtail": logProgram },
        }, { parent: this });
    }

    /** TLS: the certificate Secret in `certManager` (a Certificate) and `selfSigned` modes; nothing in `secret` and `off`. */
    private createTls(name: string, args: AskyGatewayArgs): pulumi.Resource[] {
        const t = args.gateway.tls;
        const tlsId: WorkloadIdentity = { name: "gateway-tls", component: "gateway", instance: args.instance };
        if (t.mode === "certManager") {
            return [new k8s.apiextensions.CustomResource(`${name}-certificate`, {
                apiVersion: "cert-manager.io/v1",
                kind: "Certificate",
                metadata: objectMeta(tlsId, args.namespace, t.secretName),
                spec: {
                    secretName: t.secretName,
                    secretTemplate: { labels: recommendedLabels(tlsId) },
                    dnsNames: [t.hostname],
                    issuerRef: { group: "cert-manager.io", kind: t.issuer.kind, name: t.issuer.name },
                    // A fresh ECDSA key at every renewal: cheap handshakes, no key kept for years.
                    privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
                },
            }, { parent: this })];
        }
        if (t.mode === "selfSigned") {
            const key = new tls.PrivateKey(`${name}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
            const cert = new tls.SelfSignedCert(`${name}-tls-certificate`, {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: t.hostname, organization: "Asky dev (self-signed)" },
                dnsNames: [t.hostname],
                validityPeriodHours: t.validityDays * 24,
                // A `pulumi up` in the last third of its life replaces it.
                earlyRenewalHours: Math.floor((t.validityDays * 24) / 3),
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            }, { parent: this });
            return [new k8s.core.v1.Secret(`${name}-tls`, {
                metadata: objectMeta(tlsId, args.namespace, t.secretName),
                type: "kubernetes.io/tls",
                stringData: { "tls.crt": cert.certPem, "tls.key": pulumi.secret(key.privateKeyPem) },
            }, { parent: this })];
        }
        return [];
    }

    /** Workload: the hardened NGINX Deployment with its exporter sidecars, and the public Service (exposure). */
    private createWorkload(name: string, args: AskyGatewayArgs, id: WorkloadIdentity, config: k8s.core.v1.ConfigMap, logProgram: string,
        tlsCreated: pulumi.Resource[], opts?: pulumi.ComponentResourceOptions): AskyWorkload {
        const g = args.gateway;
        const tlsOn = g.tls.mode !== "off";
        const tmpMiB = Math.ceil(gatewayTmpBytesOf(g) / 2 ** 20);
        return new AskyWorkload(`${name}-workload`, {
            identity: id,
            namespace: args.namespace,
            runAsUser: GATEWAY_UID,
            resources: g.resources,
            replicas: g.replicas,
            autoscaling: args.autoscaling,
            disruptionBudget: args.disruptionBudget,
            spreadAcrossNodes: args.spreadAcrossNodes,
            drainSeconds: args.drainSeconds,
            priorityClassName: args.priorityClassName,
            // The certificate is read at each handshake: its renewal needs no roll, a config change does.
            podAnnotations: { "checksum/config": contentChecksum(this.nginxConf, logProgram) },
            // Both exporters read NGINX inside the pod: stub_status and the metrics log stream stay on loopback.
            sidecars: [
                nginxExporterSidecar(args.monitoring.images.nginxExporter, GATEWAY_PORTS.status),
                accessLogExporterSidecar(args.monitoring.images.logExporter, "log-program"),
            ],
            container: {
                name: "nginx",
                image: g.image,
                ports: gatewayContainerPorts(tlsOn),
                volumeMounts: [
                    { name: "config", mountPath: "/etc/nginx/nginx.conf", subPath: "nginx.conf", readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                    ...(tlsOn ? [{ name: "tls", mountPath: TLS_DIR, readOnly: true }] : []),
                ],
                // Probes on ports of their own, which no client can reach or fill (GW-7); by number, as kube-score reads a named probe port as 0.
                ...probes({ httpPort: GATEWAY_PORTS.ready, path: GATEWAY_HEALTH_PATH }, { httpPort: GATEWAY_PORTS.live, path: GATEWAY_HEALTH_PATH }),
            },
            volumes: [
                { name: "config", configMap: { name: config.metadata.name } },
                { name: "log-program", configMap: { name: config.metadata.name, items: [{ key: "gateway.mtail", path: "gateway.mtail" }] } },
                // Holds every large-body slot full (asky:gateway.limits.largeBodySlots × clientMaxBodySize) plus headroom.
                scratchVolume("tmp", `${tmpMiB}Mi`),
                // Optional: the pod starts before cert-manager or the organisation has made the Secret, and is not ready until it exists.
                ...(g.tls.mode !== "off"
                    ? [{ name: "tls", secret: { secretName: g.tls.secretName, optional: true, defaultMode: 0o440, items: [{ key: "tls.crt", path: "tls.crt" }, { key: "tls.key", path: "tls.key" }] } }]
                    : []),
            ],
            service: publicService(g, args.awaitLoadBalancer),
        }, { parent: this, dependsOn: tlsCreated.length ? [...toArray(opts?.dependsOn), ...tlsCreated] : opts?.dependsOn });
    }

    /** Exposure: the internal listener, ClusterIP only, so it never leaves the cluster even where NetworkPolicies are not enforced. */
    private createInternalService(name: string, args: AskyGatewayArgs, id: WorkloadIdentity): k8s.core.v1.Service {
        return new k8s.core.v1.Service(`${name}-internal`, {
            metadata: objectMeta(id, args.namespace, GATEWAY_INTERNAL_SERVICE, NOT_AWAITED),
            spec: {
                type: "ClusterIP",
                selector: selectorLabels(id),
                ports: [{ name: "internal", port: GATEWAY_INTERNAL_SERVICE_PORT, targetPort: "internal", protocol: "TCP" }],
            },
        }, { parent: this });
    }

    /** Monitoring: one Service per exporter, as the prometheus.io annotations name a single port. */
    private createMetricsServices(name: string, args: AskyGatewayArgs, id: WorkloadIdentity): void {
        const metricsOpts = { parent: this };
        metricsService(`${name}-metrics`, {
            namespace: args.namespace, pods: id, serviceName: "gateway-metrics", port: EXPORTER_PORTS.nginx, targetPort: "metrics", monitoring: args.monitoring,
        }, metricsOpts);
        metricsService(`${name}-log-metrics`, {
            namespace: args.namespace, pods: id, serviceName: "gateway-log-metrics", port: EXPORTER_PORTS.accessLog, targetPort: "log-metrics", monitoring: args.monitoring,
        }, metricsOpts);
    }
}

/** Config: nginx.conf for the stack's namespace, listeners, public routes, TLS and limits (nginx/render.ts). */
function gatewayNginxConf(args: AskyGatewayArgs): string {
    const g = args.gateway;
    const t = g.tls;
    const ns = args.namespaceName;
    const upstream = (service: string, port: number): GatewayUpstream => ({ host: `${service}.${ns}.svc.cluster.local`, port });
    const httpsPort = g.exposure === "NodePort" && t.mode !== "off" ? t.nodePort! : HTTPS_SERVICE_PORT;
    const tlsInput: GatewayTlsInput | undefined = t.mode === "off" ? undefined : {
        certificate: `${TLS_DIR}/tls.crt`,
        certificateKey: `${TLS_DIR}/tls.key`,
        hostname: t.hostname,
        httpsPort,
    };
    return renderGatewayConfig({
        upstreams: {
            auth: upstream("auth", args.upstreamPorts.auth),
            pyxis: upstream("pyxis", args.upstreamPorts.pyxis),
            requestManagement: upstream("request-management", args.upstreamPorts.requestManagement),
        },
        listenPort: GATEWAY_PORTS.http,
        tlsPort: GATEWAY_PORTS.https,
        internalPort: GATEWAY_PORTS.internal,
        readyPort: GATEWAY_PORTS.ready,
        livePort: GATEWAY_PORTS.live,
        statusPort: GATEWAY_PORTS.status,
        serverNames: {
            public: (t.mode !== "off" ? t.hostname : undefined) ?? `gateway.${ns}.svc.cluster.local`,
            internal: `${GATEWAY_INTERNAL_SERVICE}.${ns}.svc.cluster.local`,
        },
        publicRoutes: g.publicRoutes,
        tls: tlsInput,
        ...gatewaySizingOf(g),
        keepaliveConnections: g.limits.keepaliveConnections,
        clientMaxBodySize: g.limits.clientMaxBodySize,
        connectionsPerClient: g.limits.connectionsPerClient,
        largeBodySlots: g.limits.largeBodySlots,
        largeBodySlotsPerClient: g.limits.largeBodySlotsPerClient,
        proxyConnectTimeoutSeconds: g.limits.proxyConnectTimeoutSeconds,
        proxyReadTimeoutSeconds: g.limits.proxyReadTimeoutSeconds,
        proxySendTimeoutSeconds: g.limits.proxySendTimeoutSeconds,
        // Half the drain: a connection to a service pod that starts draining is closed by NGINX, between two
        // requests, before that pod's stop signal (a POST on it would otherwise meet the close: 502).
        ...(args.drainSeconds > 0 ? { upstreamKeepaliveTimeSeconds: Math.max(1, Math.floor(args.drainSeconds / 2)) } : {}),
        loginRateLimitPerMinute: g.limits.loginRateLimitPerMinute,
        loginBurst: g.limits.loginBurst,
        runtimeDir: "/tmp",
        errorLog: "/dev/stderr",
        accessLog: "/dev/stdout",
        metricsLogPort: GATEWAY_METRICS_LOG_PORT,
    });
}

/** Workload: NGINX's container ports (HTTPS only with TLS); the probes have ports of their own. */
function gatewayContainerPorts(tlsOn: boolean) {
    return [
        { name: "http", containerPort: GATEWAY_PORTS.http, protocol: "TCP" },
        ...(tlsOn ? [{ name: "https", containerPort: GATEWAY_PORTS.https, protocol: "TCP" }] : []),
        { name: "internal", containerPort: GATEWAY_PORTS.internal, protocol: "TCP" },
        { name: "ready", containerPort: GATEWAY_PORTS.ready, protocol: "TCP" },
        { name: "live", containerPort: GATEWAY_PORTS.live, protocol: "TCP" },
    ];
}

/** Exposure: the public Service (NodePort or LoadBalancer), with HTTPS beside HTTP when TLS is on. */
function publicService(g: AskyConfig["gateway"], awaitLoadBalancer: boolean): AskyWorkloadArgs["service"] {
    const t = g.tls;
    const lb = g.exposure === "LoadBalancer";
    return {
        port: g.port,
        targetPort: "http",
        type: g.exposure,
        ...(g.nodePort !== undefined ? { nodePort: g.nodePort } : {}),
        ...(t.mode !== "off"
            ? { extraPorts: [{ port: HTTPS_SERVICE_PORT, targetPort: "https", ...(t.nodePort !== undefined ? { nodePort: t.nodePort } : {}) }] }
            : {}),
        // The login rate limit is per client address: a LoadBalancer must not SNAT it away.
        // (NodePort keeps Cluster: kind maps the host port to a node that may run no gateway pod.)
        ...(lb ? { externalTrafficPolicy: "Local" as const } : {}),
        // Awaited only for a LoadBalancer's address, where one comes (prod): minikube/kind give none, and waiting
        // for one would fail the deploy after 10 minutes; the endpoints follow the awaited Deployment.
        awaitAddress: lb && awaitLoadBalancer,
    };
}

/** Exposure: the URL to reach the gateway from outside: the LoadBalancer's address (or TLS hostname), or the node port. */
function externalUrlOf(g: AskyConfig["gateway"], svc: k8s.core.v1.Service): pulumi.Output<string> {
    const t = g.tls;
    const scheme = t.mode === "off" ? "http" : "https";
    const servicePort = t.mode === "off" ? g.port : HTTPS_SERVICE_PORT;
    const portSuffix = (p: number, standard: number) => (p === standard ? "" : `:${p}`);
    return g.exposure === "LoadBalancer"
        ? svc.status.apply((st) => {
            const ingress = st?.loadBalancer?.ingress?.[0];
            const address = (t.mode !== "off" ? t.hostname : undefined) ?? (ingress?.hostname || ingress?.ip);
            return address
                ? `${scheme}://${address}${portSuffix(servicePort, scheme === "https" ? 443 : 80)}`
                : "(load balancer address pending: kubectl get svc gateway)";
        })
        : svc.spec.apply((spec) => {
            const port = spec.ports.find((p) => p.name === scheme)?.nodePort ?? (t.mode !== "off" ? t.nodePort : g.nodePort);
            return `${scheme}://<node-ip>:${port} (minikube: ${scheme}://$(minikube ip):${port})`;
        });
}

/** The program passes dependsOn as a plain list (or one resource). */
function toArray(value: pulumi.ResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value as pulumi.Input<pulumi.Resource>];
}

import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AskyConfig, Resources } from "../config";
import { alertRuleGroups } from "../monitoring/alerts";
import { DASHBOARD_UID, goldenSignalsDashboard } from "../monitoring/dashboard";
import { WorkloadIdentity, objectMeta, probes, selectorLabels } from "./podHardening";
import { NOT_AWAITED, type Sidecar } from "./workload";

/** Where every exporter serves its metrics. */
export const METRICS_PATH = "/metrics";
/** Container ports of the exporters: each pod's port named `metrics` (the gateway's access-log one is `log-metrics`). */
export const EXPORTER_PORTS = { nginx: 9113, accessLog: 3903, postgres: 9187, redis: 9121 } as const;
/** UDP port in the gateway pod where NGINX sends its metrics log stream to the access-log exporter (loopback only). */
export const GATEWAY_METRICS_LOG_PORT = 5140;
/** `app.kubernetes.io/component` of every metrics Service: the ServiceMonitor selects them by it. */
export const METRICS_COMPONENT = "metrics";
/** Requests and limits of each exporter: they hold a few hundred series. */
export const EXPORTER_RESOURCES: Resources = {
    requests: { cpu: "10m", memory: "32Mi", ephemeralStorage: "16Mi" },
    limits: { cpu: "200m", memory: "128Mi", ephemeralStorage: "64Mi" },
};

/** The mtail program that turns the gateway's metrics log stream into request counters and latency histograms. */
export function gatewayLogProgram(): string {
    return fs.readFileSync(path.join(__dirname, "..", "monitoring", "gateway.mtail"), "utf8");
}

/**
 * An exporter container, hardened by the workload like the main one: its port `portName`, ready
 * when its landing page answers (which never queries the component), alive while the port accepts.
 */
function exporter(name: string, image: string, portName: string, containerPort: number, rest: Omit<Sidecar["container"], "name" | "image" | "ports">): Sidecar {
    return {
        container: {
            name,
            image,
            ports: [{ name: portName, containerPort, protocol: "TCP" }],
            ...rest,
            ...probes({ httpPort: portName, path: "/" }, { tcpPort: portName }),
        },
        resources: EXPORTER_RESOURCES,
    };
}

/** NGINX's exporter in the gateway pod, reading stub_status on the pod's loopback. */
export function nginxExporterSidecar(image: string, statusPort: number): Sidecar {
    return exporter("nginx-exporter", image, "metrics", EXPORTER_PORTS.nginx, {
        // It never exits while NGINX is down (nginx_up 0 until it answers), so NGINX may start after it.
        args: [
            `--nginx.scrape-uri=http://127.0.0.1:${statusPort}/stub_status`,
            `--web.listen-address=:${EXPORTER_PORTS.nginx}`,
            `--web.telemetry-path=${METRICS_PATH}`,
            "--log.format=json",
        ],
    });
}

/** Where the access-log exporter reads its program (the `gateway-config` ConfigMap's key `gateway.mtail`). */
export const GATEWAY_LOG_PROGRAM_DIR = "/etc/mtail";

/** mtail in the gateway pod: NGINX's metrics log stream in (loopback UDP), request counters and latency histograms out. */
export function accessLogExporterSidecar(image: string, programVolume: string): Sidecar {
    return exporter("access-log-exporter", image, "log-metrics", EXPORTER_PORTS.accessLog, {
        args: [
            `--progs=${GATEWAY_LOG_PROGRAM_DIR}`,
            `--logs=udp://127.0.0.1:${GATEWAY_METRICS_LOG_PORT}`,
            `--port=${EXPORTER_PORTS.accessLog}`,
            // Metric names as the dashboard and alerts use them, without mtail's `prog` label.
            "--emit_prog_label=false",
            "--logtostderr",
        ],
        volumeMounts: [{ name: programVolume, mountPath: GATEWAY_LOG_PROGRAM_DIR, readOnly: true }],
    });
}

/** redis_exporter in the Redis pod, on the pod's loopback, as its own Redis user (password from the Secret's key `password`). */
export function redisExporterSidecar(image: string, redisPort: number, login: { user: string; passwordSecret: pulumi.Input<string> }): Sidecar {
    return exporter("redis-exporter", image, "metrics", EXPORTER_PORTS.redis, {
        args: [
            `--redis.addr=redis://127.0.0.1:${redisPort}`,
            `--redis.user=${login.user}`,
            `--web.listen-address=:${EXPORTER_PORTS.redis}`,
            `--web.telemetry-path=${METRICS_PATH}`,
            "--log-format=json",
        ],
        env: [{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: login.passwordSecret, key: "password" } } }],
    });
}

/** postgres_exporter's container: logs in as the monitoring role over the database Service. */
export function postgresExporterContainer(image: string, dataSource: { host: string; port: number; database: string; user: string }, passwordSecret: pulumi.Input<string>): Sidecar {
    return exporter("postgres-exporter", image, "metrics", EXPORTER_PORTS.postgres, {
        args: [`--web.listen-address=:${EXPORTER_PORTS.postgres}`, `--web.telemetry-path=${METRICS_PATH}`, "--log.format=json"],
        env: [
            // The in-cluster database has no TLS; the NetworkPolicies keep the path inside the namespace.
            { name: "DATA_SOURCE_URI", value: `${dataSource.host}:${dataSource.port}/${dataSource.database}?sslmode=disable` },
            { name: "DATA_SOURCE_USER", value: dataSource.user },
            { name: "DATA_SOURCE_PASS", valueFrom: { secretKeyRef: { name: passwordSecret, key: "password" } } },
        ],
    });
}

/** prometheus.io annotations of a metrics Service when there is no Prometheus Operator; none with it (the ServiceMonitor says it). */
export function scrapeAnnotations(monitoring: AskyConfig["monitoring"], port: number): Record<string, string> | undefined {
    if (monitoring.prometheusOperator) return undefined;
    return { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": METRICS_PATH };
}

export interface MetricsServiceArgs {
    /** Namespace of the Service. */
    namespace: pulumi.Input<string>;
    /** The pods it selects. */
    pods: WorkloadIdentity;
    /** Kubernetes name of the Service, e.g. `gateway-metrics`. */
    serviceName: string;
    /** The exporter's container port number and name. */
    port: number;
    targetPort: string;
    /** Discovery: annotations without the Prometheus Operator. */
    monitoring: AskyConfig["monitoring"];
}

/** A ClusterIP Service in front of one exporter: its port is named `metrics`, what the ServiceMonitor and the annotations scrape. */
export function metricsService(name: string, args: MetricsServiceArgs, opts: pulumi.CustomResourceOptions): k8s.core.v1.Service {
    return new k8s.core.v1.Service(name, {
        // Its pods are the awaited workload's (NOT_AWAITED).
        metadata: objectMeta({ ...args.pods, component: METRICS_COMPONENT }, args.namespace, args.serviceName, { ...NOT_AWAITED, ...scrapeAnnotations(args.monitoring, args.port) }),
        spec: {
            type: "ClusterIP",
            selector: selectorLabels(args.pods),
            ports: [{ name: "metrics", port: args.port, targetPort: args.targetPort, protocol: "TCP" }],
        },
    }, opts);
}

export interface AskyMonitoringArgs {
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** The namespace as a plain string: the alerts and the dashboard filter on it. */
    namespaceName: string;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** `dev` or `prod`: the `environment` label of the alerts. */
    environment: string;
    /** Discovery, the dashboard switch and labels (`asky:monitoring`). */
    monitoring: AskyConfig["monitoring"];
    /** PVCs whose free space is watched. */
    claims: string[];
    /** The backup CronJob, when backups are on. */
    backupCronJob?: string;
}

/**
 * What the monitoring stack reads: with the Prometheus Operator, a ServiceMonitor for every
 * metrics Service of the stack and a PrometheusRule with the alerts; with the switch on, the
 * Grafana dashboard as a ConfigMap labelled for Grafana's dashboard sidecar.
 */
export class AskyMonitoring extends pulumi.ComponentResource {
    /** The dashboard JSON (also in the ConfigMap when enabled). */
    public readonly dashboard: string;

    constructor(name: string, args: AskyMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Monitoring", name, {}, opts);
        const m = args.monitoring;
        const id: WorkloadIdentity = { name: "asky-monitoring", component: METRICS_COMPONENT, instance: args.instance };
        const meta = (objName: string, extraLabels: Record<string, string> = {}) => {
            const base = objectMeta(id, args.namespace, objName);
            return { ...base, labels: { ...base.labels, ...extraLabels } };
        };
        this.dashboard = JSON.stringify(goldenSignalsDashboard(args.namespaceName), null, 2);

        if (m.prometheusOperator) {
            new k8s.apiextensions.CustomResource(`${name}-servicemonitor`, {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "ServiceMonitor",
                metadata: meta("asky", m.operatorLabels),
                spec: {
                    selector: { matchLabels: { "app.kubernetes.io/instance": args.instance, "app.kubernetes.io/component": METRICS_COMPONENT } },
                    namespaceSelector: { matchNames: [args.namespaceName] },
                    endpoints: [{ port: "metrics", path: METRICS_PATH, interval: m.scrapeInterval, scheme: "http" }],
                },
            }, { parent: this });
            new k8s.apiextensions.CustomResource(`${name}-alerts`, {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: meta("asky-alerts", m.operatorLabels),
                spec: alertRuleGroups({ namespace: args.namespaceName, environment: args.environment, claims: args.claims, backupCronJob: args.backupCronJob }),
            }, { parent: this });
        }

        if (m.grafanaDashboard.enabled) {
            new k8s.core.v1.ConfigMap(`${name}-dashboard`, {
                metadata: meta("asky-dashboard", { [m.grafanaDashboard.label]: m.grafanaDashboard.labelValue }),
                data: { [`${DASHBOARD_UID}.json`]: this.dashboard },
            }, { parent: this });
        }
        this.registerOutputs({ dashboard: this.dashboard });
    }
}

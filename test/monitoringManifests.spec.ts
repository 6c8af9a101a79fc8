import * as assert from "assert";
import { EXPORTER_PORTS } from "../components";
import { ConfigError, parseAskyConfig } from "../config";
import { DASHBOARD_UID } from "../monitoring/dashboard";
import { renderStack } from "../scripts/render";
import { checkPolicy, effectiveFlows, formatPorts, formatViolations, runCheck } from "../checklist";
import { validateSchemas } from "./support/schema";
import { EXPORTER_PROGRAMS, debianUpstreamVersion, imageParts, toolchainVersions } from "./support/monitoring";
import { find, renderedStack, stackSettings } from "./support/render";

type Stack = "dev" | "prod";
const monitoringOf = (stack: Stack) => stackSettings(stack).monitoring;
/** A stack rendered with `asky:monitoring` changed by `change`. */
const renderWith = (stack: Stack, change: (m: any) => void) => {
    const m = JSON.parse(JSON.stringify(monitoringOf(stack)));
    change(m);
    return renderStack(stack, { "asky:monitoring": m });
};
const rawConfig = (stack: Stack) => JSON.parse(JSON.stringify(stackSettings(stack)));

/** components/monitoring.ts, components/databaseExporter.ts and their wiring in index.ts, on the rendered objects. */
describe("observability manifests (components/monitoring.ts)", function () {
    this.timeout(120_000);

    it("pins each exporter image to its maintained upstream at the version of scripts/toolchain/versions.sh, the one the tests build and run", async () => {
        const versions = toolchainVersions();
        const repositories: string[] = [];
        for (const stack of ["dev", "prod"] as const) {
            for (const image of Object.values(monitoringOf(stack).images)) {
                const { name, tag } = imageParts(image);
                const program = EXPORTER_PROGRAMS[name];
                assert.ok(program, `${stack}: no tested program for ${image}`);
                const version = versions[program.versionKey];
                assert.ok(version, `${program.versionKey} is not set in scripts/toolchain/versions.sh`);
                // Upstream tags with or without the v, as each project publishes them.
                assert.strictEqual(tag.replace(/^v/, ""), version.replace(/^v/, ""), `${stack}: ${image} drifted from ${program.versionKey}=${version}`);
                repositories.push(image.split(":")[0]);
            }
        }
        assert.deepStrictEqual([...new Set(repositories)].sort(), [
            "ghcr.io/jaqx0r/mtail", // mtail's maintainer's repository since google/mtail stopped
            "nginx/nginx-prometheus-exporter",
            "oliver006/redis_exporter",
            "quay.io/prometheuscommunity/postgres-exporter",
        ]);
        // mtail's module is not served: the tests run the distribution's build of it, a 3.0.0 release candidate
        // (bookworm: rc50). Another line would change what the README says the tests prove.
        assert.match(debianUpstreamVersion("mtail"), /^3\.0\.0~rc\d+/, "the packaged mtail changed line: update the README (Observability) and versions.sh");
    });

    it("runs every exporter hardened like the pod it sits in, on a port named for Prometheus, with its password only by reference", async () => {
        const { objects } = await renderedStack("prod");
        const containers = (name: string) => find(objects, "Deployment", name).spec.template.spec.containers.map((c: any) => c.name);
        assert.deepStrictEqual(containers("gateway"), ["nginx", "nginx-exporter", "access-log-exporter"]);
        assert.deepStrictEqual(containers("redis"), ["redis", "redis-exporter"]);
        assert.deepStrictEqual(containers("postgres-exporter"), ["postgres-exporter"]);
        const gw = find(objects, "Deployment", "gateway").spec.template.spec;
        const ports = gw.containers.flatMap((c: any) => c.ports.map((p: any) => `${c.name} ${p.name} ${p.containerPort}`));
        assert.ok(ports.includes(`nginx-exporter metrics ${EXPORTER_PORTS.nginx}`) && ports.includes(`access-log-exporter log-metrics ${EXPORTER_PORTS.accessLog}`), ports.join("\n"));
        // stub_status stays on the pod's loopback; the exporter reads it there.
        assert.ok(gw.containers[1].args.includes("--nginx.scrape-uri=http://127.0.0.1:8081/stub_status"));
        const pe = find(objects, "Deployment", "postgres-exporter").spec.template.spec.containers[0];
        assert.deepStrictEqual(pe.env.find((e: any) => e.name === "DATA_SOURCE_PASS").valueFrom, { secretKeyRef: { name: "postgres-exporter-credentials", key: "password" } });
        assert.strictEqual(pe.env.find((e: any) => e.name === "DATA_SOURCE_USER").value, "asky_monitor");
        assert.deepStrictEqual(checkPolicy(objects, { stack: "prod", namespace: "asky" }), []);
    });

    it("NET-2 the exporters' ports are reached by the configured scraper only, and a changed scraper moves the policy's peer", async () => {
        const exporterPorts = new Set<number>(Object.values(EXPORTER_PORTS));
        for (const stack of ["dev", "prod"] as const) {
            const { objects } = await renderedStack(stack);
            const reaching = effectiveFlows(objects, { stack, namespace: "asky" })
                .filter((f) => f.ports.some((p) => exporterPorts.has(p.lo)))
                .map((f) => `${f.from} → ${f.to} ${formatPorts(f.ports.filter((p) => exporterPorts.has(p.lo)))}`)
                .sort();
            assert.deepStrictEqual(reaching, [
                "monitoring → gateway TCP/3903, TCP/9113",
                "monitoring → postgres-exporter TCP/9187",
                "monitoring → redis TCP/9121",
            ], stack);
        }
        const { objects } = await renderWith("dev", (m) => { m.scraper = { namespace: "observability", podLabels: { app: "vmagent" } }; });
        const peer = find(objects, "NetworkPolicy", "allow-redis").spec.ingress.find((r: any) => r.ports[0].port === EXPORTER_PORTS.redis).from;
        assert.deepStrictEqual(peer, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "observability" } }, podSelector: { matchLabels: { app: "vmagent" } } }]);
    });

    it("NET-2 catches a metrics port opened to every namespace, and a scraper rule gone missing", async () => {
        const { objects } = await renderedStack("dev");
        const withPolicy = (edit: (ingress: any[]) => any[]) => objects.map((o) => {
            if (o.kind !== "NetworkPolicy" || o.metadata.name !== "allow-redis") return o;
            const copy = JSON.parse(JSON.stringify(o));
            copy.spec.ingress = edit(copy.spec.ingress);
            return copy;
        });
        const isScrape = (r: any) => r.ports[0].port === EXPORTER_PORTS.redis;
        const anyNamespace = withPolicy((ingress) => ingress.map((r) => (isScrape(r) ? { ...r, from: [{ namespaceSelector: {} }] } : r)));
        assert.match(formatViolations(runCheck("NET-2", anyNamespace, { stack: "dev", namespace: "asky" })), /NET-2 NetworkPolicy\/allow-redis: extra flow other-namespaces → redis TCP\/9121/);
        const gone = withPolicy((ingress) => ingress.filter((r) => !isScrape(r)));
        assert.match(formatViolations(runCheck("NET-2", gone, { stack: "dev", namespace: "asky" })), /NET-2 Deployment\/redis: missing flow monitoring → redis TCP\/9121/);
    });

    it("without the Prometheus Operator (the committed stacks): prometheus.io annotations on the four metrics Services, no custom resource", async () => {
        for (const stack of ["dev", "prod"] as const) {
            const { objects } = await renderedStack(stack);
            assert.deepStrictEqual(objects.filter((o) => o.apiVersion?.startsWith("monitoring.coreos.com/")), [], stack);
            const annotated = objects.filter((o) => o.kind === "Service" && o.metadata.annotations?.["prometheus.io/scrape"] === "true")
                .map((s: any) => `${s.metadata.name} ${s.metadata.annotations["prometheus.io/port"]} ${s.metadata.annotations["prometheus.io/path"]}`).sort();
            assert.deepStrictEqual(annotated, ["gateway-log-metrics 3903 /metrics", "gateway-metrics 9113 /metrics", "postgres-exporter 9187 /metrics", "redis-metrics 9121 /metrics"], stack);
        }
    });

    it("with the Prometheus Operator: a ServiceMonitor and the PrometheusRule, labelled for the Prometheus, schema-valid, and no annotations", async () => {
        const { objects } = await renderWith("prod", (m) => { m.prometheusOperator = true; m.operatorLabels = { release: "kube-prometheus-stack" }; });
        const sm = find(objects, "ServiceMonitor", "asky");
        const rule = find(objects, "PrometheusRule", "asky-alerts");
        for (const o of [sm, rule]) assert.strictEqual(o.metadata.labels?.release, "kube-prometheus-stack", o.kind);
        assert.deepStrictEqual(sm.spec.endpoints, [{ port: "metrics", path: "/metrics", interval: "30s", scheme: "http" }]);
        assert.deepStrictEqual(sm.spec.namespaceSelector, { matchNames: ["asky"] });
        assert.deepStrictEqual(objects.filter((o) => o.metadata.annotations?.["prometheus.io/scrape"]), []);
        assert.deepStrictEqual(await validateSchemas(objects.filter((o) => o.apiVersion === "monitoring.coreos.com/v1")), []);
        assert.deepStrictEqual(checkPolicy(objects, { stack: "prod", namespace: "asky" }), [], formatViolations(checkPolicy(objects, { stack: "prod", namespace: "asky" })));
    });

    it("the golden-signals dashboard: a ConfigMap with the Grafana sidecar's label from config, or none when switched off", async () => {
        const { objects } = await renderedStack("dev");
        const cm = find(objects, "ConfigMap", "asky-dashboard");
        assert.strictEqual(cm.metadata.labels?.grafana_dashboard, "1");
        const dashboard = JSON.parse(cm.data[`${DASHBOARD_UID}.json`]);
        assert.strictEqual(dashboard.uid, DASHBOARD_UID);
        assert.deepStrictEqual(dashboard.templating.list.map((v: any) => [v.name, v.current?.value]), [["datasource", undefined], ["namespace", "asky"]]);
        const titles = dashboard.panels.filter((p: any) => p.type !== "row").map((p: any) => p.title);
        for (const t of ["Requests/s by route and status", "Upstream latency p50 / p99 by route", "5xx/s and 5xx ratio", "429/s from the login limit", "Connections", "Transactions/s", "Memory", "Hit ratio"]) {
            assert.ok(titles.includes(t), t);
        }
        for (const p of dashboard.panels.filter((x: any) => x.type !== "row")) assert.deepStrictEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, p.title);
        const relabelled = await renderWith("dev", (m) => { m.grafanaDashboard = { enabled: true, label: "dashboards", labelValue: "asky" }; });
        assert.strictEqual(find(relabelled.objects, "ConfigMap", "asky-dashboard").metadata.labels?.dashboards, "asky");
        const off = await renderWith("dev", (m) => { m.grafanaDashboard.enabled = false; });
        assert.deepStrictEqual(off.objects.filter((o) => o.metadata.name === "asky-dashboard"), []);
    });

    it("refuses bad asky:monitoring values before any resource, naming the key: an empty scraper selector, a moving exporter tag in prod", () => {
        const dev = rawConfig("dev");
        dev.monitoring.scraper.podLabels = {};
        assert.throws(() => parseAskyConfig(dev), (e: ConfigError) => /asky:monitoring\.scraper\.podLabels = \{\}: must name at least one label/.test(e.message));
        const prod = rawConfig("prod");
        prod.monitoring.images.redisExporter = "oliver006/redis_exporter:latest";
        assert.throws(() => parseAskyConfig(prod), (e: ConfigError) => /asky:monitoring\.images\.redisExporter = "oliver006\/redis_exporter:latest": prod requires a pinned image/.test(e.message));
        const interval = rawConfig("dev");
        interval.monitoring.scrapeInterval = "30";
        assert.throws(() => parseAskyConfig(interval), (e: ConfigError) => /asky:monitoring\.scrapeInterval = "30": must be a Prometheus duration/.test(e.message));
    });
});

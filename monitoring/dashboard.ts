/**
 * The Grafana dashboard of the golden signals (traffic, errors, latency, saturation) of the
 * gateway, the database and the cache, as Grafana's dashboard JSON. Every query reads series our
 * exporters produce (test/monitoring.spec.ts checks each one reaches a real Prometheus).
 */

/** A PromQL query of a panel and the legend of its series. */
interface Target {
    expr: string;
    legendFormat: string;
}

interface PanelSpec {
    title: string;
    description: string;
    unit: string;
    targets: Target[];
}

/** Dashboard uid: stable, so the sidecar updates the same dashboard on every deploy. */
export const DASHBOARD_UID = "asky-golden-signals";

const ns = `namespace="$namespace"`;
const rate = (selector: string) => `rate(${selector}[$__rate_interval])`;

/** The panels, one row of four per component; a title tells what to look at. */
function panels(): { row: string; panels: PanelSpec[] }[] {
    const requests = (matchers = "") => `asky_gateway_requests_total{${ns}${matchers}}`;
    const upstream = (q: number) =>
        `histogram_quantile(${q}, sum by (le, route) (${rate(`asky_gateway_upstream_seconds_bucket{${ns}}`)}))`;
    return [
        {
            row: "Gateway",
            panels: [
                {
                    title: "Requests/s by route and status",
                    description: "Every request the gateway answered, both listeners (the probes' own ports are not counted).",
                    unit: "reqps",
                    targets: [{ expr: `sum by (route, status) (${rate(requests())})`, legendFormat: "{{route}} {{status}}" }],
                },
                {
                    title: "Upstream latency p50 / p99 by route",
                    description: "Time the services took to answer, per route.",
                    unit: "s",
                    targets: [
                        { expr: upstream(0.5), legendFormat: "p50 {{route}}" },
                        { expr: upstream(0.99), legendFormat: "p99 {{route}}" },
                    ],
                },
                {
                    title: "5xx/s and 5xx ratio",
                    description: "Server errors the clients saw (a service's 5xx, or the gateway's 502/504 when a service is unreachable or slow).",
                    unit: "short",
                    targets: [
                        { expr: `sum(${rate(requests(`, status=~"5.."`))})`, legendFormat: "5xx/s" },
                        { expr: `sum(${rate(requests(`, status=~"5.."`))}) / sum(${rate(requests())})`, legendFormat: "ratio" },
                    ],
                },
                {
                    title: "429/s from the login limit",
                    description: "POST /auth/login refused by the per-client rate limit (asky:gateway.limits.loginRateLimitPerMinute).",
                    unit: "reqps",
                    targets: [{ expr: `sum by (listener) (${rate(requests(`, route="/auth/login", status="429"`))})`, legendFormat: "{{listener}}" }],
                },
                {
                    title: "Connections",
                    description: "NGINX's stub_status: connections by state, summed over the gateway's pods.",
                    unit: "short",
                    targets: [
                        { expr: `sum(nginx_connections_active{${ns}})`, legendFormat: "active" },
                        { expr: `sum(nginx_connections_reading{${ns}})`, legendFormat: "reading" },
                        { expr: `sum(nginx_connections_writing{${ns}})`, legendFormat: "writing" },
                        { expr: `sum(nginx_connections_waiting{${ns}})`, legendFormat: "waiting (idle keep-alive)" },
                    ],
                },
                {
                    title: "Gateway pods up",
                    description: "Pods whose NGINX answers its status page.",
                    unit: "short",
                    targets: [{ expr: `sum(nginx_up{${ns}})`, legendFormat: "up" }],
                },
            ],
        },
        {
            row: "Database",
            panels: [
                {
                    title: "PostgreSQL up",
                    description: "1 when the exporter can log in as asky_monitor and query.",
                    unit: "short",
                    targets: [{ expr: `min(pg_up{${ns}})`, legendFormat: "up" }],
                },
                {
                    title: "Connections",
                    description: "Backends per database, against max_connections.",
                    unit: "short",
                    targets: [
                        { expr: `sum by (datname) (pg_stat_database_numbackends{${ns}, datname!~"template.*"})`, legendFormat: "{{datname}}" },
                        { expr: `max(pg_settings_max_connections{${ns}})`, legendFormat: "max_connections" },
                    ],
                },
                {
                    title: "Transactions/s",
                    description: "Commits and rollbacks per database.",
                    unit: "short",
                    targets: [
                        { expr: `sum by (datname) (${rate(`pg_stat_database_xact_commit{${ns}, datname!~"template.*"}`)})`, legendFormat: "commit {{datname}}" },
                        { expr: `sum by (datname) (${rate(`pg_stat_database_xact_rollback{${ns}, datname!~"template.*"}`)})`, legendFormat: "rollback {{datname}}" },
                    ],
                },
                {
                    title: "Database size",
                    description: "Bytes on disk per database (the volume is asky:storage.size).",
                    unit: "bytes",
                    targets: [{ expr: `max by (datname) (pg_database_size_bytes{${ns}, datname!~"template.*"})`, legendFormat: "{{datname}}" }],
                },
            ],
        },
        {
            row: "Cache",
            panels: [
                {
                    title: "Redis up",
                    description: "1 when the exporter reaches Redis.",
                    unit: "short",
                    targets: [{ expr: `min(redis_up{${ns}})`, legendFormat: "up" }],
                },
                {
                    title: "Memory",
                    description: "Used memory against --maxmemory (75% of the container limit): at the limit, keys are evicted (allkeys-lru).",
                    unit: "bytes",
                    targets: [
                        { expr: `max(redis_memory_used_bytes{${ns}})`, legendFormat: "used" },
                        { expr: `max(redis_memory_max_bytes{${ns}})`, legendFormat: "maxmemory" },
                    ],
                },
                {
                    title: "Hit ratio",
                    description: "Key lookups that found their key.",
                    unit: "percentunit",
                    targets: [{
                        expr: `sum(${rate(`redis_keyspace_hits_total{${ns}}`)}) / (sum(${rate(`redis_keyspace_hits_total{${ns}}`)}) + sum(${rate(`redis_keyspace_misses_total{${ns}}`)}))`,
                        legendFormat: "hit ratio",
                    }],
                },
                {
                    title: "Evictions/s and clients",
                    description: "Keys evicted to stay under maxmemory, and connected clients.",
                    unit: "short",
                    targets: [
                        { expr: `sum(${rate(`redis_evicted_keys_total{${ns}}`)})`, legendFormat: "evicted/s" },
                        { expr: `sum(redis_connected_clients{${ns}})`, legendFormat: "clients" },
                    ],
                },
            ],
        },
    ];
}

/** Every PromQL expression of the dashboard. */
export function dashboardQueries(): string[] {
    return panels().flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => t.expr)));
}

/** The dashboard JSON for the stack's namespace (the `namespace` variable's default). */
export function goldenSignalsDashboard(namespace: string): Record<string, unknown> {
    const datasource = { type: "prometheus", uid: "${datasource}" };
    const out: Record<string, unknown>[] = [];
    let id = 1;
    let y = 0;
    for (const row of panels()) {
        out.push({ id: id++, type: "row", title: row.row, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
        y += 1;
        row.panels.forEach((p, i) => {
            out.push({
                id: id++,
                type: "timeseries",
                title: p.title,
                description: p.description,
                datasource,
                gridPos: { h: 8, w: 6, x: (i % 4) * 6, y: y + Math.floor(i / 4) * 8 },
                fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
                options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
                targets: p.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), datasource, expr: t.expr, legendFormat: t.legendFormat })),
            });
        });
        y += Math.ceil(row.panels.length / 4) * 8;
    }
    return {
        uid: DASHBOARD_UID,
        title: "Asky: golden signals",
        tags: ["asky"],
        timezone: "browser",
        schemaVersion: 39,
        version: 1,
        editable: false,
        refresh: "30s",
        time: { from: "now-3h", to: "now" },
        templating: {
            list: [
                { name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus", current: {}, hide: 0 },
                {
                    name: "namespace",
                    label: "Namespace",
                    type: "textbox",
                    query: namespace,
                    current: { text: namespace, value: namespace },
                    hide: 0,
                },
            ],
        },
        panels: out,
    };
}

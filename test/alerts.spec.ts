import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { renderStack } from "../scripts/render";
import { requireBinary } from "./support/monitoring";
import { find, renderedStack, stackSettings } from "./support/render";

interface Rule { alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }

/** An expected alert: its labels beyond the rule's own, and the values its annotation templates print. */
interface Expected { labels?: Record<string, string>; value?: string }

/**
 * The prod alerts (issue 13 item 6) as the PrometheusRule ships them, checked and unit-tested
 * by Debian's promtool: each fires on the series that mean trouble, after its `for`, and stays
 * quiet on healthy ones, on other namespaces' series and on what only looks alike.
 */
describe("prod alerts (monitoring/alerts.ts) with promtool", function () {
    this.timeout(120_000);
    let rules: Rule[];
    let dir: string;

    before(async () => {
        requireBinary("promtool", "prometheus");
        await renderedStack("prod");
        const raw = stackSettings("prod");
        const { objects } = await renderStack("prod", { "asky:monitoring": { ...raw.monitoring, prometheusOperator: true } });
        const spec = find(objects, "PrometheusRule", "asky-alerts").spec;
        rules = spec.groups.flatMap((g: any) => g.rules);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-rules-"));
        fs.writeFileSync(path.join(dir, "rules.yml"), YAML.stringify(spec));
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    const rule = (name: string) => {
        const r = rules.find((x) => x.alert === name);
        if (!r) throw new Error(`no rule ${name}`);
        return r;
    };
    /** The annotations as Prometheus prints them for this alert (our templates use only these forms). */
    const printed = (r: Rule, e: Expected, labels: Record<string, string>) => Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k,
        v.replace(/\{\{ \$value \| humanize(Percentage|Duration) \}\}/g, () => e.value ?? "")
            .replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_m, l: string) => labels[l] ?? ""),
    ]));
    const expect = (name: string, ...alerts: Expected[]) => alerts.map((e) => {
        const labels = { ...rule(name).labels, ...(e.labels ?? {}) };
        return { exp_labels: labels, exp_annotations: printed(rule(name), e, labels) };
    });

    function promtool(tests: unknown[]): void {
        const file = path.join(dir, `test-${Math.random().toString(36).slice(2)}.yml`);
        fs.writeFileSync(file, YAML.stringify({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests }));
        const r = spawnSync("promtool", ["test", "rules", file], { encoding: "utf8", cwd: dir, timeout: 60_000 });
        assert.strictEqual(r.status, 0, `${r.stdout}${r.stderr}`);
    }

    it("promtool check rules accepts the PrometheusRule's groups: the four alerts of the issue and their companions", () => {
        const r = spawnSync("promtool", ["check", "rules", path.join(dir, "rules.yml")], { encoding: "utf8" });
        assert.strictEqual(r.status, 0, `${r.stdout}${r.stderr}`);
        assert.deepStrictEqual(rules.map((x) => x.alert).sort(), [
            "AskyBackupJobFailed", "AskyBackupMissing", "AskyDatabaseDown", "AskyDatabaseUnmonitored", "AskyDiskAlmostFull", "AskyGateway5xxRatioHigh",
        ]);
        for (const x of rules) assert.deepStrictEqual([x.labels.environment, x.labels.namespace], ["prod", "asky"], x.alert);
    });

    it("AskyGateway5xxRatioHigh fires after 5 minutes above 5% 5xx, not at 2%, not for another namespace", () => {
        const series = (ns: string, status: string, perMinute: number) => ({
            series: `asky_gateway_requests_total{namespace="${ns}", listener="public", route="/pyxis", status="${status}"}`,
            values: `0+${perMinute}x30`,
        });
        promtool([
            {
                interval: "1m",
                input_series: [series("asky", "200", 90), series("asky", "502", 10), series("other", "503", 100)],
                alert_rule_test: [
                    { eval_time: "4m", alertname: "AskyGateway5xxRatioHigh", exp_alerts: [] },
                    { eval_time: "12m", alertname: "AskyGateway5xxRatioHigh", exp_alerts: expect("AskyGateway5xxRatioHigh", { value: "10%" }) },
                ],
            },
            {
                interval: "1m",
                input_series: [series("asky", "200", 98), series("asky", "500", 2)],
                alert_rule_test: [{ eval_time: "20m", alertname: "AskyGateway5xxRatioHigh", exp_alerts: [] }],
            },
        ]);
    });

    it("AskyDatabaseDown fires after pg_up is 0 for a minute; a single failed scrape does not; AskyDatabaseUnmonitored when pg_up is gone for 10 minutes", () => {
        promtool([
            {
                interval: "1m",
                input_series: [{ series: `pg_up{namespace="asky", job="postgres-exporter"}`, values: "1 1 0 0 0 0 0" }],
                alert_rule_test: [
                    { eval_time: "2m", alertname: "AskyDatabaseDown", exp_alerts: [] },
                    { eval_time: "4m", alertname: "AskyDatabaseDown", exp_alerts: expect("AskyDatabaseDown", {}) },
                    { eval_time: "4m", alertname: "AskyDatabaseUnmonitored", exp_alerts: [] },
                ],
            },
            {
                interval: "1m",
                input_series: [{ series: `pg_up{namespace="asky", job="postgres-exporter"}`, values: "1 0 1 1 1 1" }],
                alert_rule_test: [{ eval_time: "3m", alertname: "AskyDatabaseDown", exp_alerts: [] }],
            },
            {
                interval: "1m",
                // Only another stack's database reports.
                input_series: [{ series: `pg_up{namespace="other", job="postgres-exporter"}`, values: "1x20" }],
                alert_rule_test: [
                    { eval_time: "5m", alertname: "AskyDatabaseUnmonitored", exp_alerts: [] },
                    { eval_time: "11m", alertname: "AskyDatabaseUnmonitored", exp_alerts: expect("AskyDatabaseUnmonitored", {}) },
                ],
            },
        ]);
    });

    it("AskyDiskAlmostFull fires for the database or backup claim below 10% free for 15 minutes, not for other claims", () => {
        const volume = (claim: string, available: number) => [
            { series: `kubelet_volume_stats_available_bytes{namespace="asky", persistentvolumeclaim="${claim}"}`, values: `${available}x30` },
            { series: `kubelet_volume_stats_capacity_bytes{namespace="asky", persistentvolumeclaim="${claim}"}`, values: "100x30" },
        ];
        promtool([{
            interval: "1m",
            input_series: [...volume("postgres-pv-claim", 5), ...volume("postgres-backup", 50), ...volume("scratch", 1)],
            alert_rule_test: [
                { eval_time: "10m", alertname: "AskyDiskAlmostFull", exp_alerts: [] },
                { eval_time: "20m", alertname: "AskyDiskAlmostFull", exp_alerts: expect("AskyDiskAlmostFull", { labels: { persistentvolumeclaim: "postgres-pv-claim" }, value: "5%" }) },
            ],
        }]);
    });

    it("AskyBackupJobFailed fires for a failed backup Job of the last day; AskyBackupMissing when the last success is older than 26 hours", () => {
        const job = "postgres-backup-29400000";
        promtool([
            {
                interval: "1m",
                input_series: [
                    { series: `kube_job_failed{namespace="asky", job_name="${job}", condition="true"}`, values: "0 0 1x10" },
                    { series: `kube_job_failed{namespace="asky", job_name="${job}", condition="false"}`, values: "1 1 0x10" },
                    { series: `kube_job_created{namespace="asky", job_name="${job}"}`, values: "60x12" },
                    // Another Job that failed is not a backup.
                    { series: `kube_job_failed{namespace="asky", job_name="postgres-bootstrap-0123456789", condition="true"}`, values: "1x12" },
                    { series: `kube_job_created{namespace="asky", job_name="postgres-bootstrap-0123456789"}`, values: "60x12" },
                ],
                alert_rule_test: [
                    { eval_time: "1m", alertname: "AskyBackupJobFailed", exp_alerts: [] },
                    { eval_time: "5m", alertname: "AskyBackupJobFailed", exp_alerts: expect("AskyBackupJobFailed", { labels: { job_name: job } }) },
                ],
            },
            {
                interval: "1h",
                input_series: [
                    // Failed a day and more ago: the next run's outcome is what matters now.
                    { series: `kube_job_failed{namespace="asky", job_name="${job}", condition="true"}`, values: "1x30" },
                    { series: `kube_job_created{namespace="asky", job_name="${job}"}`, values: "0x30" },
                    { series: `kube_cronjob_status_last_successful_time{namespace="asky", cronjob="postgres-backup"}`, values: "0x30" },
                ],
                alert_rule_test: [
                    { eval_time: "25h", alertname: "AskyBackupJobFailed", exp_alerts: [] },
                    { eval_time: "25h", alertname: "AskyBackupMissing", exp_alerts: [] },
                    { eval_time: "27h", alertname: "AskyBackupMissing", exp_alerts: expect("AskyBackupMissing", { value: "1d 3h 0m 0s" }) },
                ],
            },
        ]);
    });
});

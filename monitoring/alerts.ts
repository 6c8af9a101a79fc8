/**
 * Alerts worth waking someone for, as Prometheus rule groups (the `spec` of a PrometheusRule, and
 * a rules file promtool checks). Gateway and database alerts read our exporters; the backup and
 * disk alerts read kube-state-metrics and the kubelet, which every kube-prometheus-stack scrapes.
 */

export interface AlertRulesInput {
    /** The stack's namespace: every expression is limited to it. */
    namespace: string;
    /** `dev` or `prod`, as the label `environment` on every alert (route only prod to the pager). */
    environment: string;
    /** The database's PVC and, with backups, the backup PVC: the volumes watched for free space. */
    claims: string[];
    /** The backup CronJob's name, when backups are on. */
    backupCronJob?: string;
}

/** Share of 5xx among the gateway's answers above which it pages. */
export const GATEWAY_5XX_RATIO = 0.05;
/** Free space below which a volume pages. */
export const DISK_FREE_RATIO = 0.1;
/** A backup older than this pages: a daily schedule plus two hours of slack. */
export const BACKUP_MAX_AGE_HOURS = 26;

interface Rule {
    alert: string;
    expr: string;
    for: string;
    labels: Record<string, string>;
    annotations: { summary: string; description: string };
}

/** One rule group `asky`, with the rules that apply to the stack. */
export function alertRuleGroups(input: AlertRulesInput): { groups: { name: string; rules: Rule[] }[] } {
    const ns = `namespace="${input.namespace}"`;
    const labels = (severity: string) => ({ severity, environment: input.environment, namespace: input.namespace });
    // Claim names are DNS labels: nothing in them is special in a regex.
    const claims = input.claims.join("|");
    const rules: Rule[] = [
        {
            alert: "AskyGateway5xxRatioHigh",
            expr: `sum(rate(asky_gateway_requests_total{${ns}, status=~"5.."}[5m])) / sum(rate(asky_gateway_requests_total{${ns}}[5m])) > ${GATEWAY_5XX_RATIO}`,
            for: "5m",
            labels: labels("critical"),
            annotations: {
                summary: "More than 5% of the gateway's answers are server errors",
                description: "{{ $value | humanizePercentage }} of the requests in the last 5 minutes got a 5xx. Dashboard 'Asky: golden signals', panel '5xx/s and 5xx ratio'; the gateway's JSON access log names the route and upstream_status.",
            },
        },
        {
            alert: "AskyDatabaseDown",
            expr: `max by (namespace) (pg_up{${ns}}) == 0`,
            for: "1m",
            labels: labels("critical"),
            annotations: {
                summary: "PostgreSQL does not answer the exporter",
                description: "postgres-exporter cannot log in and query for a minute: the database is down or refuses connections. kubectl -n {{ $labels.namespace }} describe pod postgres-0; kubectl logs postgres-0.",
            },
        },
        {
            alert: "AskyDatabaseUnmonitored",
            expr: `absent(pg_up{${ns}})`,
            for: "10m",
            labels: labels("warning"),
            annotations: {
                summary: "No PostgreSQL metrics",
                description: `Prometheus has had no pg_up for ${input.namespace} for 10 minutes: postgres-exporter is not running or not scraped, so AskyDatabaseDown cannot fire.`,
            },
        },
        {
            alert: "AskyDiskAlmostFull",
            expr: `kubelet_volume_stats_available_bytes{${ns}, persistentvolumeclaim=~"${claims}"} / kubelet_volume_stats_capacity_bytes{${ns}, persistentvolumeclaim=~"${claims}"} < ${DISK_FREE_RATIO}`,
            for: "15m",
            labels: labels("critical"),
            annotations: {
                summary: "Volume {{ $labels.persistentvolumeclaim }} is more than 90% full",
                description: "{{ $value | humanizePercentage }} free. A full database volume stops PostgreSQL; grow it with asky:storage.size (README: growing a volume) or prune backups.",
            },
        },
    ];
    if (input.backupCronJob) {
        const job = input.backupCronJob;
        rules.push(
            {
                alert: "AskyBackupJobFailed",
                expr: `max by (namespace, job_name) (kube_job_failed{${ns}, job_name=~"${job}-[0-9]+", condition="true"}) == 1 ` +
                    `and on (namespace, job_name) (time() - kube_job_created{${ns}, job_name=~"${job}-[0-9]+"} < 86400)`,
                for: "0m",
                labels: labels("critical"),
                annotations: {
                    summary: "Backup Job {{ $labels.job_name }} failed",
                    description: "The day's pg_dump failed after its retries. kubectl -n {{ $labels.namespace }} logs job/{{ $labels.job_name }}.",
                },
            },
            {
                alert: "AskyBackupMissing",
                expr: `time() - max by (namespace) (kube_cronjob_status_last_successful_time{${ns}, cronjob="${job}"}) > ${BACKUP_MAX_AGE_HOURS * 3600}`,
                for: "0m",
                labels: labels("critical"),
                annotations: {
                    summary: `No successful backup for more than ${BACKUP_MAX_AGE_HOURS} hours`,
                    description: `The CronJob ${job} last succeeded {{ $value | humanizeDuration }} ago.`,
                },
            },
        );
    }
    return { groups: [{ name: "asky", rules }] };
}

import * as https from "https";
import { Cluster } from "./cluster";
import { KObject } from "./kube";

/**
 * Real traffic on the real node: connection probes run inside pods (kubectl exec), and HTTP
 * requests from this machine to the gateway's NodePort. Every probe is bounded (seconds).
 */

/** A TCP connection attempt from a pod: `to` is an address or name, `port` a TCP port. */
export interface Probe {
    to: string;
    port: number;
}

/**
 * Tries each connection from inside `pod` (container `container`) at once, each bounded to `seconds`;
 * true where the connection opened. bash's /dev/tcp where the image has bash; busybox nc otherwise
 * (exit 0 or killed by `timeout` while connected both mean it opened).
 */
export function connectFrom(cluster: Cluster, namespace: string, pod: string, container: string, probes: Probe[], seconds = 3): boolean[] {
    if (!probes.length) return [];
    const script = [
        "i=0",
        "for t in \"$@\"; do",
        "  h=${t%:*}; p=${t##*:}",
        "  ( if command -v bash >/dev/null 2>&1; then",
        `      timeout ${seconds} bash -c "exec 3<>/dev/tcp/$h/$p" 2>/dev/null; r=$?`,
        "    else",
        `      timeout ${seconds + 1} nc -w ${seconds} "$h" "$p" </dev/null >/dev/null 2>&1; r=$?; [ $r = 124 ] || [ $r = 143 ] && r=0`,
        "    fi; echo \"$i $r\" ) &",
        "  i=$((i+1))",
        "done",
        "wait",
    ].join("\n");
    const out = cluster.kubectl(["-n", namespace, "exec", pod, "-c", container, "--", "sh", "-c", script, "probe", ...probes.map((p) => `${p.to}:${p.port}`)]);
    const codes = new Map(out.trim().split("\n").filter(Boolean).map((l) => l.split(" ").map(Number) as [number, number]));
    return probes.map((_, i) => codes.get(i) === 0);
}

/** Resolves a name from inside a pod (getent where the image has it, busybox nslookup otherwise). */
export function resolveFrom(cluster: Cluster, namespace: string, pod: string, container: string, name: string): boolean {
    try {
        cluster.kubectl(["-n", namespace, "exec", pod, "-c", container, "--", "sh", "-c",
            `if command -v getent >/dev/null 2>&1; then timeout 5 getent hosts "$1"; else timeout 5 nslookup "$1"; fi`, "resolve", name]);
        return true;
    } catch {
        return false;
    }
}

/** The pods of `namespace`, Running, with their IPs. */
export function runningPods(cluster: Cluster, namespace: string): KObject[] {
    return (cluster.get<{ items: KObject[] }>(["-n", namespace, "pods"])?.items ?? []).filter((p) => p.status?.phase === "Running");
}

/** `app.kubernetes.io/name` of a pod. */
export const nameOf = (pod: KObject) => pod.metadata.labels?.["app.kubernetes.io/name"] ?? "";

/** One rule of the policies: from (a workload name, `*` for anyone, `ns:<namespace>` for a namespace's pods), to, port. */
export interface AllowedFlow {
    from: string;
    to: string;
    port: number;
}

/**
 * The flows the NetworkPolicies in the cluster allow, read back from them: what each workload's
 * ingress rules admit, and what each workload's egress rules let it open (DNS aside).
 */
export function allowedFlows(cluster: Cluster, namespace: string): { ingress: AllowedFlow[]; egress: AllowedFlow[] } {
    const policies = cluster.get<{ items: KObject[] }>(["-n", namespace, "networkpolicies"])?.items ?? [];
    const peer = (f: any) => f.namespaceSelector
        ? `ns:${f.namespaceSelector.matchLabels?.["kubernetes.io/metadata.name"]}`
        : f.podSelector?.matchLabels?.["app.kubernetes.io/name"] ?? f.ipBlock?.cidr;
    const ingress: AllowedFlow[] = [];
    const egress: AllowedFlow[] = [];
    for (const p of policies) {
        const self = p.spec.podSelector?.matchLabels?.["app.kubernetes.io/name"];
        if (!self) continue;
        for (const rule of p.spec.ingress ?? []) {
            const froms: string[] = rule.from === undefined ? ["*"] : rule.from.map(peer);
            for (const from of froms) for (const port of rule.ports ?? []) ingress.push({ from, to: self, port: Number(port.port) });
        }
        for (const rule of p.spec.egress ?? []) {
            for (const to of (rule.to ?? []).map(peer)) for (const port of rule.ports ?? []) egress.push({ from: self, to, port: Number(port.port) });
        }
    }
    return { ingress, egress };
}

/** An HTTP request to the gateway from this machine; the body parsed as JSON when it is JSON. */
export async function http(url: string, init: RequestInit = {}, timeoutMs = 15_000): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: any = text;
    try {
        body = JSON.parse(text);
    } catch {
        /* not JSON */
    }
    return { status: res.status, body, headers: res.headers };
}

/**
 * An HTTPS request to a gateway that answers as `hostname` (SNI and Host), reached at another address
 * (the node's NodePort): its certificate is the test's own, so it is not verified.
 */
export function httpsAs(hostname: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}, timeoutMs = 15_000): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
        // A connection per call (agent: false): Node's global agent keeps connections alive, and one kept
        // from before a scale to zero pointed at a gateway pod that no longer exists (write ETIMEDOUT).
        const req = https.request(url, {
            agent: false, method: init.method ?? "GET", headers: { host: hostname, ...init.headers }, servername: hostname, rejectUnauthorized: false, timeout: timeoutMs,
        }, (res) => {
            let text = "";
            res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => {
                let body: any = text;
                try {
                    body = JSON.parse(text);
                } catch {
                    /* not JSON */
                }
                resolve({ status: res.statusCode ?? 0, body });
            });
        });
        req.on("timeout", () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`))).on("error", reject);
        req.end(init.body);
    });
}

// `npm run bench:gateway [-- --duration 10 --connections 32 --rounds 3 ...]`
// What the gateway's edge features cost per request, against the floor: on loopback, a cheap
// upstream (an NGINX answering a fixed JSON body, test/bench/upstream.conf.mustache), a bare
// keep-alive NGINX proxy in front of it (test/bench/bare-proxy.conf.mustache: one `upstream`
// with `keepalive`, HTTP/1.1, no logs) and this gateway (nginx/render.ts, prod values, every
// feature on: the JSON access log into a pipe as on the pod's stdout, the metrics stream over
// loopback UDP to a reader in this process, limits, header hygiene, request IDs, error
// interception), measured on both its listeners (public and internal, plain HTTP). wrk drives
// each target for the same time and connections; rounds interleave the targets. Server CPU per
// request (proxy + upstream, from /proc) is compared with the bare proxy's, same round. With --ablation, variants of
// the gateway with its costliest features taken out are measured beside it: what each feature costs, end to end.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import Mustache from "mustache";
import { renderGatewayConfig } from "../../nginx/render";
import { NGINX_UNPRIVILEGED_UID, RunningNginx, findNginx, freePort, gatewayTestInput, makeRuntimeDir, portsOf, runNginx } from "../support/nginx";

/** The goal of issue 20: the gateway's server CPU per request at most this many times the bare proxy's. */
const GOAL_RATIO = 1.25;

const USAGE = `usage: npm run bench:gateway -- [options]
  --duration <s>         measured seconds per target (default 10, max 120)
  --connections <n>      concurrent wrk connections (default 32, max 1000)
  --warmup <s>           unmeasured seconds before each target (default 2)
  --rounds <n>           repeat the targets n times, interleaved; results are medians (default 3, max 9)
  --keepalive <n>        idle upstream connections per worker, gateway and bare proxy (default 64, as Pulumi.prod.yaml)
  --path <p>             request path (default /pyxis/dispensers: a route both listeners serve)
  --ablation             also measure the public listener with its three costliest features taken out, one at
                         a time, all but the metrics stream, and all together (the metrics stream, the access
                         log, the generated request id)
Needs wrk (apt-get install wrk) and nginx. All traffic stays on 127.0.0.1.`;

function options() {
    const { values } = parseArgs({
        options: {
            duration: { type: "string", default: "10" },
            connections: { type: "string", default: "32" },
            warmup: { type: "string", default: "2" },
            rounds: { type: "string", default: "3" },
            keepalive: { type: "string", default: "64" },
            path: { type: "string", default: "/pyxis/dispensers" },
            ablation: { type: "boolean", default: false },
            help: { type: "boolean", default: false },
        },
    });
    if (values.help) {
        console.log(USAGE);
        process.exit(0);
    }
    const int = (name: keyof typeof values, min: number, max: number) => {
        const n = Number(values[name]);
        if (!Number.isInteger(n) || n < min || n > max) {
            console.error(`--${name} must be an integer from ${min} to ${max}\n${USAGE}`);
            process.exit(2);
        }
        return n;
    };
    const requestPath = String(values.path);
    if (!/^\/(pyxis|requests)(\/[A-Za-z0-9._~-]*)*$/.test(requestPath)) {
        console.error("--path must be a plain path under /pyxis or /requests (routes both listeners serve)");
        process.exit(2);
    }
    return {
        duration: int("duration", 1, 120),
        connections: int("connections", 1, 1000),
        warmup: int("warmup", 0, 30),
        rounds: int("rounds", 1, 9),
        keepalive: int("keepalive", 1, 300),
        path: requestPath,
        ablation: Boolean(values.ablation),
    };
}

// ---------- processes and cleanup ----------

const cleanups: (() => Promise<void> | void)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
    cleaning ??= (async () => {
        for (const fn of cleanups.reverse()) {
            try {
                await fn();
            } catch (err) {
                console.error(`cleanup: ${(err as Error).message}`);
            }
        }
    })();
    return cleaning;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
        console.error(`\n${signal}: stopping the nginx processes`);
        void cleanup().then(() => process.exit(130));
    });
}

/** Renders one of the bench's own nginx configs (test/bench/<name>.conf.mustache) and starts it. */
async function startBenchNginx(name: string, view: Record<string, unknown>): Promise<RunningNginx> {
    const dir = makeRuntimeDir();
    const listenPort = await freePort();
    const template = fs.readFileSync(path.join(__dirname, `${name}.conf.mustache`), "utf8");
    const config = Mustache.render(template, { ...view, runtimeDir: dir, listenPort }, {}, { escape: (s: string) => s });
    const nginx = await runNginx({ config, dir, port: listenPort });
    cleanups.push(() => nginx.stop());
    return nginx;
}

/** Lines received so far by a log reader. */
interface LineCounter {
    lines: number;
}

/**
 * The metrics stream's receiver, standing in for mtail: a UDP socket on loopback that reads every
 * datagram and counts them. A small Python loop in its own process, not this Node process: one
 * datagram per request costs Node's event loop far more CPU, which on a small box would be taken
 * from the servers measured. Asked for its count with a line on stdin, it answers one on stdout.
 */
const METRICS_READER = `
import socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("127.0.0.1", 0))
count = 0
def drain():
    global count
    buf = bytearray(2048)
    while True:
        s.recv_into(buf)
        count += 1
threading.Thread(target=drain, daemon=True).start()
print(s.getsockname()[1], flush=True)
for _ in sys.stdin:
    print(count, flush=True)
`;

async function startMetricsReader(): Promise<{ port: number; pid: number; lines(): Promise<number> }> {
    const child = spawn("python3", ["-c", METRICS_READER], { stdio: ["pipe", "pipe", "inherit"] });
    cleanups.push(() => void child.kill("SIGTERM"));
    const answers: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
    child.once("exit", (code) => {
        for (const a of answers.splice(0)) a.reject(new Error(`the metrics reader (python3) exited with ${code}`));
    });
    let pending = "";
    child.stdout.on("data", (d: Buffer) => {
        pending += d.toString();
        for (let i = pending.indexOf("\n"); i !== -1; i = pending.indexOf("\n")) {
            answers.shift()?.resolve(pending.slice(0, i));
            pending = pending.slice(i + 1);
        }
    });
    const ask = () => new Promise<string>((resolve, reject) => answers.push({ resolve, reject }));
    const port = Number(await ask());
    return {
        port,
        pid: child.pid!,
        lines: () => {
            const answer = ask();
            child.stdin.write("count\n");
            return answer.then(Number);
        },
    };
}

/**
 * The access log's reader, standing in for the container runtime that reads the pod's stdout: a
 * named pipe in `dir` that NGINX writes to and this process drains, counting the lines. Opened
 * read-write, so neither side waits for the other and `nginx -t` closing its end is no EOF.
 */
function startAccessLogReader(dir: string): LineCounter & { path: string } {
    const fifo = path.join(dir, "access.pipe");
    const made = spawnSync("mkfifo", ["-m", "0600", fifo], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`mkfifo ${fifo}: ${made.stderr}`);
    if (process.getuid?.() === 0) fs.chownSync(fifo, NGINX_UNPRIVILEGED_UID, NGINX_UNPRIVILEGED_UID);
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const stream = new net.Socket({ fd, readable: true, writable: false });
    const counter = { lines: 0, path: fifo };
    stream.on("data", (chunk: Buffer) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) counter.lines++;
    });
    cleanups.push(() => void stream.destroy());
    return counter;
}

/** Which of the gateway's costliest features are on: all of them, except in the ablation's variants. */
interface Features {
    metricsStream: boolean;
    accessLog: boolean;
    /** NGINX's own `$request_id` (16 bytes from OpenSSL's RAND_bytes per request). */
    requestId: boolean;
}
const EVERY_FEATURE: Features = { metricsStream: true, accessLog: true, requestId: true };

/**
 * The ablation's surgery on the rendered config: `$request_id` replaced by a constant, so no request draws random
 * bytes (a client's own X-Request-ID still passes). Only to measure what the variable costs: the real config keeps it.
 */
function withoutRequestId(config: string): string {
    const out = config.split("${request_id}").join("-").split("$request_id").join("-");
    if (/\$\{?request_id\b/.test(out)) throw new Error("the ablation left a $request_id in the gateway config");
    return out;
}

async function startGateway(upstreamPort: number, keepalive: number, connections: number, metricsPort: number, features: Features = EVERY_FEATURE) {
    const dir = makeRuntimeDir();
    const accessLog = startAccessLogReader(dir);
    const upstream = { host: "127.0.0.1", port: upstreamPort };
    // Cluster values from Pulumi.prod.yaml / components/gateway.ts (1 CPU: one worker; 256Mi: 8192
    // connections); only paths and ports are local. No TLS: both listeners speak plain HTTP here,
    // as the bare proxy does (the public one is plain HTTP in dev).
    const input = await gatewayTestInput({ auth: upstream, pyxis: upstream, requestManagement: upstream }, dir, {
        workerProcesses: 1,
        workerConnections: 8192,
        keepaliveConnections: keepalive,
        clientMaxBodySize: "1m",
        proxyConnectTimeoutSeconds: 5,
        proxyReadTimeoutSeconds: 30,
        proxySendTimeoutSeconds: 30,
        loginRateLimitPerMinute: 30,
        loginBurst: 10,
        // Every wrk connection comes from 127.0.0.1: here one address stands for many clients.
        connectionsPerClient: Math.max(64, 2 * connections),
        largeBodySlots: 32,
        accessLog: features.accessLog ? accessLog.path : "off",
        metricsLogPort: features.metricsStream ? metricsPort : undefined,
    });
    const rendered = renderGatewayConfig(input);
    const config = features.requestId ? rendered : withoutRequestId(rendered);
    const nginx = await runNginx({ config, dir, port: input.readyPort!, probePath: "/healthz" });
    cleanups.push(() => nginx.stop());
    return { ...nginx, ports: portsOf(input), accessLog };
}

// ---------- CPU accounting from /proc ----------

const CLOCK_TICKS = 100;

/** The pid and its children (an nginx master and its workers). */
function withChildren(pid: number): number[] {
    const out = [pid];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(entry));
        } catch {
            /* exited */
        }
    }
    return out;
}

/** CPU seconds (user + system) used so far by the given processes. */
function cpuSeconds(pids: number[]): number {
    let ticks = 0;
    for (const pid of pids) {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
        } catch {
            /* exited */
        }
    }
    return ticks / CLOCK_TICKS;
}

/** Busy CPU seconds of the whole host, all CPUs (everything but idle and iowait). */
function hostBusySeconds(): number {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - f[3] - f[4]) / CLOCK_TICKS;
}

// ---------- wrk ----------

interface LoadResult {
    rps: number;
    p50: number;
    p99: number;
    errors: number;
    non2xx: number;
    requests: number;
}

function toMs(value: string): number {
    const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
    if (!m) return NaN;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
}

function runWrk(url: string, connections: number, duration: number): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
        const threads = String(Math.min(2, connections));
        const child = spawn("wrk", ["-t", threads, "-c", String(connections), "-d", `${duration}s`, "--latency", url], {
            stdio: ["ignore", "pipe", "inherit"],
        });
        cleanups.push(() => {
            if (child.exitCode === null) child.kill("SIGKILL");
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.on("error", reject);
        child.on("exit", (code) => {
            if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${out}`));
            const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
            const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
            resolve({
                rps: num(/Requests\/sec:\s+([\d.]+)/),
                p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ""),
                p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ""),
                errors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
                non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/),
                requests: num(/(\d+) requests in/),
            });
        });
    });
}

function hasWrk(): boolean {
    return (process.env.PATH ?? "").split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, "wrk")));
}

// ---------- main ----------

const DIRECT = "upstream directly";
const BARE = "bare keep-alive proxy";
const PUBLIC = "gateway, public listener";
const INTERNAL = "gateway, internal listener";
const GATEWAY_TARGETS = [PUBLIC, INTERNAL];
/** The ablation's variants of the public listener (--ablation): what each feature costs is the full gateway's figure minus its variant's. */
const ABLATIONS: { name: string; features: Features }[] = [
    { name: "public, no metrics stream", features: { ...EVERY_FEATURE, metricsStream: false } },
    { name: "public, no access log", features: { ...EVERY_FEATURE, accessLog: false } },
    { name: "public, no generated req. id", features: { ...EVERY_FEATURE, requestId: false } },
    { name: "public, metrics stream only", features: { metricsStream: true, accessLog: false, requestId: false } },
    { name: "public, none of the three", features: { metricsStream: false, accessLog: false, requestId: false } },
];

type Gateway = Awaited<ReturnType<typeof startGateway>>;

interface Target {
    name: string;
    url: string;
    /** The proxy in front of the upstream, if any: its CPU counts with the upstream's. */
    proxy: RunningNginx | null;
    /** The gateway behind the URL, if it is one: its log lines are counted. */
    gateway?: Gateway;
}

interface Row extends LoadResult {
    round: number;
    target: string;
    /** CPU microseconds the proxy and the upstream spent per request. */
    serverUs: number;
    /** CPU microseconds per request of the two log readers (the access log pipe's, in this process, and the metrics stream's). */
    readerUs: number;
    /** Lines per request in the access log pipe and the metrics stream (gateway only). */
    accessLines: number | null;
    metricsLines: number | null;
    cpu: { proxy: number | null; upstream: number; host: number };
}

async function main() {
    const opts = options();
    findNginx(); // fail early and loudly
    if (!hasWrk()) throw new Error("bench:gateway needs wrk on PATH (apt-get install wrk)");

    const upstream = await startBenchNginx("upstream", {});
    const bare = await startBenchNginx("bare-proxy", { upstreamPort: upstream.port, keepalive: opts.keepalive });
    const metrics = await startMetricsReader();
    const gateway = await startGateway(upstream.port, opts.keepalive, opts.connections, metrics.port);
    const url = (port: number) => `http://127.0.0.1:${port}${opts.path}`;
    const targets: Target[] = [
        { name: DIRECT, url: url(upstream.port), proxy: null },
        { name: BARE, url: url(bare.port), proxy: bare },
        { name: PUBLIC, url: url(gateway.ports.http), proxy: gateway, gateway },
        { name: INTERNAL, url: url(gateway.ports.internal), proxy: gateway, gateway },
    ];
    if (opts.ablation) {
        for (const variant of ABLATIONS) {
            const g = await startGateway(upstream.port, opts.keepalive, opts.connections, metrics.port, variant.features);
            targets.push({ name: variant.name, url: url(g.ports.http), proxy: g, gateway: g });
        }
    }
    console.log(
        `bench: wrk, ${opts.duration}s x ${opts.connections} connections per target, warm-up ${opts.warmup}s, GET ${opts.path}, ` +
            `${opts.rounds} round(s); one NGINX worker each (upstream, bare proxy, gateway), upstream keepalive ${opts.keepalive}; CPUs: ${os.cpus().length}\n`,
    );

    const rows: Row[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
        for (const target of targets) {
            if (opts.warmup > 0) await runWrk(target.url, opts.connections, opts.warmup);
            // The warm-up's last access log lines are flushed within 1 s (flush=1s).
            await new Promise((r) => setTimeout(r, 1200));
            const proxyPids = target.proxy ? withChildren(target.proxy.pid) : [];
            const upstreamPids = withChildren(upstream.pid);
            const before = {
                proxy: cpuSeconds(proxyPids),
                upstream: cpuSeconds(upstreamPids),
                self: process.cpuUsage(),
                reader: cpuSeconds([metrics.pid]),
                host: hostBusySeconds(),
                access: target.gateway?.accessLog.lines ?? 0,
                metrics: await metrics.lines(),
            };
            const started = Date.now();
            process.stdout.write(`  round ${round}  ${target.name.padEnd(28)} ...`);
            const result = await runWrk(target.url, opts.connections, opts.duration);
            const seconds = (Date.now() - started) / 1000;
            const proxyCpu = target.proxy ? cpuSeconds(proxyPids) - before.proxy : 0;
            const upstreamCpu = cpuSeconds(upstreamPids) - before.upstream;
            const host = hostBusySeconds() - before.host;
            await new Promise((r) => setTimeout(r, 1200)); // the access log's last buffer
            const self = process.cpuUsage(before.self);
            const g = target.gateway;
            const perRequest = (n: number) => (result.requests > 0 ? n / result.requests : NaN);
            const pct = (cpu: number) => (100 * cpu) / seconds;
            const row: Row = {
                ...result,
                round,
                target: target.name,
                serverUs: perRequest(1e6 * (proxyCpu + upstreamCpu)),
                readerUs: g ? perRequest(self.user + self.system + 1e6 * (cpuSeconds([metrics.pid]) - before.reader)) : NaN,
                accessLines: g ? perRequest(g.accessLog.lines - before.access) : null,
                metricsLines: g ? perRequest((await metrics.lines()) - before.metrics) : null,
                cpu: { proxy: target.proxy ? pct(proxyCpu) : null, upstream: pct(upstreamCpu), host: pct(host) },
            };
            process.stdout.write(` ${Math.round(row.rps)} req/s, ${row.serverUs.toFixed(1)} us/req\n`);
            rows.push(row);
        }
    }
    printResults(rows);
}

const median = (xs: number[]) => {
    const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function printResults(rows: Row[]) {
    const fmt = (n: number | null, digits = 0) => (n === null || Number.isNaN(n) ? "-" : n.toFixed(digits));
    const header = ["round", "target", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx", "CPU% proxy", "CPU% upstream", "CPU% host",
        "access log lines/req", "metrics lines/req", "log readers us/req", "server CPU us/req"];
    const lines = rows.map((r) => [
        String(r.round), r.target, fmt(r.rps), fmt(r.p50, 2), fmt(r.p99, 2), String(r.errors), String(r.non2xx),
        fmt(r.cpu.proxy), fmt(r.cpu.upstream), `${fmt(r.cpu.host)}/${100 * os.cpus().length}`,
        fmt(r.accessLines, 3), fmt(r.metricsLines, 3), fmt(r.readerUs, 1), fmt(r.serverUs, 1),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const show = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
    console.log(`\n${show(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
    for (const l of lines) console.log(show(l));
    console.log(
        "server CPU us/req = (proxy + upstream NGINX) CPU time from /proc / requests wrk completed: what a request costs\n" +
            "the servers. CPU% = CPU seconds per wall second x 100; CPU% host counts every process on the machine.\n" +
            "log readers = this process (draining the access log pipe) and the metrics stream's reader: not in server CPU.\n",
    );
    const rounds = [...new Set(rows.map((r) => r.round))];
    const of = (target: string, pick: (r: Row) => number) => median(rows.filter((r) => r.target === target).map(pick));
    console.log(`medians over ${rounds.length} round(s):`);
    const measured = [...new Set(rows.map((r) => r.target))];
    for (const target of measured) {
        console.log(
            `  ${target.padEnd(28)} ${of(target, (r) => r.rps).toFixed(0).padStart(6)} req/s  p50 ${of(target, (r) => r.p50).toFixed(2)} ms` +
                `  p99 ${of(target, (r) => r.p99).toFixed(2)} ms  server CPU ${of(target, (r) => r.serverUs).toFixed(1)} us/req`,
        );
    }
    /** Server CPU per request of one target in one round. */
    const at = (target: string, round: number) => rows.find((r) => r.target === target && r.round === round)?.serverUs ?? NaN;
    const ratioOf = (target: string) => median(rounds.map((round) => at(target, round) / at(BARE, round)));
    for (const target of GATEWAY_TARGETS) {
        const ratio = of(target, (r) => r.serverUs) / of(BARE, (r) => r.serverUs);
        // Each round's ratio (the two measured a minute apart at most), then their median.
        const paired = ratioOf(target);
        console.log(
            `${target}: server CPU per request ${ratio.toFixed(2)}x the bare proxy's (per-round median ${paired.toFixed(2)}x; ` +
                `goal <= ${GOAL_RATIO}x: ${paired <= GOAL_RATIO ? "met" : "NOT met"}), ` +
                `req/s ${(of(target, (r) => r.rps) / of(BARE, (r) => r.rps)).toFixed(2)}x`,
        );
    }
    const ablations = ABLATIONS.filter((a) => measured.includes(a.name));
    if (ablations.length) {
        console.log("\nablation (the public listener; a feature's cost = the full gateway's server CPU minus its variant's, same round, median):");
        for (const { name } of ablations) {
            const saved = median(rounds.map((round) => at(PUBLIC, round) - at(name, round)));
            console.log(`  ${name.padEnd(30)} server CPU ${of(name, (r) => r.serverUs).toFixed(1)} us/req, ${saved.toFixed(1)} us/req less than ` +
                `every feature on; ${ratioOf(name).toFixed(2)}x the bare proxy's (per-round median)`);
        }
    }
}

main()
    .then(cleanup)
    .catch(async (err) => {
        console.error(err);
        await cleanup();
        process.exit(1);
    });

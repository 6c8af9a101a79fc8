// `npm run bench:gateway [-- --duration 10 --connections 50 ...]`
// Throughput of the project's gateway config against the seed team's original one, on
// loopback: a stub upstream (Node cluster, separate processes), the seed nginx
// (test/bench/seed-gateway.conf.mustache), the project nginx (nginx/render.ts) on its
// internal listener (plain HTTP, the one the services call), and the stub hit directly as a
// ceiling. Each target is driven for the same duration and concurrency with autocannon
// (in-process) and/or wrk; with wrk, the project's public HTTPS listener is measured too:
// TLS handshakes/s (a new connection per request) and requests/s over keep-alive. A table
// with req/s, p50/p99, errors, upstream connections per request and CPU use is printed.
import { ChildProcess, fork, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import Mustache from "mustache";
import { renderGatewayConfig } from "../../nginx/render";
import { GatewayPorts, RunningNginx, findNginx, freePort, gatewayTestInput, makeRuntimeDir, makeTestCertificate, portsOf, runNginx } from "../support/nginx";

const USAGE = `usage: npm run bench:gateway -- [options]
  --duration <s>         measured seconds per target (default 10, max 120)
  --connections <n>      concurrent client connections (default 50, max 1000)
  --warmup <s>           unmeasured seconds before each target (default 2)
  --rounds <n>           repeat the whole sequence n times, interleaved; ratios use medians (default 1, max 5)
  --tool <t>             autocannon | wrk | both (default autocannon)
  --stub-workers <n>     Node processes serving the stub upstream (default 2)
  --gateway-workers <n>  worker_processes of the project gateway (default 1 = the prod CPU limit of 1)
  --keepalive <n>        keepaliveConnections of the project gateway (default 64, as Pulumi.prod.yaml)
  --path <p>             request path (default /pyxis/dispensers: the seed's best-configured route)
  --upstream-host <ip>   loopback address (127.0.0.0/8) the stub listens on and the gateways proxy to
                         (default 127.0.0.1); load never leaves this machine's loopback`;

function options() {
    const { values } = parseArgs({
        options: {
            duration: { type: "string", default: "10" },
            connections: { type: "string", default: "50" },
            warmup: { type: "string", default: "2" },
            rounds: { type: "string", default: "1" },
            tool: { type: "string", default: "autocannon" },
            "stub-workers": { type: "string", default: "2" },
            "gateway-workers": { type: "string", default: "1" },
            keepalive: { type: "string", default: "64" },
            path: { type: "string", default: "/pyxis/dispensers" },
            "upstream-host": { type: "string", default: "127.0.0.1" },
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
    const tool = String(values.tool);
    if (!["autocannon", "wrk", "both"].includes(tool)) {
        console.error(`--tool must be autocannon, wrk or both\n${USAGE}`);
        process.exit(2);
    }
    const requestPath = String(values.path);
    if (!/^\/(pyxis|requests|auth)(\/[A-Za-z0-9._~-]*)*$/.test(requestPath)) {
        console.error("--path must be a plain path under /pyxis, /requests or /auth");
        process.exit(2);
    }
    const upstreamHost = String(values["upstream-host"]);
    // Load only ever goes to loopback: a benchmark is no reason to send traffic anywhere else.
    if (!/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(upstreamHost)) {
        console.error("--upstream-host must be a loopback address (127.0.0.0/8)");
        process.exit(2);
    }
    return {
        upstreamHost,
        duration: int("duration", 1, 120),
        connections: int("connections", 1, 1000),
        warmup: int("warmup", 0, 30),
        rounds: int("rounds", 1, 5),
        tools: tool === "both" ? ["autocannon", "wrk"] : [tool],
        stubWorkers: int("stub-workers", 1, 16),
        gatewayWorkers: int("gateway-workers", 1, 16),
        keepalive: int("keepalive", 1, 300),
        path: requestPath,
    };
}

// autocannon 8 ships no type declarations: the subset used here.
interface AutocannonResult {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    errors: number;
    timeouts: number;
    non2xx: number;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: (opts: { url: string; connections: number; duration: number; pipelining?: number }) => Promise<AutocannonResult> = require("autocannon");

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
        console.error(`\n${signal}: stopping nginx and the stub`);
        void cleanup().then(() => process.exit(130));
    });
}

interface StubProcess {
    host: string;
    port: number;
    child: ChildProcess;
    stats(): Promise<{ connections: number; requests: number }>;
}

async function startStub(workers: number, host: string): Promise<StubProcess> {
    const port = await freePort();
    const child = fork(path.join(__dirname, "stub-upstream.ts"), [String(port), String(workers), host], {
        execArgv: ["-r", "ts-node/register/transpile-only"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    cleanups.push(
        () =>
            new Promise<void>((resolve) => {
                if (child.exitCode !== null || child.signalCode !== null) return resolve();
                child.once("exit", () => resolve());
                child.kill("SIGTERM");
            }),
    );
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("stub upstream did not start within 20 s")), 20_000);
        child.once("exit", (code) => reject(new Error(`stub upstream exited with ${code}`)));
        child.on("message", (msg: { type?: string }) => {
            if (msg?.type === "ready") {
                clearTimeout(timer);
                resolve();
            }
        });
    });
    const stats = () =>
        new Promise<{ connections: number; requests: number }>((resolve) => {
            const onMessage = (msg: { type?: string; connections: number; requests: number }) => {
                if (msg?.type !== "stats") return;
                child.off("message", onMessage);
                resolve({ connections: msg.connections, requests: msg.requests });
            };
            child.on("message", onMessage);
            child.send({ type: "stats" });
        });
    return { host, port, child, stats };
}

async function startSeedGateway(stub: StubProcess): Promise<RunningNginx> {
    const dir = makeRuntimeDir();
    const listenPort = await freePort();
    const template = fs.readFileSync(path.join(__dirname, "seed-gateway.conf.mustache"), "utf8");
    const config = Mustache.render(template, { runtimeDir: dir, host: stub.host, port: stub.port, listenPort }, {}, { escape: (s: string) => s });
    const nginx = await runNginx({ config, dir, port: listenPort });
    cleanups.push(() => nginx.stop());
    return nginx;
}

async function startProjectGateway(stub: StubProcess, workers: number, keepalive: number, connections: number): Promise<RunningNginx & { ports: GatewayPorts }> {
    const dir = makeRuntimeDir();
    const upstream = { host: stub.host, port: stub.port };
    const cert = makeTestCertificate(dir, "bench");
    // Cluster values from Pulumi.prod.yaml / components/gateway.ts (1 CPU, 256Mi: 8192
    // connections; TLS on, as in prod); only paths, ports and the certificate are local.
    const input = await gatewayTestInput({ auth: upstream, pyxis: upstream, requestManagement: upstream }, dir, {
        workerProcesses: workers,
        workerConnections: 8192,
        keepaliveConnections: keepalive,
        clientMaxBodySize: "1m",
        proxyConnectTimeoutSeconds: 5,
        proxyReadTimeoutSeconds: 30,
        proxySendTimeoutSeconds: 30,
        loginRateLimitPerMinute: 30,
        loginBurst: 10,
        // Every load-generator connection comes from 127.0.0.1: here one address stands for many clients.
        connectionsPerClient: Math.max(32, connections),
        largeBodySlots: 32,
    });
    input.tls = { certificate: cert.certificate, certificateKey: cert.key, httpsPort: input.tlsPort! };
    const nginx = await runNginx({ config: renderGatewayConfig(input), dir, port: input.readyPort!, probePath: "/healthz" });
    cleanups.push(() => nginx.stop());
    return { ...nginx, ports: portsOf(input) };
}

// ---------- CPU accounting from /proc ----------

const CLOCK_TICKS = 100;

function descendants(pid: number): number[] {
    const parentOf = new Map<number, number>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
        } catch {
            /* exited */
        }
    }
    const out = [pid];
    for (let i = 0; i < out.length; i++) {
        for (const [child, parent] of parentOf) if (parent === out[i]) out.push(child);
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

/** Sockets in TIME_WAIT towards the stub port (IPv4), e.g. left behind by per-request upstream connections. */
function timeWaitTo(port: number): number {
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    return fs
        .readFileSync("/proc/net/tcp", "utf8")
        .split("\n")
        .slice(1)
        .filter((line) => {
            const f = line.trim().split(/\s+/);
            return f[3] === "06" && f[2]?.endsWith(`:${hexPort}`);
        }).length;
}

// ---------- load generators ----------

interface LoadResult {
    rps: number;
    p50: number;
    p99: number;
    errors: number;
    non2xx: number;
    requests: number;
    loadgenPid?: number;
}

async function runAutocannon(url: string, connections: number, duration: number): Promise<LoadResult> {
    const result = await autocannon({ url, connections, duration, pipelining: 1 });
    return {
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
        requests: result.requests.total,
    };
}

function toMs(value: string): number {
    const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
    if (!m) return NaN;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
}

function runWrk(url: string, connections: number, duration: number, onStart: (pid: number) => void, headers: string[] = []): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
        const threads = String(Math.min(2, connections));
        const child = spawn("wrk", ["-t", threads, "-c", String(connections), "-d", `${duration}s`, "--latency", ...headers.flatMap((h) => ["-H", h]), url], {
            stdio: ["ignore", "pipe", "inherit"],
        });
        cleanups.push(() => {
            if (child.exitCode === null) child.kill("SIGKILL");
        });
        onStart(child.pid!);
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

interface Row extends LoadResult {
    round: number;
    target: string;
    tool: string;
    upstreamConnsPerReq: number | null;
    timeWait: number;
    cpu: { nginx: number | null; stub: number; loadgen: number; host: number };
    /** CPU microseconds nginx + stub spent per request: the servers' cost, whatever the load generator. */
    serverUsPerRequest: number;
}

async function main() {
    const opts = options();
    findNginx(); // fail early and loudly
    if (opts.tools.includes("wrk") && !hasWrk()) throw new Error("--tool wrk/both needs wrk on PATH (apt-get install wrk)");

    const stub = await startStub(opts.stubWorkers, opts.upstreamHost);
    const seed = await startSeedGateway(stub);
    const project = await startProjectGateway(stub, opts.gatewayWorkers, opts.keepalive, opts.connections);
    interface Target { name: string; url: string; nginx: RunningNginx | null; tools: string[]; headers?: string[] }
    const http = (host: string, port: number) => `http://${host}:${port}${opts.path}`;
    const tlsTools = opts.tools.includes("wrk") ? ["wrk"] : [];
    const targets: Target[] = [
        { name: "direct (stub)", url: http(stub.host, stub.port), nginx: null, tools: opts.tools },
        { name: "project gateway", url: http("127.0.0.1", project.ports.internal), nginx: project, tools: opts.tools },
        { name: "seed gateway", url: http("127.0.0.1", seed.port), nginx: seed, tools: opts.tools },
        // The public HTTPS listener (wrk speaks TLS; autocannon here would measure Node's TLS client).
        { name: HTTPS_KEEPALIVE, url: `https://127.0.0.1:${project.ports.https}${opts.path}`, nginx: project, tools: tlsTools },
        { name: HTTPS_HANDSHAKES, url: `https://127.0.0.1:${project.ports.https}${opts.path}`, nginx: project, tools: tlsTools, headers: ["Connection: close"] },
    ];
    if (tlsTools.length === 0) console.log("(TLS rows need wrk: --tool wrk or both)");

    console.log(
        `bench: ${opts.duration}s x ${opts.connections} connections per target, warm-up ${opts.warmup}s, GET ${opts.path}\n` +
            `stub: ${opts.stubWorkers} Node workers on ${stub.host}:${stub.port}; project gateway: worker_processes ${opts.gatewayWorkers}, ` +
            `keepalive ${opts.keepalive}, internal listener (plain HTTP, GATEWAY_URL) and public HTTPS (ECDSA P-256 test certificate); ` +
            `seed gateway: worker_processes 1, no keepalive; CPUs: ${os.cpus().length}\n`,
    );

    const rows: Row[] = [];
    // Tool by tool, the targets back to back (the gateway right before the seed), rounds
    // interleaved: load from other processes on the machine falls on the pairs compared alike.
    for (let round = 1; round <= opts.rounds; round++) {
        for (const tool of opts.tools) {
            for (const target of targets.filter((t) => t.tools.includes(tool))) {
                const url = target.url;
                if (opts.warmup > 0) {
                    if (url.startsWith("https:")) await runWrk(url, opts.connections, opts.warmup, () => undefined, target.headers);
                    else await autocannon({ url, connections: opts.connections, duration: opts.warmup });
                }
                // Let the warm-up's TIME_WAIT sockets and queues settle a little before measuring.
                await new Promise((r) => setTimeout(r, 500));
                const nginxPids = target.nginx ? descendants(target.nginx.pid) : [];
                const stubPids = descendants(stub.child.pid!);
                let loadgenPid: number | undefined;
                const before = {
                    stats: await stub.stats(),
                    nginx: cpuSeconds(nginxPids),
                    stub: cpuSeconds(stubPids),
                    self: process.cpuUsage(),
                    host: hostBusySeconds(),
                    timeWait: timeWaitTo(stub.port),
                };
                const started = Date.now();
                process.stdout.write(`  round ${round}  ${tool.padEnd(10)} ${target.name.padEnd(24)} ...`);
                // wrk's /proc entry vanishes when it exits: sample its CPU time while it runs.
                let wrkCpu = 0;
                const poll = setInterval(() => {
                    if (loadgenPid) wrkCpu = Math.max(wrkCpu, cpuSeconds([loadgenPid]));
                }, 200);
                const result = await (tool === "wrk"
                    ? runWrk(url, opts.connections, opts.duration, (pid) => (loadgenPid = pid), target.headers)
                    : runAutocannon(url, opts.connections, opts.duration)
                ).finally(() => clearInterval(poll));
                const seconds = (Date.now() - started) / 1000;
                const pct = (cpu: number) => (100 * cpu) / seconds;
                const after = await stub.stats();
                const self = process.cpuUsage(before.self);
                const host = pct(hostBusySeconds() - before.host);
                // New TIME_WAIT sockets towards the stub (older ones expire meanwhile: a lower bound).
                const timeWait = Math.max(0, timeWaitTo(stub.port) - before.timeWait);
                const serverCpu = (target.nginx ? cpuSeconds(nginxPids) - before.nginx : 0) + (cpuSeconds(stubPids) - before.stub);
                const row: Row = {
                    ...result,
                    serverUsPerRequest: result.requests > 0 ? (1e6 * serverCpu) / result.requests : NaN,
                    round,
                    target: target.name,
                    tool,
                    upstreamConnsPerReq: after.requests > before.stats.requests
                        ? (after.connections - before.stats.connections) / (after.requests - before.stats.requests)
                        : null,
                    timeWait,
                    cpu: {
                        nginx: target.nginx ? pct(cpuSeconds(nginxPids) - before.nginx) : null,
                        stub: pct(cpuSeconds(stubPids) - before.stub),
                        // autocannon runs in this process; wrk is sampled every 200 ms (slightly low).
                        loadgen: loadgenPid ? pct(wrkCpu) : pct((self.user + self.system) / 1e6),
                        host,
                    },
                };
                process.stdout.write(` ${Math.round(row.rps)} req/s\n`);
                rows.push(row);
                await new Promise((r) => setTimeout(r, 1000));
            }
        }
    }
    printTable(rows, opts.tools);
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function printTable(rows: Row[], tools: string[]) {
    const header = ["round", "tool", "target", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx", "upstream conns/req", "new TIME_WAIT", "CPU% nginx", "CPU% stub", "CPU% loadgen", "CPU% host", "server CPU us/req"];
    const fmt = (n: number | null, digits = 0) => (n === null || Number.isNaN(n) ? "-" : n.toFixed(digits));
    const lines = rows.map((r) => [
        String(r.round),
        r.tool,
        r.target,
        fmt(r.rps),
        fmt(r.p50, 2),
        fmt(r.p99, 2),
        String(r.errors),
        String(r.non2xx),
        fmt(r.upstreamConnsPerReq, 4),
        r.target === "direct (stub)" ? "-" : String(r.timeWait),
        fmt(r.cpu.nginx),
        fmt(r.cpu.stub),
        fmt(r.cpu.loadgen),
        `${fmt(r.cpu.host)}/${100 * os.cpus().length}`,
        fmt(r.serverUsPerRequest, 1),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const show = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
    console.log(`\n${show(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
    for (const l of lines) console.log(show(l));
    console.log(
        "CPU% = CPU seconds per wall second x 100 (200 = two cores busy). CPU% host counts every process on the\n" +
            "machine; what it has beyond nginx + stub + loadgen is the kernel's softirq work and other tenants' load.\n" +
            "server CPU us/req = (nginx + stub) CPU time / requests: what a request costs the servers, independent of\n" +
            "how much CPU the load generator takes from them on a small box.\n",
    );
    const rounds = new Set(rows.map((r) => r.round)).size;
    if (rounds > 1) console.log(`medians over ${rounds} rounds:`);
    for (const tool of tools) {
        const of = (target: string, pick: (r: Row) => number) => median(rows.filter((r) => r.tool === tool && r.target === target).map(pick));
        const rps = (target: string) => of(target, (r) => r.rps);
        const cost = (target: string) => of(target, (r) => r.serverUsPerRequest);
        if (rounds > 1) {
            for (const target of ["direct (stub)", "project gateway", "seed gateway", ...(tool === "wrk" ? [HTTPS_KEEPALIVE, HTTPS_HANDSHAKES] : [])]) {
                console.log(
                    `  ${tool.padEnd(10)} ${target.padEnd(24)} ${rps(target).toFixed(0).padStart(6)} req/s  p50 ${of(target, (r) => r.p50).toFixed(2)} ms` +
                        `  p99 ${of(target, (r) => r.p99).toFixed(2)} ms  server CPU ${cost(target).toFixed(1)} us/req`,
                );
            }
        }
        const vsSeed = rps("project gateway") / rps("seed gateway");
        const vsDirect = rps("project gateway") / rps("direct (stub)");
        // The same ratios round by round (each pair measured minutes apart at most), then their median.
        const paired = (other: string) => median([...new Set(rows.map((r) => r.round))].map((round) => {
            const at = (target: string) => rows.find((r) => r.tool === tool && r.target === target && r.round === round)?.rps ?? NaN;
            return at("project gateway") / at(other);
        }));
        if (rounds > 1) {
            console.log(`${tool}: per-round ratios, median: gateway/seed ${paired("seed gateway").toFixed(2)}x, gateway/direct ${paired("direct (stub)").toFixed(2)}x`);
        }
        console.log(
            `${tool}: gateway/seed = ${vsSeed.toFixed(2)}x req/s (target >= 3x: ${vsSeed >= 3 ? "met" : "NOT met"}), ` +
                `gateway/direct = ${vsDirect.toFixed(2)}x (target >= 0.40x: ${vsDirect >= 0.4 ? "met" : "NOT met"}); ` +
                `server CPU per request seed/gateway = ${(cost("seed gateway") / cost("project gateway")).toFixed(2)}x`,
        );
        if (tool === "wrk") {
            console.log(
                `wrk: HTTPS ${rps(HTTPS_HANDSHAKES).toFixed(0)} handshakes/s (a full TLS handshake per request, ${cost(HTTPS_HANDSHAKES).toFixed(0)} us server CPU each), ` +
                    `${rps(HTTPS_KEEPALIVE).toFixed(0)} req/s with keep-alive (${cost(HTTPS_KEEPALIVE).toFixed(1)} us/req)`,
            );
        }
    }
}

const HTTPS_KEEPALIVE = "project HTTPS keep-alive";
const HTTPS_HANDSHAKES = "project HTTPS handshakes";

main()
    .then(cleanup)
    .catch(async (err) => {
        console.error(err);
        await cleanup();
        process.exit(1);
    });

// Harness for testing the rendered gateway config against a real nginx binary:
// stub upstream servers, a managed nginx process, a small HTTP client and a config parser.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { GatewayConfigInput, renderGatewayConfig } from "../../nginx/render";

/** UID/GID of nginxinc/nginx-unprivileged; the harness drops to it when the tests run as root. */
export const NGINX_UNPRIVILEGED_UID = 101;

/** The nginx binary: $NGINX_BIN, else the first `nginx` on PATH or in /usr/sbin. Throws if there is none. */
export function findNginx(): string {
    const candidates = [
        process.env.NGINX_BIN,
        ...(process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, "nginx")),
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
    ].filter((p): p is string => !!p);
    const found = candidates.find((p) => {
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return true;
        } catch {
            return false;
        }
    });
    if (!found) {
        throw new Error(
            `nginx binary not found (looked in ${candidates.join(", ")}). ` +
                "Install it (apt-get install nginx-light) or set NGINX_BIN; these tests never skip.",
        );
    }
    return found;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** What a stub upstream answers: everything it received, as JSON. */
export interface StubEcho {
    stub: string;
    method: string;
    url: string;
    httpVersion: string;
    headers: http.IncomingHttpHeaders;
    body: string;
    bodyLength: number;
    bodySha256: string;
}

/** A local HTTP server standing in for one service. */
export interface StubUpstream {
    name: string;
    port: number;
    /** TCP connections accepted so far. */
    connections: number;
    /** Requests received so far (by any path). */
    requests: number;
    close(): Promise<void>;
}

/**
 * Starts an echo server on 127.0.0.1. Special paths (under any prefix):
 * `.../__close` destroys the socket without answering, `.../__sleep?ms=N` answers after N ms,
 * `.../__status?code=N` answers N like a Python service that talks too much: a traceback in a
 * 5xx body, `X-Powered-By`, `Server: uvicorn`, its own `X-Request-ID` and `X-Frame-Options`.
 */
export function startStubUpstream(name: string): Promise<StubUpstream> {
    const sockets = new Set<net.Socket>();
    const stub: StubUpstream = { name, port: 0, connections: 0, requests: 0, close: async () => undefined };
    const server = http.createServer((req, res) => {
        stub.requests++;
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://stub");
            if (url.pathname.endsWith("/__close")) {
                req.socket.destroy();
                return;
            }
            if (url.pathname.endsWith("/__status")) {
                const code = Number(url.searchParams.get("code") ?? 500);
                res.writeHead(code, {
                    "content-type": code >= 500 ? "text/plain" : "application/json",
                    "x-powered-by": "FastAPI",
                    server: "uvicorn",
                    "x-runtime": "0.042",
                    "x-request-id": "from-the-service",
                    "x-frame-options": "SAMEORIGIN",
                });
                res.end(code >= 500
                    ? 'Traceback (most recent call last):\n  File "/app/main.py", line 42\nsqlalchemy.exc.OperationalError: password=hunter2\n'
                    : JSON.stringify({ detail: `the service says ${code}` }));
                return;
            }
            const body = Buffer.concat(chunks);
            const echo: StubEcho = {
                stub: name,
                method: req.method ?? "",
                url: req.url ?? "",
                httpVersion: req.httpVersion,
                headers: req.headers,
                body: body.length <= 4096 ? body.toString("utf8") : "",
                bodyLength: body.length,
                bodySha256: crypto.createHash("sha256").update(body).digest("hex"),
            };
            const answer = () => {
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify(echo));
            };
            const delay = url.pathname.endsWith("/__sleep") ? Number(url.searchParams.get("ms") ?? 0) : 0;
            if (delay > 0) setTimeout(answer, delay);
            else answer();
        });
    });
    // Like uvicorn: keep idle connections for a while so reuse by nginx is observable.
    server.keepAliveTimeout = 30_000;
    server.on("connection", (socket: net.Socket) => {
        stub.connections++;
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            stub.port = (server.address() as net.AddressInfo).port;
            stub.close = () =>
                new Promise<void>((done) => {
                    for (const s of sockets) s.destroy();
                    server.close(() => done());
                });
            resolve(stub);
        });
    });
}

/** A running nginx process started by {@link runNginx}. */
export interface RunningNginx {
    dir: string;
    port: number;
    configPath: string;
    errorLogPath: string;
    /** PID of the nginx master. */
    pid: number;
    /** Stops master and workers (TERM, then KILL after 3 s) and removes the runtime dir. */
    stop(): Promise<void>;
}

/** The ports of a running gateway, by listener. */
export interface GatewayPorts {
    /** Public plain HTTP (a redirect to HTTPS when TLS is on). */
    http: number;
    /** Public HTTPS (only with TLS). */
    https: number;
    internal: number;
    ready: number;
    live: number;
    status: number;
}

/** A running gateway: nginx with the config rendered by renderGatewayConfig. */
export interface RunningGateway extends RunningNginx {
    config: string;
    input: GatewayConfigInput;
    ports: GatewayPorts;
    statusPort: number;
    accessLogPath: string;
}

/** How nginx is launched: as UID 101 like the pod when we are root and `setpriv` exists. */
function launcher(nginx: string): { command: string; prefixArgs: string[]; uid: number | null } {
    if (process.getuid?.() !== 0) return { command: nginx, prefixArgs: [], uid: null };
    const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => fs.existsSync(p));
    if (!setpriv) {
        // Root without setpriv: the master stays root and workers switch to `nobody`
        // (nginx's default); the runtime dir is made traversable for them below.
        return { command: nginx, prefixArgs: [], uid: null };
    }
    const id = String(NGINX_UNPRIVILEGED_UID);
    return {
        command: setpriv,
        prefixArgs: ["--reuid", id, "--regid", id, "--clear-groups", "--", nginx],
        uid: NGINX_UNPRIVILEGED_UID,
    };
}

/** Makes a private runtime dir that the nginx user can write (and workers can traverse). */
export function makeRuntimeDir(): string {
    const { uid } = launcher(findNginx());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-gateway-"));
    fs.chmodSync(dir, 0o755);
    if (uid !== null) fs.chownSync(dir, uid, uid);
    return dir;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
    for (const child of running) killGroup(child, "SIGKILL");
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
        process.kill(-child.pid, signal); // the whole group: master and workers
    } catch {
        /* already gone */
    }
}

/** `nginx -t` on a config file; returns the exit status and combined output. */
export function nginxTest(configPath: string, dir: string, errorLog: string): { status: number | null; output: string } {
    const { command, prefixArgs } = launcher(findNginx());
    const result = spawnSync(command, [...prefixArgs, "-t", "-p", dir + "/", "-e", errorLog, "-c", configPath], {
        encoding: "utf8",
        timeout: 10_000,
    });
    return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

async function waitUntilServing(port: number, probePath: string, child: ChildProcess, errorLog: string, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
            const log = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, "utf8") : "";
            throw new Error(`nginx exited during start-up (code ${child.exitCode}):\n${log}`);
        }
        try {
            await httpRequest({ port, path: probePath });
            return; // any HTTP answer means nginx is serving
        } catch {
            /* not listening yet */
        }
        if (Date.now() > deadline) throw new Error(`nginx did not answer on port ${port} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/**
 * Writes `config` to `dir`/nginx.conf, checks it with `nginx -t`, starts nginx in the
 * foreground in its own process group and waits until `port` answers HTTP.
 */
export async function runNginx(opts: { config: string; dir: string; port: number; probePath?: string }): Promise<RunningNginx> {
    const { command, prefixArgs } = launcher(findNginx());
    const { dir, port } = opts;
    const errorLogPath = path.join(dir, "error.log");
    const configPath = path.join(dir, "nginx.conf");
    fs.writeFileSync(configPath, opts.config, { mode: 0o644 });

    const check = nginxTest(configPath, dir, errorLogPath);
    if (check.status !== 0) throw new Error(`nginx -t rejected the config:\n${check.output}\n${opts.config}`);

    const child = spawn(command, [...prefixArgs, "-p", dir + "/", "-e", errorLogPath, "-c", configPath, "-g", "daemon off;"], {
        detached: true, // own process group, so stop() reaches the workers too
        stdio: ["ignore", "ignore", "pipe"],
    });
    running.add(child);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

    const stop = async () => {
        killGroup(child, "SIGTERM");
        const timer = setTimeout(() => killGroup(child, "SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
        killGroup(child, "SIGKILL"); // any worker that outlived its master
        running.delete(child);
        fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
        await waitUntilServing(port, opts.probePath ?? "/", child, errorLogPath);
    } catch (err) {
        await stop();
        throw new Error(`${(err as Error).message}\n${stderr}`);
    }
    return { dir, port, configPath, errorLogPath, pid: child.pid!, stop };
}

/** Distinct ports that were free a moment ago. */
export async function freePorts(n: number): Promise<number[]> {
    const ports = new Set<number>();
    while (ports.size < n) ports.add(await freePort());
    return [...ports];
}

/** Test defaults for the gateway on this host; ports are picked free. */
export async function gatewayTestInput(
    upstreams: GatewayConfigInput["upstreams"],
    dir: string,
    overrides: Partial<GatewayConfigInput> = {},
): Promise<GatewayConfigInput> {
    const [listenPort, tlsPort, internalPort, readyPort, livePort, statusPort] = await freePorts(6);
    return {
        upstreams,
        listenPort,
        tlsPort,
        internalPort,
        readyPort,
        livePort,
        statusPort,
        serverNames: { public: "gateway.asky.test", internal: "gateway-internal.asky.test" },
        workerProcesses: 2,
        workerConnections: 4096,
        keepaliveConnections: 16,
        clientMaxBodySize: "1m",
        connectionsPerClient: 32,
        largeBodySlots: 32,
        proxyConnectTimeoutSeconds: 2,
        proxyReadTimeoutSeconds: 10,
        proxySendTimeoutSeconds: 10,
        loginRateLimitPerMinute: 60,
        loginBurst: 5,
        runtimeDir: dir,
        errorLog: path.join(dir, "error.log"),
        accessLog: path.join(dir, "access.log"),
        ...overrides,
    };
}

/** The ports a rendered input listens on. */
export function portsOf(input: GatewayConfigInput): GatewayPorts {
    return {
        http: input.listenPort,
        https: input.tlsPort!,
        internal: input.internalPort!,
        ready: input.readyPort!,
        live: input.livePort!,
        status: input.statusPort!,
    };
}

/**
 * Renders the gateway config with `overrides` on top of test defaults, checks it with
 * `nginx -t`, and starts nginx on free ports. `tls: true` makes a self-signed certificate for
 * `localhost` in the runtime dir and serves HTTPS with it. Throws if nginx is missing.
 */
export async function startGateway(
    upstreams: GatewayConfigInput["upstreams"],
    overrides: Partial<GatewayConfigInput> & { withTestCertificate?: boolean } = {},
): Promise<RunningGateway> {
    const dir = makeRuntimeDir();
    const { withTestCertificate, ...rest } = overrides;
    const input = await gatewayTestInput(upstreams, dir, rest);
    if (withTestCertificate) {
        const cert = makeTestCertificate(dir);
        input.tls = { certificate: cert.certificate, certificateKey: cert.key, httpsPort: input.tlsPort!, ...input.tls };
    }
    const config = renderGatewayConfig(input);
    const nginx = await runNginx({ config, dir, port: input.readyPort!, probePath: "/healthz" });
    return { ...nginx, port: input.listenPort, config, input, ports: portsOf(input), statusPort: input.statusPort!, accessLogPath: input.accessLog };
}

/**
 * A self-signed ECDSA P-256 certificate for `localhost` (and 127.0.0.1), made with the openssl
 * CLI in `dir` and readable by the nginx workers. Returns the PEM paths and the certificate text.
 */
export function makeTestCertificate(dir: string, name = "test"): { certificate: string; key: string; pem: string } {
    const certificate = path.join(dir, `${name}.crt`);
    const key = path.join(dir, `${name}.key`);
    const result = spawnSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ], { encoding: "utf8", timeout: 10_000 });
    if (result.status !== 0) throw new Error(`openssl could not make a test certificate:\n${result.stderr}`);
    const { uid } = launcher(findNginx());
    for (const f of [certificate, key]) {
        fs.chmodSync(f, 0o640);
        if (uid !== null) fs.chownSync(f, uid, uid);
        else fs.chmodSync(f, 0o644); // workers may run as `nobody` (root without setpriv)
    }
    return { certificate, key, pem: fs.readFileSync(certificate, "utf8") };
}

/** A response read to the end. */
export interface HttpResult {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

export interface HttpRequestOptions {
    port: number;
    path: string;
    method?: string;
    headers?: http.OutgoingHttpHeaders;
    body?: string | Buffer;
    /** Destination address; default 127.0.0.1. */
    host?: string;
    /** Source address, e.g. 127.0.0.7, to appear to nginx as a distinct client. */
    localAddress?: string;
}

/** One request on a fresh TCP connection (no client-side keep-alive). */
export function httpRequest(opts: HttpRequestOptions): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: opts.host ?? "127.0.0.1",
                port: opts.port,
                path: opts.path,
                method: opts.method ?? "GET",
                headers: opts.headers,
                localAddress: opts.localAddress,
                agent: false,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
                res.on("error", reject);
            },
        );
        req.on("error", reject);
        req.setTimeout(15_000, () => req.destroy(new Error(`request ${opts.path} timed out`)));
        req.end(opts.body);
    });
}

/** What came back on a raw socket: the status line's code (0 if none), the header block and the body. */
export interface RawResult {
    status: number;
    head: string;
    body: string;
    /** Everything received, for responses that are not HTTP/1.x. */
    raw: string;
}

/**
 * Writes `bytes` as they are on a fresh TCP connection and reads until the server closes it
 * or `timeoutMs` passes: for requests an HTTP client library would refuse to send.
 */
export function rawRequest(port: number, bytes: string | Buffer, opts: { timeoutMs?: number; localAddress?: string } = {}): Promise<RawResult> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1", localAddress: opts.localAddress });
        const chunks: Buffer[] = [];
        const finish = () => {
            clearTimeout(timer);
            socket.destroy();
            const raw = Buffer.concat(chunks).toString("latin1");
            const split = raw.indexOf("\r\n\r\n");
            const head = split < 0 ? raw : raw.slice(0, split);
            resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0), head, body: split < 0 ? "" : raw.slice(split + 4), raw });
        };
        const timer = setTimeout(finish, opts.timeoutMs ?? 5000);
        socket.on("connect", () => socket.write(bytes));
        socket.on("data", (c: Buffer) => chunks.push(c));
        socket.on("end", finish);
        socket.on("close", finish);
        socket.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" ? finish() : reject(err)));
    });
}

/** A header of a raw response block (case-insensitive), or undefined. */
export function rawHeader(head: string, name: string): string | undefined {
    const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line?.slice(name.length + 1).trim();
}

/** A directive or block of an nginx config: `name args...;` or `name args... { children }`. */
export interface NginxDirective {
    name: string;
    args: string[];
    children?: NginxDirective[];
}

/** Parses nginx config text into a directive tree (quotes, escapes and comments handled). */
export function parseNginxConfig(text: string): NginxDirective[] {
    const tokens: string[] = [];
    let i = 0;
    while (i < text.length) {
        const ch = text[i];
        if (/\s/.test(ch)) {
            i++;
        } else if (ch === "#") {
            while (i < text.length && text[i] !== "\n") i++;
        } else if (ch === "{" || ch === "}" || ch === ";") {
            tokens.push(ch);
            i++;
        } else if (ch === "'" || ch === '"') {
            let value = "";
            i++;
            while (i < text.length && text[i] !== ch) {
                if (text[i] === "\\" && i + 1 < text.length) i++;
                value += text[i++];
            }
            i++;
            tokens.push(`\u0000${value}`); // marks a quoted word so "{" inside quotes is not a brace
        } else {
            let value = "";
            while (i < text.length && !/[\s;{}]/.test(text[i])) value += text[i++];
            tokens.push(value);
        }
    }
    let pos = 0;
    const word = (t: string) => (t.startsWith("\u0000") ? t.slice(1) : t);
    const block = (): NginxDirective[] => {
        const out: NginxDirective[] = [];
        while (pos < tokens.length && tokens[pos] !== "}") {
            const words: string[] = [];
            while (pos < tokens.length && tokens[pos] !== ";" && tokens[pos] !== "{") words.push(word(tokens[pos++]));
            if (tokens[pos] === "{") {
                pos++;
                const children = block();
                if (tokens[pos++] !== "}") throw new Error("unbalanced braces in nginx config");
                out.push({ name: words[0], args: words.slice(1), children });
            } else {
                if (tokens[pos++] !== ";") throw new Error(`directive without ';': ${words.join(" ")}`);
                out.push({ name: words[0], args: words.slice(1) });
            }
        }
        return out;
    };
    const tree = block();
    if (pos !== tokens.length) throw new Error("unbalanced braces in nginx config");
    return tree;
}

/** Every directive in the tree with the chain of enclosing block names (e.g. ["http", "server", "location"]). */
export function walkNginxConfig(tree: NginxDirective[], parents: NginxDirective[] = []): { directive: NginxDirective; parents: NginxDirective[] }[] {
    return tree.flatMap((directive) => [
        { directive, parents },
        ...(directive.children ? walkNginxConfig(directive.children, [...parents, directive]) : []),
    ]);
}

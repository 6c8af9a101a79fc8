import * as fs from "fs";
import * as path from "path";
import Mustache from "mustache";

/** One backend service as NGINX resolves it when it starts (a Kubernetes Service DNS name). */
export interface GatewayUpstream {
    /** DNS name (RFC 1123) or IPv4 address, e.g. `auth.asky.svc.cluster.local`. */
    host: string;
    /** TCP port of the Service, 1-65535. */
    port: number;
}

/** Routes the public listener may serve (`asky:gateway.publicRoutes`); the internal listener serves every route. */
export const PUBLIC_ROUTES = ["/auth/login", "/auth/register", "/auth/users/", "/pyxis/", "/requests/", "/healthz"] as const;
export type PublicRoute = (typeof PUBLIC_ROUTES)[number];
/** What the mobile app calls; `/auth/register` and `/auth/users/` are public only when an operator opts in. */
export const DEFAULT_PUBLIC_ROUTES: readonly PublicRoute[] = ["/auth/login", "/pyxis/", "/requests/", "/healthz"];

/** Container ports of the gateway; only `http` and `https` are in the exposed Service. */
export const GATEWAY_PORTS = {
    /** Public plain HTTP (redirects to HTTPS when TLS is on). */
    http: 8080,
    /** Public HTTPS, when TLS is on. */
    https: 8443,
    /** The services' GATEWAY_URL: every route, reachable only by request-management. */
    internal: 8090,
    /** Readiness probe (`/healthz`; 503 until the TLS certificate is mounted). */
    ready: 8091,
    /** Liveness and startup probes (`/healthz`). */
    live: 8092,
    /** stub_status, bound to 127.0.0.1 inside the pod. */
    status: 8081,
} as const;

/** Path NGINX answers itself with 200; meant for the readiness/liveness probes. */
export const GATEWAY_HEALTH_PATH = "/healthz";
/** Default pod-internal port of the `stub_status` page (127.0.0.1 only). */
export const GATEWAY_DEFAULT_STATUS_PORT = GATEWAY_PORTS.status;

/** Large bodies one client address may have in progress at once, unless configured. */
export const DEFAULT_LARGE_BODY_SLOTS_PER_CLIENT = 4;
/** Request bodies up to this size stay in memory; larger ones are written to runtimeDir/client_temp. */
export const BODY_BUFFER_BYTES = 16 * 1024;
/** Room in /tmp beyond the request bodies (pid file, nginx's temp directories). */
export const TMP_HEADROOM_BYTES = 16 * 2 ** 20;
/** Memory one connection may need (header buffers, request pool, proxy buffers); half the pod's limit goes to connections. */
export const CONNECTION_MEMORY_BYTES = 16 * 1024;

/**
 * The ranges every numeric input must fall in: what NGINX accepts and what makes sense at the
 * edge. config/gateway.ts validates `asky:gateway` against the same table, so a bad value is
 * refused with its key path before any resource exists.
 */
/** An upstream connection's longest life when the caller names none: pools re-spread over a Service's pods. */
export const DEFAULT_UPSTREAM_KEEPALIVE_TIME_SECONDS = 60;

export const GATEWAY_LIMITS = {
    /** client_max_body_size in bytes; 0 (no limit) is refused. */
    clientMaxBodyBytes: { min: 1, max: 2 ** 30 },
    loginRateLimitPerMinute: { min: 1, max: 60_000 },
    loginBurst: { min: 0, max: 10_000 },
    keepaliveConnections: { min: 1, max: 1024 },
    /** NGINX documents that a connect timeout above 75 s has no effect on most systems. */
    proxyConnectTimeoutSeconds: { min: 1, max: 75 },
    proxyReadTimeoutSeconds: { min: 1, max: 3600 },
    proxySendTimeoutSeconds: { min: 1, max: 3600 },
    proxyNextUpstreamTimeoutSeconds: { min: 1, max: 3600 },
    upstreamKeepaliveTimeSeconds: { min: 1, max: 3600 },
    connectionsPerClient: { min: 1, max: 10_000 },
    largeBodySlots: { min: 1, max: 1024 },
    largeBodySlotsPerClient: { min: 1, max: 1024 },
    workerProcesses: { min: 1, max: 64 },
    workerConnections: { min: 1024, max: 65_536 },
} as const;

/** An NGINX size as it may be written in config: digits with an optional k/m/g suffix, or a number of bytes. */
export const NGINX_SIZE = /^[1-9][0-9]{0,12}[kKmMgG]?$/;

/** Bytes of an NGINX size (`512k`, `1m`, `1048576`), or NaN when it is not one. */
export function nginxSizeBytes(size: string | number): number {
    const text = String(size);
    if (!NGINX_SIZE.test(text)) return NaN;
    const unit = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[text.slice(-1).toLowerCase()] ?? 1;
    return (unit === 1 ? Number(text) : Number(text.slice(0, -1))) * unit;
}

/** Workers and connections for a container's limits: one worker per CPU, half the memory for connections. */
export function gatewaySizing(cpuCores: number, memoryBytes: number): { workerProcesses: number; workerConnections: number } {
    const workerProcesses = Math.max(1, Math.ceil(cpuCores));
    const perWorker = Math.floor(memoryBytes / 2 / CONNECTION_MEMORY_BYTES / workerProcesses);
    return { workerProcesses, workerConnections: Math.min(GATEWAY_LIMITS.workerConnections.max, perWorker) };
}

/** The /tmp an emptyDir must hold: every large-body slot full to client_max_body_size, plus headroom. */
export function gatewayTmpBytes(largeBodySlots: number, clientMaxBodyBytes: number): number {
    return largeBodySlots * clientMaxBodyBytes + TMP_HEADROOM_BYTES;
}

/** TLS on the public listener. */
export interface GatewayTlsInput {
    /** Absolute path of the PEM certificate chain (`tls.crt` of a kubernetes.io/tls Secret). */
    certificate: string;
    /** Absolute path of the PEM private key (`tls.key`). */
    certificateKey: string;
    /** Where plain HTTP redirects to; left out, the host the client asked for. */
    hostname?: string;
    /** The HTTPS port clients use (443 behind a LoadBalancer; the node port in dev), for the redirect. */
    httpsPort: number;
}

/** Everything the gateway's nginx.conf depends on; validated by {@link renderGatewayConfig}. */
export interface GatewayConfigInput {
    /** The three proxied services: `/auth` → auth, `/pyxis` → pyxis, `/requests` → requestManagement. */
    upstreams: { auth: GatewayUpstream; pyxis: GatewayUpstream; requestManagement: GatewayUpstream };
    /** Public HTTP port (8080 in the cluster). */
    listenPort: number;
    /** Public HTTPS port; used only with `tls`. Default 8443. */
    tlsPort?: number;
    /** Internal port, every route: the services' GATEWAY_URL. Default 8090. */
    internalPort?: number;
    /** Readiness probe port. Default 8091. */
    readyPort?: number;
    /** Liveness probe port. Default 8092. */
    livePort?: number;
    /** Pod-internal status port, bound to 127.0.0.1 only and never exposed. Default 8081. */
    statusPort?: number;
    /** Also listen on IPv6 (`[::]`). Default false: an IPv6 listen fails on IPv4-only pods. */
    listenIpv6?: boolean;
    /** Names the servers answer to, and the Host sent upstream when a client sends none (HTTP/1.0). */
    serverNames: { public: string; internal: string };
    /** Routes of the public listener. Default {@link DEFAULT_PUBLIC_ROUTES}. */
    publicRoutes?: readonly PublicRoute[];
    /** Terminate TLS on the public listener; left out, it serves plain HTTP. */
    tls?: GatewayTlsInput;
    /** NGINX worker processes; the caller derives it from the container CPU limit ({@link gatewaySizing}). */
    workerProcesses: number;
    /** Connections per worker, client and upstream sides together ({@link gatewaySizing}). */
    workerConnections: number;
    /** Idle keep-alive connections each worker keeps per upstream. */
    keepaliveConnections: number;
    /** Largest accepted request body as an NGINX size (`512k`, `1m`) or bytes; larger bodies get 413. */
    clientMaxBodySize: string | number;
    /** Requests in progress per client address on the public listener; more get 429. */
    connectionsPerClient: number;
    /** Requests with a body that may go to disk, in progress at once on the public listener; more get 429. */
    largeBodySlots: number;
    /** Of those, how many one client address may hold; more get 429. Default {@link DEFAULT_LARGE_BODY_SLOTS_PER_CLIENT}, at most largeBodySlots. */
    largeBodySlotsPerClient?: number;
    proxyConnectTimeoutSeconds: number;
    proxyReadTimeoutSeconds: number;
    proxySendTimeoutSeconds: number;
    /** Time budget for retrying a failed upstream attempt. Default: twice the connect timeout. */
    proxyNextUpstreamTimeoutSeconds?: number;
    /**
     * Longest life of a kept-alive upstream connection (`keepalive_time`): NGINX closes it between
     * requests once it is older. Below the services' drain, every connection to a stopping pod is
     * closed by NGINX before the pod is told to stop (a request never races the pod's close).
     * Default {@link DEFAULT_UPSTREAM_KEEPALIVE_TIME_SECONDS}.
     */
    upstreamKeepaliveTimeSeconds?: number;
    /** Sustained `/auth/login` rate per client address; excess gets 429. */
    loginRateLimitPerMinute: number;
    /** Requests above the rate accepted at once before 429 (0 allowed). */
    loginBurst: number;
    /** Writable directory for the pid file and temp paths (`/tmp` emptyDir in the cluster). */
    runtimeDir: string;
    /** Absolute path of the error log (`/dev/stderr` in the cluster). */
    errorLog: string;
    /** Absolute path of the access log (`/dev/stdout` in the cluster), or `off`. */
    accessLog: string;
    /** Send every request's listener, route, status and upstream time to this loopback UDP port (the log exporter); left out, no metrics stream. */
    metricsLogPort?: number;
}

const TEMPLATE_PATH = path.join(__dirname, "gateway.conf.mustache");
const PARTIALS_DIR = path.join(__dirname, "partials");

/** The JSON body of each status NGINX answers itself. */
const ERROR_MESSAGES: Record<number, string> = {
    400: "bad request",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    408: "request timeout",
    413: "request body too large",
    414: "request uri too long",
    429: "too many requests",
    431: "request headers too large",
    500: "internal error",
    501: "not implemented",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
    505: "http version not supported",
};
/** Errors NGINX raises, by the status it answers: 494 (header too large) as 431, 497 (HTTP on the HTTPS port) as 400. */
const SERVER_ERRORS: [raised: number, status: number][] = [
    [400, 400], [404, 404], [405, 405], [408, 408], [413, 413], [414, 414], [429, 429], [494, 431], [497, 400],
    [500, 500], [501, 501], [502, 502], [503, 503], [504, 504], [505, 505],
];
/** Intercepted in proxied locations: nginx's own errors there and every upstream 5xx; never a 4xx a service means. */
const PROXY_ERRORS = [408, 413, 429, 500, 501, 502, 503, 504, 505];

/**
 * Subjects of the bearer tokens minted for the services, never accepted on the public listener: ours
 * (`service-token`, request-management's token.json) and the two the auth image prints at every start.
 */
export const SERVICE_TOKEN_SUBJECTS = ["pyxis_service", "requests_service"] as const;

/**
 * The base64url texts a JWT payload contains wherever `text` sits in its JSON: one per alignment of the
 * text to base64's 3-byte groups, each only the characters that depend on `text` alone.
 */
export function base64urlNeedles(text: string): string[] {
    const bytes = Buffer.from(text, "utf8");
    return [0, 1, 2].map((lead) => {
        const encoded = Buffer.concat([Buffer.alloc(lead), bytes]).toString("base64url");
        const first = Math.ceil((8 * lead) / 6);
        const end = Math.floor((8 * (lead + bytes.length)) / 6);
        return encoded.slice(first, end);
    });
}

/** A regex for the Authorization header of a service token: its `"sub":"<service>"` (compact or with a space) in any alignment. */
export function serviceTokenPattern(): string {
    const needles = SERVICE_TOKEN_SUBJECTS.flatMap((sub) => [`"sub":"${sub}"`, `"sub": "${sub}"`].flatMap(base64urlNeedles));
    return `(${[...new Set(needles)].join("|")})`;
}

/** Client-sent headers the services never see (an empty proxy_set_header drops one). */
export const DROPPED_REQUEST_HEADERS = [
    "Proxy", // httpoxy
    "Forwarded", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server",
    "X-Forwarded-Scheme", "X-Forwarded-Ssl", "X-Original-URL", "X-Original-URI", "X-Original-Host", "X-Rewrite-URL",
    "X-Host", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
    "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "CF-Connecting-IP",
];
/** Upstream response headers clients never see (NGINX already hides Server and Date). */
export const HIDDEN_RESPONSE_HEADERS = [
    "X-Powered-By", "X-Runtime", "X-AspNet-Version", "X-AspNetMvc-Version",
    // Set by the gateway itself: the service's copy would duplicate them.
    "X-Request-ID", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security",
];

/** Mozilla's "intermediate" TLS cipher list (DHE left out: it needs a dhparam file). */
const TLS_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");
/** One refused (429) request in this many reaches the access log. */
const REFUSAL_LOG_SAMPLE_EVERY = 100;

// RFC 1123 hostname (also matches dotted IPv4 literals).
export const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
// Absolute path made of characters that cannot break out of an NGINX directive.
const SAFE_ABSOLUTE_PATH = /^\/[A-Za-z0-9._/-]*$/;

class GatewayConfigError extends Error {
    constructor(field: string, problem: string, value: unknown) {
        super(`invalid gateway config: ${field} ${problem} (got ${JSON.stringify(value)})`);
        this.name = "GatewayConfigError";
    }
}

function integer(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}-${max}`;
        throw new GatewayConfigError(field, `must be an integer ${range}`, value);
    }
    return value;
}

const limited = (field: keyof typeof GATEWAY_LIMITS, value: unknown) => integer(field, value, GATEWAY_LIMITS[field].min, GATEWAY_LIMITS[field].max);
const port = (field: string, value: unknown) => integer(field, value, 1, 65535);

function matching(field: string, value: unknown, pattern: RegExp, what: string): string {
    if (typeof value !== "string" || !pattern.test(value)) {
        throw new GatewayConfigError(field, `must be ${what}`, value);
    }
    return value;
}

function upstream(field: string, value: GatewayUpstream | undefined) {
    if (value === null || typeof value !== "object") {
        throw new GatewayConfigError(field, "must be an object { host, port }", value);
    }
    return {
        host: matching(`${field}.host`, value.host, HOSTNAME, "an RFC 1123 hostname or IPv4 address"),
        port: port(`${field}.port`, value.port),
    };
}

const safePath = (field: string, value: unknown) => matching(field, value, SAFE_ABSOLUTE_PATH, "an absolute path of [A-Za-z0-9._/-]");

function tlsView(tls: GatewayTlsInput | undefined) {
    if (tls === undefined) return false;
    if (tls === null || typeof tls !== "object") throw new GatewayConfigError("tls", "must be an object", tls);
    const hostname = tls.hostname === undefined ? undefined : matching("tls.hostname", tls.hostname, HOSTNAME, "an RFC 1123 hostname");
    const httpsPort = port("tls.httpsPort", tls.httpsPort);
    const portSuffix = httpsPort === 443 ? "" : `:${httpsPort}`;
    return {
        certificate: safePath("tls.certificate", tls.certificate),
        certificateKey: safePath("tls.certificateKey", tls.certificateKey),
        redirectAuthority: `${hostname ?? "$host"}${portSuffix}`,
        hostFromRequest: hostname === undefined,
        tlsCiphers: TLS_CIPHERS,
    };
}

function routesView(routes: readonly PublicRoute[] | undefined) {
    const list = routes ?? DEFAULT_PUBLIC_ROUTES;
    if (!Array.isArray(list) || list.some((r) => !PUBLIC_ROUTES.includes(r)) || new Set(list).size !== list.length) {
        throw new GatewayConfigError("publicRoutes", `must list distinct routes of ${PUBLIC_ROUTES.join(", ")}`, routes);
    }
    const has = (r: PublicRoute) => list.includes(r);
    return {
        login: has("/auth/login"),
        register: has("/auth/register"),
        users: has("/auth/users/"),
        pyxis: has("/pyxis/"),
        requests: has("/requests/"),
        health: has("/healthz"),
    };
}

/** Checks every field and returns the Mustache view; throws a GatewayConfigError naming the field. */
function toView(input: GatewayConfigInput) {
    if (input === null || typeof input !== "object" || input.upstreams == null || input.serverNames == null) {
        throw new GatewayConfigError("input", "must be an object with upstreams and serverNames", input);
    }
    const tls = tlsView(input.tls);
    const ports = {
        listenPort: port("listenPort", input.listenPort),
        tlsPort: port("tlsPort", input.tlsPort ?? GATEWAY_PORTS.https),
        internalPort: port("internalPort", input.internalPort ?? GATEWAY_PORTS.internal),
        readyPort: port("readyPort", input.readyPort ?? GATEWAY_PORTS.ready),
        livePort: port("livePort", input.livePort ?? GATEWAY_PORTS.live),
        statusPort: port("statusPort", input.statusPort ?? GATEWAY_DEFAULT_STATUS_PORT),
    };
    const used = Object.entries(ports).filter(([name]) => tls || name !== "tlsPort");
    used.forEach(([name, value], i) => {
        const earlier = used.slice(0, i).find(([, v]) => v === value);
        if (earlier) throw new GatewayConfigError(name, `must differ from ${earlier[0]} ${earlier[1]}`, value);
    });
    const workerConnections = limited("workerConnections", input.workerConnections);
    const keepaliveConnections = limited("keepaliveConnections", input.keepaliveConnections);
    // Idle pooled connections count against worker_connections; three full pools must leave room for clients.
    if (3 * keepaliveConnections >= workerConnections) {
        throw new GatewayConfigError(
            "keepaliveConnections",
            `times 3 upstreams must stay below workerConnections ${workerConnections}`,
            keepaliveConnections,
        );
    }
    const bodyBytes = nginxSizeBytes(input.clientMaxBodySize);
    const { min: minBody, max: maxBody } = GATEWAY_LIMITS.clientMaxBodyBytes;
    if (!(bodyBytes >= minBody && bodyBytes <= maxBody)) {
        throw new GatewayConfigError("clientMaxBodySize", `must be an NGINX size like 512k or 1m (or bytes), from 1 byte to 1g`, input.clientMaxBodySize);
    }
    const proxyConnectTimeoutSeconds = limited("proxyConnectTimeoutSeconds", input.proxyConnectTimeoutSeconds);
    const largeBodySlots = limited("largeBodySlots", input.largeBodySlots);
    const largeBodySlotsPerClient = limited("largeBodySlotsPerClient", input.largeBodySlotsPerClient ?? Math.min(DEFAULT_LARGE_BODY_SLOTS_PER_CLIENT, largeBodySlots));
    if (largeBodySlotsPerClient > largeBodySlots) {
        throw new GatewayConfigError("largeBodySlotsPerClient", `must not exceed largeBodySlots ${largeBodySlots}`, largeBodySlotsPerClient);
    }
    if (input.listenIpv6 !== undefined && typeof input.listenIpv6 !== "boolean") {
        throw new GatewayConfigError("listenIpv6", "must be a boolean", input.listenIpv6);
    }
    return {
        upstreams: [
            { name: "auth", ...upstream("upstreams.auth", input.upstreams.auth) },
            { name: "pyxis", ...upstream("upstreams.pyxis", input.upstreams.pyxis) },
            { name: "request_management", ...upstream("upstreams.requestManagement", input.upstreams.requestManagement) },
        ],
        ...ports,
        listenIpv6: input.listenIpv6 ?? false,
        publicServerName: matching("serverNames.public", input.serverNames.public, HOSTNAME, "an RFC 1123 hostname"),
        internalServerName: matching("serverNames.internal", input.serverNames.internal, HOSTNAME, "an RFC 1123 hostname"),
        routes: routesView(input.publicRoutes),
        tls,
        workerProcesses: limited("workerProcesses", input.workerProcesses),
        workerConnections,
        workerRlimitNofile: 2 * workerConnections,
        keepaliveConnections,
        clientMaxBodySize: String(input.clientMaxBodySize),
        bodyBufferSize: `${BODY_BUFFER_BYTES / 1024}k`,
        connectionsPerClient: limited("connectionsPerClient", input.connectionsPerClient),
        largeBodySlots,
        largeBodySlotsPerClient,
        proxyConnectTimeoutSeconds,
        proxyReadTimeoutSeconds: limited("proxyReadTimeoutSeconds", input.proxyReadTimeoutSeconds),
        proxySendTimeoutSeconds: limited("proxySendTimeoutSeconds", input.proxySendTimeoutSeconds),
        proxyNextUpstreamTimeoutSeconds: limited(
            "proxyNextUpstreamTimeoutSeconds",
            input.proxyNextUpstreamTimeoutSeconds ?? 2 * proxyConnectTimeoutSeconds,
        ),
        upstreamKeepaliveTimeSeconds: limited("upstreamKeepaliveTimeSeconds", input.upstreamKeepaliveTimeSeconds ?? DEFAULT_UPSTREAM_KEEPALIVE_TIME_SECONDS),
        loginRateLimitPerMinute: limited("loginRateLimitPerMinute", input.loginRateLimitPerMinute),
        loginBurst: limited("loginBurst", input.loginBurst),
        runtimeDir: safePath("runtimeDir", input.runtimeDir).replace(/(.)\/+$/, "$1"),
        errorLog: safePath("errorLog", input.errorLog),
        accessLogEnabled: input.accessLog !== "off",
        accessLog: input.accessLog === "off"
            ? "off"
            : matching("accessLog", input.accessLog, SAFE_ABSOLUTE_PATH, "`off` or an absolute path of [A-Za-z0-9._/-]"),
        metricsLog: input.metricsLogPort === undefined ? false : { port: port("metricsLogPort", input.metricsLogPort) },
        refusalLogSampleEvery: REFUSAL_LOG_SAMPLE_EVERY,
        refusalLogSamplePercent: 100 / REFUSAL_LOG_SAMPLE_EVERY,
        droppedRequestHeaders: DROPPED_REQUEST_HEADERS,
        hiddenResponseHeaders: HIDDEN_RESPONSE_HEADERS,
        jsonErrors: SERVER_ERRORS.map(([code, status]) => ({ code, status })),
        errorStatuses: [...new Set(SERVER_ERRORS.map(([, status]) => status))].map((status) => ({ status, message: ERROR_MESSAGES[status] })),
        proxyErrors: PROXY_ERRORS.map((code) => ({ code, status: code })),
        serviceTokenPattern: serviceTokenPattern(),
        forbiddenBody: JSON.stringify({ error: ERROR_MESSAGES[403] }),
    };
}

type Tokens = [string, string, number, number, unknown[]?][];

/** Every variable and section the templates use must exist in the view: Mustache would render a typo as "". */
function assertViewCovers(tokens: Tokens, view: Record<string, unknown>, partials: Record<string, string>, scope: Record<string, unknown>[] = []) {
    for (const [type, name, , , children] of tokens) {
        if (type === ">") {
            if (!(name in partials)) throw new Error(`gateway template includes {{> ${name}}}, which nginx/partials/ does not have`);
            assertViewCovers(Mustache.parse(partials[name]) as Tokens, view, partials, scope);
            continue;
        }
        if (!["name", "&", "#", "^"].includes(type) || name === ".") continue;
        const [head, ...rest] = name.split(".");
        const owner = [...scope, view].find((ctx) => head in ctx);
        if (!owner) throw new Error(`gateway template uses {{${name}}}, which the renderer does not provide`);
        let value: unknown = owner[head];
        for (const key of rest) {
            if (!value || typeof value !== "object" || !(key in value)) throw new Error(`gateway template uses {{${name}}}, which the renderer does not provide`);
            value = (value as Record<string, unknown>)[key];
        }
        // A section that is off in this view renders nothing: its content is checked by the views that turn it on.
        if (children && (type === "^" || value)) {
            const item = type === "#" ? (Array.isArray(value) ? value[0] : value) : undefined;
            const inner = item && typeof item === "object" ? [item as Record<string, unknown>, ...scope] : scope;
            assertViewCovers(children as Tokens, view, partials, inner);
        }
    }
}

function readPartials(): Record<string, string> {
    return Object.fromEntries(
        fs.readdirSync(PARTIALS_DIR)
            .filter((f) => f.endsWith(".mustache"))
            .map((f) => [path.basename(f, ".mustache"), fs.readFileSync(path.join(PARTIALS_DIR, f), "utf8")]),
    );
}

/** Renders the gateway's complete nginx.conf (main context, events, http) from nginx/gateway.conf.mustache. */
export function renderGatewayConfig(input: GatewayConfigInput): string {
    const view = toView(input);
    const template = fs.readFileSync(TEMPLATE_PATH, "utf8");
    const partials = readPartials();
    assertViewCovers(Mustache.parse(template) as Tokens, view, partials);
    // NGINX syntax, not HTML: no escaping (every string in the view is validated above).
    return Mustache.render(template, view, partials, { escape: (value: string) => value });
}

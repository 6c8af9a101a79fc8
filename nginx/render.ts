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

/** Everything the gateway's nginx.conf depends on; validated by {@link renderGatewayConfig}. */
export interface GatewayConfigInput {
    /** The three proxied services: `/auth` → auth, `/pyxis` → pyxis, `/requests` → requestManagement. */
    upstreams: { auth: GatewayUpstream; pyxis: GatewayUpstream; requestManagement: GatewayUpstream };
    /** Public HTTP port (8080 in the cluster; must be unprivileged-friendly). */
    listenPort: number;
    /** Pod-internal status port, bound to 127.0.0.1 only and never exposed. Default 8081. */
    statusPort?: number;
    /** Also listen on `[::]:listenPort`. Default false: an IPv6 listen fails on IPv4-only pods. */
    listenIpv6?: boolean;
    /** NGINX worker processes; the caller derives it from the container CPU limit. */
    workerProcesses: number;
    /** Connections per worker, client and upstream sides together. */
    workerConnections: number;
    /** Idle keep-alive connections each worker keeps per upstream. */
    keepaliveConnections: number;
    /** Largest accepted request body as an NGINX size (`512k`, `1m`); larger bodies get 413. */
    clientMaxBodySize: string;
    proxyConnectTimeoutSeconds: number;
    proxyReadTimeoutSeconds: number;
    proxySendTimeoutSeconds: number;
    /** Time budget for retrying a failed upstream attempt. Default: twice the connect timeout. */
    proxyNextUpstreamTimeoutSeconds?: number;
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
}

/** Path NGINX answers itself with 200; meant for the readiness/liveness probes. */
export const GATEWAY_HEALTH_PATH = "/healthz";
/** Default pod-internal port of the `stub_status` page (127.0.0.1 only). */
export const GATEWAY_DEFAULT_STATUS_PORT = 8081;

const TEMPLATE_PATH = path.join(__dirname, "gateway.conf.mustache");

/** Errors NGINX itself generates, answered as small JSON bodies like the 404. */
const JSON_ERRORS = [
    { code: 413, message: "request body too large" },
    { code: 429, message: "too many requests" },
    { code: 500, message: "internal error" },
    { code: 502, message: "bad gateway" },
    { code: 503, message: "service unavailable" },
    { code: 504, message: "gateway timeout" },
];

// RFC 1123 hostname (also matches dotted IPv4 literals).
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const NGINX_SIZE = /^[1-9][0-9]*[kKmMgG]?$/;
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

/** Checks every field and returns the Mustache view; throws a GatewayConfigError naming the field. */
function toView(input: GatewayConfigInput) {
    if (input === null || typeof input !== "object" || input.upstreams == null) {
        throw new GatewayConfigError("input", "must be an object with upstreams", input);
    }
    const listenPort = port("listenPort", input.listenPort);
    const statusPort = port("statusPort", input.statusPort ?? GATEWAY_DEFAULT_STATUS_PORT);
    if (statusPort === listenPort) {
        throw new GatewayConfigError("statusPort", `must differ from listenPort ${listenPort}`, statusPort);
    }
    const workerConnections = integer("workerConnections", input.workerConnections, 1);
    const keepaliveConnections = integer("keepaliveConnections", input.keepaliveConnections, 1);
    // Idle pooled connections count against worker_connections; three full pools must leave room for clients.
    if (3 * keepaliveConnections >= workerConnections) {
        throw new GatewayConfigError(
            "keepaliveConnections",
            `times 3 upstreams must stay below workerConnections ${workerConnections}`,
            keepaliveConnections,
        );
    }
    const proxyConnectTimeoutSeconds = integer("proxyConnectTimeoutSeconds", input.proxyConnectTimeoutSeconds, 1);
    if (input.listenIpv6 !== undefined && typeof input.listenIpv6 !== "boolean") {
        throw new GatewayConfigError("listenIpv6", "must be a boolean", input.listenIpv6);
    }
    return {
        upstreams: [
            { name: "auth", ...upstream("upstreams.auth", input.upstreams.auth) },
            { name: "pyxis", ...upstream("upstreams.pyxis", input.upstreams.pyxis) },
            { name: "request_management", ...upstream("upstreams.requestManagement", input.upstreams.requestManagement) },
        ],
        listenPort,
        statusPort,
        listenIpv6: input.listenIpv6 ?? false,
        workerProcesses: integer("workerProcesses", input.workerProcesses, 1, 1024),
        workerConnections,
        keepaliveConnections,
        clientMaxBodySize: matching("clientMaxBodySize", input.clientMaxBodySize, NGINX_SIZE, "a positive NGINX size like 512k or 1m"),
        proxyConnectTimeoutSeconds,
        proxyReadTimeoutSeconds: integer("proxyReadTimeoutSeconds", input.proxyReadTimeoutSeconds, 1),
        proxySendTimeoutSeconds: integer("proxySendTimeoutSeconds", input.proxySendTimeoutSeconds, 1),
        proxyNextUpstreamTimeoutSeconds: integer(
            "proxyNextUpstreamTimeoutSeconds",
            input.proxyNextUpstreamTimeoutSeconds ?? 2 * proxyConnectTimeoutSeconds,
            1,
        ),
        loginRateLimitPerMinute: integer("loginRateLimitPerMinute", input.loginRateLimitPerMinute, 1),
        loginBurst: integer("loginBurst", input.loginBurst, 0),
        runtimeDir: matching("runtimeDir", input.runtimeDir, SAFE_ABSOLUTE_PATH, "an absolute path of [A-Za-z0-9._/-]").replace(/(.)\/+$/, "$1"),
        errorLog: matching("errorLog", input.errorLog, SAFE_ABSOLUTE_PATH, "an absolute path of [A-Za-z0-9._/-]"),
        accessLogEnabled: input.accessLog !== "off",
        accessLog: input.accessLog === "off"
            ? "off"
            : matching("accessLog", input.accessLog, SAFE_ABSOLUTE_PATH, "`off` or an absolute path of [A-Za-z0-9._/-]"),
        jsonErrors: JSON_ERRORS,
    };
}

/** Every variable and section the template uses must exist in the view: Mustache would render a typo as "". */
function assertViewCovers(tokens: unknown[], view: Record<string, unknown>, scope: Record<string, unknown>[] = []) {
    for (const token of tokens as [string, string, number, number, unknown[]?][]) {
        const [type, name, , , children] = token;
        if (!["name", "&", "#", "^"].includes(type)) continue;
        const owner = [...scope, view].find((ctx) => name in ctx);
        if (!owner) throw new Error(`gateway template uses {{${name}}}, which the renderer does not provide`);
        if (children) {
            const value = owner[name];
            const item = Array.isArray(value) ? value[0] : value;
            const inner = item && typeof item === "object" ? [item as Record<string, unknown>, ...scope] : scope;
            assertViewCovers(children, view, inner);
        }
    }
}

/** Renders the gateway's complete nginx.conf (main context, events, http) from nginx/gateway.conf.mustache. */
export function renderGatewayConfig(input: GatewayConfigInput): string {
    const view = toView(input);
    const template = fs.readFileSync(TEMPLATE_PATH, "utf8");
    assertViewCovers(Mustache.parse(template), view);
    // NGINX syntax, not HTML: no escaping (every string in the view is validated above).
    return Mustache.render(template, view, {}, { escape: (value: string) => value });
}

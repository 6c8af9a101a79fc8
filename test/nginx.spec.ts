// The gateway config (nginx/render.ts + nginx/gateway.conf.mustache) checked statically and
// against a real nginx with stub upstreams. nginx must be installed: these tests never skip.
import * as assert from "assert";
import * as dgram from "dgram";
import * as fs from "fs";
import * as path from "path";
import {
    GATEWAY_LIMITS,
    GatewayConfigInput,
    PUBLIC_ROUTES,
    gatewaySizing,
    gatewayTmpBytes,
    nginxSizeBytes,
    renderGatewayConfig,
    serviceTokenPattern,
} from "../nginx/render";
import {
    HttpResult,
    NGINX_UNPRIVILEGED_UID,
    RunningGateway,
    StubEcho,
    StubUpstream,
    findNginx,
    httpRequest,
    makeTestCertificate,
    nginxTest,
    parseNginxConfig,
    startGateway,
    startStubUpstream,
    walkNginxConfig,
} from "./support/nginx";

const clusterInput: GatewayConfigInput = {
    upstreams: {
        auth: { host: "auth.asky.svc.cluster.local", port: 8003 },
        pyxis: { host: "pyxis.asky.svc.cluster.local", port: 8001 },
        requestManagement: { host: "request-management.asky.svc.cluster.local", port: 8002 },
    },
    listenPort: 8080,
    serverNames: { public: "gateway.asky.svc.cluster.local", internal: "gateway-internal.asky.svc.cluster.local" },
    workerProcesses: 2,
    workerConnections: 4096,
    keepaliveConnections: 32,
    clientMaxBodySize: "1m",
    connectionsPerClient: 32,
    largeBodySlots: 32,
    proxyConnectTimeoutSeconds: 5,
    proxyReadTimeoutSeconds: 60,
    proxySendTimeoutSeconds: 60,
    loginRateLimitPerMinute: 30,
    loginBurst: 10,
    runtimeDir: "/tmp",
    errorLog: "/dev/stderr",
    accessLog: "/dev/stdout",
};

/** TLS as components/gateway.ts renders it: the Secret mounted at /etc/nginx/tls, behind a LoadBalancer on 443. */
const clusterTls = { certificate: "/etc/nginx/tls/tls.crt", certificateKey: "/etc/nginx/tls/tls.key", hostname: "asky.example.org", httpsPort: 443 };

const SECURITY_HEADERS: Record<string, string> = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
};

function assertSecurityHeaders(res: HttpResult, what: string) {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        assert.strictEqual(res.headers[name], value, `${what}: ${name}`);
    }
    assert.strictEqual(res.headers.server, "nginx", `${what}: Server must carry no version`);
}

function assertJsonError(res: HttpResult, status: number) {
    assert.strictEqual(res.status, status, res.body);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    assert.ok(typeof JSON.parse(res.body).error === "string", res.body);
}

const echoOf = (res: HttpResult): StubEcho => JSON.parse(res.body) as StubEcho;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("nginx gateway config: rendering (nginx/render.ts)", () => {
    // Rendered before each test rather than once: mutation testing (npm run test:mutation) then ties
    // the renderer's code to the tests that check it instead of to loading this file.
    let conf: string;
    let entries: ReturnType<typeof walkNginxConfig>;
    beforeEach(() => {
        conf = renderGatewayConfig(clusterInput);
        entries = walkNginxConfig(parseNginxConfig(conf));
    });
    const named = (name: string) => entries.filter((e) => e.directive.name === name);

    it("renders a complete nginx.conf: main context, events, http", () => {
        const top = parseNginxConfig(conf).map((d) => d.name);
        for (const name of ["worker_processes", "worker_rlimit_nofile", "pid", "error_log", "events", "http"]) assert.ok(top.includes(name), name);
        assert.deepStrictEqual(named("worker_processes")[0].directive.args, ["2"]);
        assert.deepStrictEqual(named("worker_connections")[0].directive.args, ["4096"]);
        assert.deepStrictEqual(named("worker_rlimit_nofile")[0].directive.args, ["8192"], "a descriptor for both sides of every connection");
        assert.deepStrictEqual(named("pcre_jit").map((e) => [e.parents.length, ...e.directive.args]), [[0, "on"]], "regexes compiled once, in the main context");
        assert.doesNotMatch(conf, /\{\{|\}\}/, "no Mustache tag left over");
        assert.doesNotMatch(conf, /&[a-z#0-9]+;/, "no HTML escaping");
    });

    it("GW-1 the internal server proxies the three prefixes with no URI part; the public one only its allow-list", () => {
        const routes = (listen: string) => named("proxy_pass")
            .filter((e) => e.parents.find((p) => p.name === "server")!.children!.some((c) => c.name === "listen" && c.args[0] === listen))
            .map((e) => `${e.parents.at(-1)!.args.join(" ")} -> ${e.directive.args[0]}`)
            .sort();
        assert.deepStrictEqual(routes("8090"), [
            "/auth/ -> http://auth",
            "/pyxis/ -> http://pyxis",
            "/requests/ -> http://request_management",
            "= /auth -> http://auth",
            "= /pyxis -> http://pyxis",
            "= /requests -> http://request_management",
        ]);
        // The mobile app's routes; login with its canonical path whatever the client spelled.
        assert.deepStrictEqual(routes("8080"), [
            "/pyxis/ -> http://pyxis",
            "/requests/ -> http://request_management",
            "= /auth/login -> http://auth/auth/login",
            "= /pyxis -> http://pyxis",
            "= /requests -> http://request_management",
        ]);
        const optIn = walkNginxConfig(parseNginxConfig(renderGatewayConfig({ ...clusterInput, publicRoutes: ["/auth/register", "/auth/users/"] })));
        const publicOptIn = optIn.filter((e) => e.directive.name === "proxy_pass" && e.parents.find((p) => p.name === "server")!.children!.some((c) => c.name === "listen" && c.args[0] === "8080"));
        assert.deepStrictEqual(publicOptIn.map((e) => e.parents.at(-1)!.args.join(" ")).sort(), ["/auth/users/", "= /auth/register"]);
        const upstreams = named("upstream").map((e) => [e.directive.args[0], e.directive.children!.find((c) => c.name === "server")!.args[0]]);
        assert.deepStrictEqual(upstreams, [
            ["auth", "auth.asky.svc.cluster.local:8003"],
            ["pyxis", "pyxis.asky.svc.cluster.local:8001"],
            ["request_management", "request-management.asky.svc.cluster.local:8002"],
        ]);
    });

    it("GW-2/GW-5 proxy_set_header, proxy_hide_header and add_header are declared only at http level (no location drops them)", () => {
        for (const tls of [false, true]) {
            const all = walkNginxConfig(parseNginxConfig(tls ? renderGatewayConfig({ ...clusterInput, tls: clusterTls }) : conf));
            for (const d of ["proxy_set_header", "proxy_hide_header", "add_header"]) {
                assert.deepStrictEqual([...new Set(all.filter((e) => e.directive.name === d).map((e) => e.parents.map((p) => p.name).join("/")))], ["http"], `${d}, tls ${tls}`);
            }
        }
        const headers = named("proxy_set_header").map((e) => e.directive.args[0]);
        for (const h of ["Host", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID", "Proxy", "Connection"]) {
            assert.ok(headers.includes(h), h);
        }
        for (const h of ["Forwarded", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Original-URL"]) {
            assert.deepStrictEqual(named("proxy_set_header").find((e) => e.directive.args[0] === h)?.directive.args, [h, ""], `${h} is dropped`);
        }
        assert.ok(named("proxy_hide_header").some((e) => e.directive.args[0] === "X-Powered-By"));
        for (const e of named("add_header")) assert.strictEqual(e.directive.args.at(-1), "always", e.directive.args.join(" "));
    });

    it("GW-3 every upstream has keepalive; HTTP/1.1 with an empty Connection header", () => {
        for (const e of named("upstream")) {
            assert.deepStrictEqual(e.directive.children!.find((c) => c.name === "keepalive")?.args, ["32"], e.directive.args[0]);
        }
        assert.deepStrictEqual(named("proxy_http_version")[0].directive.args, ["1.1"]);
        assert.ok(named("proxy_set_header").some((e) => e.directive.args[0] === "Connection" && e.directive.args[1] === ""));
    });

    it("GW-4 explicit timeouts, body limit and a bounded proxy_next_upstream", () => {
        const arg = (name: string) => named(name)[0]?.directive.args.join(" ");
        assert.strictEqual(arg("proxy_connect_timeout"), "5s");
        assert.strictEqual(arg("proxy_read_timeout"), "60s");
        assert.strictEqual(arg("proxy_send_timeout"), "60s");
        assert.strictEqual(arg("client_max_body_size"), "1m");
        assert.strictEqual(arg("proxy_next_upstream"), "error timeout");
        assert.strictEqual(arg("proxy_next_upstream_tries"), "2");
        assert.strictEqual(arg("proxy_next_upstream_timeout"), "10s");
    });

    it("GW-5 server_tokens off; GW-6 limit_req only in location = /auth/login (and register when public) with status 429, logged below error", () => {
        assert.deepStrictEqual(named("server_tokens")[0].directive.args, ["off"]);
        assert.deepStrictEqual(named("limit_req").map((e) => e.parents.at(-1)!.args.join(" ")), ["= /auth/login"]);
        assert.deepStrictEqual(named("limit_req_status")[0].directive.args, ["429"]);
        assert.deepStrictEqual(named("limit_conn_status")[0].directive.args, ["429"]);
        assert.deepStrictEqual(named("limit_req_log_level")[0].directive.args, ["info"]);
        assert.deepStrictEqual(named("limit_conn_log_level")[0].directive.args, ["info"]);
        assert.deepStrictEqual(named("error_log")[0].directive.args.at(-1), "warn", "info lines are not written");
        assert.match(named("limit_req_zone")[0].directive.args.join(" "), /rate=30r\/m/);
        const optIn = walkNginxConfig(parseNginxConfig(renderGatewayConfig({ ...clusterInput, publicRoutes: ["/auth/login", "/auth/register"] })));
        assert.deepStrictEqual(optIn.filter((e) => e.directive.name === "limit_req").map((e) => e.parents.at(-1)!.args.join(" ")), ["= /auth/login", "= /auth/register"]);
    });

    it("limit_conn per client address and for large bodies only on the public server(s)", () => {
        for (const tls of [false, true]) {
            const all = walkNginxConfig(parseNginxConfig(tls ? renderGatewayConfig({ ...clusterInput, tls: clusterTls }) : conf));
            const servers = all.filter((e) => e.directive.name === "limit_conn").map((e) => {
                const server = e.parents.find((p) => p.name === "server")!;
                return `${server.children!.filter((c) => c.name === "listen").map((c) => c.args.join(" ")).join(",")}: ${e.directive.args.join(" ")}`;
            });
            assert.deepStrictEqual(servers.sort(), tls
                ? ["8080 default_server: asky_per_client 32", "8443 ssl default_server: asky_large_bodies 32", "8443 ssl default_server: asky_large_bodies_per_client 4", "8443 ssl default_server: asky_per_client 32"]
                : ["8080 default_server: asky_large_bodies 32", "8080 default_server: asky_large_bodies_per_client 4", "8080 default_server: asky_per_client 32"]);
        }
        assert.deepStrictEqual(named("client_body_buffer_size")[0].directive.args, ["16k"]);
        assert.deepStrictEqual(named("proxy_max_temp_file_size")[0].directive.args, ["0"], "responses never go to disk");
    });

    it("TLS: 1.2 and 1.3 only, Mozilla intermediate ciphers, no session tickets, HSTS only over HTTPS, HTTP redirects", () => {
        const tlsConf = walkNginxConfig(parseNginxConfig(renderGatewayConfig({ ...clusterInput, tls: clusterTls })));
        const arg = (name: string) => tlsConf.find((e) => e.directive.name === name)?.directive.args.join(" ");
        assert.strictEqual(arg("ssl_protocols"), "TLSv1.2 TLSv1.3");
        assert.doesNotMatch(arg("ssl_ciphers")!, /CBC|RC4|3DES|SHA1\b|NULL|EXPORT/);
        assert.strictEqual(arg("ssl_session_tickets"), "off");
        assert.match(arg("ssl_certificate")!, /^\/etc\/nginx\/tls\/tls\.crt\$asky_reload_certificate$/, "read at each handshake");
        const hsts = tlsConf.find((e) => e.directive.name === "map" && e.directive.args[0] === "$https")!;
        assert.deepStrictEqual(hsts.directive.children!.map((c) => [c.name, ...c.args]), [["on", "max-age=63072000"], ["default", ""]]);
        assert.ok(tlsConf.some((e) => e.directive.name === "return" && e.directive.args.join(" ") === "301 https://asky.example.org$request_uri"));
        assert.ok(tlsConf.some((e) => e.directive.name === "return" && e.directive.args.join(" ") === "308 https://asky.example.org$request_uri"));
        assert.doesNotMatch(conf, /ssl_|\b8443\b/, "no TLS without tls");
    });

    it("GW-7 stub_status lives only in a server listening on 127.0.0.1", () => {
        const status = named("stub_status");
        assert.strictEqual(status.length, 1);
        const server = status[0].parents.find((p) => p.name === "server")!;
        const listens = server.children!.filter((c) => c.name === "listen").map((c) => c.args[0]);
        assert.deepStrictEqual(listens, ["127.0.0.1:8081"]);
        const access = server.children!.filter((c) => c.name === "allow" || c.name === "deny").map((c) => `${c.name} ${c.args[0]}`);
        assert.deepStrictEqual(access, ["allow 127.0.0.1", "deny all"]);
    });

    it("GW-8 unprivileged: no user directive, pid and every temp path under runtimeDir, listen 8080 (IPv4 only by default)", () => {
        assert.strictEqual(named("user").length, 0);
        assert.deepStrictEqual(named("pid")[0].directive.args, ["/tmp/nginx.pid"]);
        for (const t of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
            assert.match(named(`${t}_temp_path`)[0]?.directive.args[0] ?? "", /^\/tmp\/[a-z_]+$/, t);
        }
        const gatewayListens = named("listen").map((e) => e.directive.args[0]).filter((a) => !a.startsWith("127.0.0.1:"));
        assert.deepStrictEqual(gatewayListens, ["8080", "8090", "8091", "8092"], "public, internal, readiness, liveness");
        const v6 = renderGatewayConfig({ ...clusterInput, listenIpv6: true });
        assert.match(v6, /listen \[::\]:8080 default_server;/);
        assert.match(v6, /listen \[::\]:8090;/);
    });

    it("access log format carries request id, upstream address and timings, status", () => {
        const format = named("log_format")[0].directive.args.join("");
        for (const v of ["$request_id", "$asky_request_id", "$upstream_addr", "$upstream_response_time", "$request_time", "$status"]) {
            assert.ok(format.includes(v), v);
        }
        assert.deepStrictEqual(named("access_log").find((e) => e.parents.length === 1)?.directive.args, [
            "/dev/stdout",
            "asky_gateway",
            "buffer=4k",
            "flush=1s",
            "if=$asky_log",
        ]);
        const httpLogs = (input: Partial<GatewayConfigInput>) => walkNginxConfig(parseNginxConfig(renderGatewayConfig({ ...clusterInput, ...input })))
            .filter((e) => e.directive.name === "access_log" && e.parents.length === 1).map((e) => e.directive.args);
        assert.deepStrictEqual(httpLogs({ accessLog: "off" }), [["off"]]);
        // `access_log off` would silence the metrics stream beside it (every access_log of its level).
        assert.deepStrictEqual(httpLogs({ accessLog: "off", metricsLogPort: 9514 }), [["syslog:server=127.0.0.1:9514,tag=asky_gateway,nohostname", "asky_metrics"]]);
    });

    describe("values derived from the input", () => {
        const render = (override: Partial<GatewayConfigInput>) => walkNginxConfig(parseNginxConfig(renderGatewayConfig({ ...clusterInput, ...override })));
        const args = (all: ReturnType<typeof walkNginxConfig>, name: string) => all.filter((e) => e.directive.name === name).map((e) => e.directive.args.join(" "));

        it("reads NGINX sizes as NGINX does: k, m, g (either case) or bytes; anything else is not a size", () => {
            assert.strictEqual(nginxSizeBytes("512k"), 512 * 1024);
            assert.strictEqual(nginxSizeBytes("1m"), 2 ** 20);
            assert.strictEqual(nginxSizeBytes("2M"), 2 * 2 ** 20);
            assert.strictEqual(nginxSizeBytes("1g"), 2 ** 30);
            assert.strictEqual(nginxSizeBytes("3K"), 3 * 1024);
            assert.strictEqual(nginxSizeBytes("1048576"), 1048576);
            assert.strictEqual(nginxSizeBytes(4096), 4096);
            for (const bad of ["0", "1 m", "1mb", "k", "", "-1k", "1.5m"]) assert.ok(Number.isNaN(nginxSizeBytes(bad)), bad);
        });

        it("sizes workers from the container limits: one per started core, half the memory for 16 KiB connections, at most 65536", () => {
            assert.deepStrictEqual(gatewaySizing(0.5, 512 * 2 ** 20), { workerProcesses: 1, workerConnections: 16384 });
            assert.deepStrictEqual(gatewaySizing(0, 64 * 2 ** 20), { workerProcesses: 1, workerConnections: 2048 });
            assert.deepStrictEqual(gatewaySizing(2.1, 4 * 2 ** 30), { workerProcesses: 3, workerConnections: 43690 });
            assert.deepStrictEqual(gatewaySizing(1, 64 * 2 ** 30), { workerProcesses: 1, workerConnections: 65536 });
            assert.strictEqual(gatewayTmpBytes(4, 2 ** 20), 4 * 2 ** 20 + 16 * 2 ** 20);
        });

        it("redirects plain HTTP to the configured host, or the client's, with the port unless it is 443", () => {
            assert.ok(args(render({ tls: clusterTls }), "return").includes("301 https://asky.example.org$request_uri"));
            const nodePort = render({ tls: { ...clusterTls, hostname: undefined, httpsPort: 30443 } });
            assert.ok(args(nodePort, "return").includes("301 https://$host:30443$request_uri"));
            assert.ok(args(nodePort, "return").includes("308 https://$host:30443$request_uri"));
            assert.ok(args(nodePort, "return").includes("400"), "no Host, no redirect");
            assert.ok(!args(render({ tls: clusterTls }), "return").includes("400"));
        });

        it("defaults: large-body slots per client min(4, slots), retry budget twice the connect timeout; runtimeDir without its trailing slash", () => {
            const limits = (all: ReturnType<typeof walkNginxConfig>) => args(all, "limit_conn");
            assert.ok(limits(render({ largeBodySlots: 2 })).includes("asky_large_bodies_per_client 2"));
            assert.ok(limits(render({ largeBodySlots: 32 })).includes("asky_large_bodies_per_client 4"));
            assert.ok(limits(render({ largeBodySlots: 32, largeBodySlotsPerClient: 32 })).includes("asky_large_bodies_per_client 32"));
            assert.deepStrictEqual(args(render({ proxyConnectTimeoutSeconds: 7 }), "proxy_next_upstream_timeout"), ["14s"]);
            assert.deepStrictEqual(args(render({ proxyNextUpstreamTimeoutSeconds: 9 }), "proxy_next_upstream_timeout"), ["9s"]);
            assert.deepStrictEqual(args(render({ runtimeDir: "/var/run/nginx//" }), "pid"), ["/var/run/nginx/nginx.pid"]);
            assert.deepStrictEqual(args(render({ runtimeDir: "/" }), "pid"), ["//nginx.pid"]);
            assert.deepStrictEqual(args(render({}), "client_body_buffer_size"), ["16k"]);
            assert.deepStrictEqual(args(render({ clientMaxBodySize: 2048 }), "client_max_body_size"), ["2048"]);
        });

        it("answers its own errors as JSON with the status's message, 494 as 431 and 497 as 400; proxied locations intercept only 408, 413, 429 and 5xx", () => {
            const all = render({});
            const pages = args(all, "error_page");
            for (const [raised, status] of [[400, 400], [404, 404], [494, 431], [497, 400], [505, 505]]) assert.ok(pages.includes(`${raised} =${status} /__asky_error_${status}`), `${raised}`);
            const returns = args(all, "return");
            const messages: Record<number, string> = { 400: "bad request", 403: "forbidden", 404: "not found", 405: "method not allowed", 408: "request timeout", 413: "request body too large", 414: "request uri too long", 429: "too many requests", 431: "request headers too large", 500: "internal error", 501: "not implemented", 502: "bad gateway", 503: "service unavailable", 504: "gateway timeout", 505: "http version not supported" };
            for (const [status, message] of Object.entries(messages)) {
                if (status === "403") continue;
                assert.ok(returns.includes(`${status} '{"error":"${message}"}'`) || returns.includes(`${status} {"error":"${message}"}`), `${status} ${message}`);
            }
            assert.ok(returns.some((r) => r.startsWith("403") && r.includes('{"error":"forbidden"}')), "service tokens get 403 forbidden");
            const proxied = all.filter((e) => e.directive.name === "error_page" && e.parents.at(-1)?.name === "location");
            assert.deepStrictEqual([...new Set(proxied.map((e) => e.directive.args.join(" ")))].sort(), ["408", "413", "429", "500", "501", "502", "503", "504", "505"].map((c) => `${c} /__asky_error_${c}`));
        });

        it("drops each spoofable client header, hides each upstream header, offers exactly Mozilla's intermediate ciphers, logs 1 refusal in 100", () => {
            const all = render({ tls: clusterTls });
            const dropped = all.filter((e) => e.directive.name === "proxy_set_header" && e.directive.args[1] === "").map((e) => e.directive.args[0]).filter((h) => h !== "Connection");
            assert.deepStrictEqual(dropped, [
                "Proxy", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server",
                "X-Forwarded-Scheme", "X-Forwarded-Ssl", "X-Original-URL", "X-Original-URI", "X-Original-Host", "X-Rewrite-URL",
                "X-Host", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
                "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "CF-Connecting-IP",
            ]);
            assert.deepStrictEqual(args(all, "proxy_hide_header"), [
                "X-Powered-By", "X-Runtime", "X-AspNet-Version", "X-AspNetMvc-Version",
                "X-Request-ID", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security",
            ]);
            assert.deepStrictEqual(args(all, "ssl_ciphers"), [
                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
            ]);
            const sampling = all.find((e) => e.directive.name === "split_clients")!;
            assert.deepStrictEqual(sampling.directive.children!.map((c) => [c.name, ...c.args]), [["1%", "1"], ["*", "0"]]);
        });

        it("the metrics stream goes to the configured loopback port, only when one is set", () => {
            const all = render({ metricsLogPort: 9514 });
            assert.ok(args(all, "access_log").includes("syslog:server=127.0.0.1:9514,tag=asky_gateway,nohostname asky_metrics"));
            assert.ok(!args(render({}), "access_log").some((a) => a.startsWith("syslog:")));
            assert.throws(() => renderGatewayConfig({ ...clusterInput, metricsLogPort: 0 }), /metricsLogPort must be an integer in 1-65535 \(got 0\)/);
        });

        it("HA-2 an upstream connection lives upstreamKeepaliveTimeSeconds (default 60 s), in every upstream", () => {
        const times = (conf: string) => [...conf.matchAll(/keepalive_time (\d+)s;/g)].map((m) => Number(m[1]));
        assert.deepStrictEqual(times(renderGatewayConfig(clusterInput)), [60, 60, 60]);
        assert.deepStrictEqual(times(renderGatewayConfig({ ...clusterInput, upstreamKeepaliveTimeSeconds: 7 })), [7, 7, 7]);
    });

    it("refuses a bearer token minted for a service (sub pyxis_service or requests_service, in any position) but not a user's", () => {
            const pattern = new RegExp(serviceTokenPattern());
            const encode = (payload: object) => Buffer.from(JSON.stringify(payload)).toString("base64url");
            for (const sub of ["pyxis_service", "requests_service"]) {
                for (const pad of ["", "a", "ab", "abc"]) {
                    assert.ok(pattern.test(encode({ x: pad, sub })), `${sub} after ${pad.length}`);
                    const spaced = Buffer.from(`{"x":"${pad}", "sub": "${sub}"}`).toString("base64url");
                    assert.ok(pattern.test(spaced), `${sub} spaced after ${pad.length}`);
                }
            }
            for (const pad of ["", "a", "ab"]) assert.ok(!pattern.test(encode({ x: pad, sub: "ana@hospital.com.br" })), "a user's token");
        });
    });

    describe("input validation", () => {
        const bad: [string, Partial<GatewayConfigInput>, RegExp][] = [
            ["port 0", { listenPort: 0 }, /listenPort must be an integer in 1-65535/],
            ["port 70000", { listenPort: 70000 }, /listenPort/],
            ["fractional workers", { workerProcesses: 1.5 }, /workerProcesses/],
            ["zero connections", { workerConnections: 0 }, /workerConnections/],
            ["status port = listen port", { statusPort: 8080 }, /statusPort must differ from listenPort/],
            ["internal port = ready port", { internalPort: 8091 }, /readyPort must differ from internalPort/],
            ["an upstream connection life of 0 s", { upstreamKeepaliveTimeSeconds: 0 }, /upstreamKeepaliveTimeSeconds/],
            ["keepalive pools too large", { keepaliveConnections: 400, workerConnections: 1024 }, /keepaliveConnections times 3 upstreams must stay below workerConnections 1024/],
            ["size 1 megabyte", { clientMaxBodySize: "1 megabyte" }, /clientMaxBodySize/],
            ["size 0 (no limit)", { clientMaxBodySize: "0" }, /clientMaxBodySize/],
            ["size beyond what NGINX parses", { clientMaxBodySize: "99999999999999999999g" }, /clientMaxBodySize/],
            ["size above 1g", { clientMaxBodySize: "2g" }, /clientMaxBodySize/],
            ["too few connections", { workerConnections: 512 }, /workerConnections must be an integer in 1024-65536/],
            ["zero connections per client", { connectionsPerClient: 0 }, /connectionsPerClient/],
            ["zero large-body slots", { largeBodySlots: 0 }, /largeBodySlots/],
            ["connect timeout above 75 s", { proxyConnectTimeoutSeconds: 76 }, /proxyConnectTimeoutSeconds/],
            ["read timeout above an hour", { proxyReadTimeoutSeconds: 3601 }, /proxyReadTimeoutSeconds/],
            ["an unknown public route", { publicRoutes: ["/admin" as never] }, /publicRoutes/],
            ["a public route twice", { publicRoutes: ["/pyxis/", "/pyxis/"] }, /publicRoutes/],
            ["server name injection", { serverNames: { public: "a; include /etc/passwd", internal: "b" } }, /serverNames\.public/],
            ["TLS hostname injection", { tls: { ...clusterTls, hostname: "x$request_uri" } }, /tls\.hostname/],
            ["TLS certificate path injection", { tls: { ...clusterTls, certificate: "/etc/x.crt; ssl_protocols SSLv3" } }, /tls\.certificate/],
            ["negative timeout", { proxyReadTimeoutSeconds: -1 }, /proxyReadTimeoutSeconds/],
            ["zero login rate", { loginRateLimitPerMinute: 0 }, /loginRateLimitPerMinute/],
            ["negative burst", { loginBurst: -1 }, /loginBurst/],
            ["relative runtimeDir", { runtimeDir: "tmp" }, /runtimeDir/],
            ["runtimeDir injection", { runtimeDir: "/tmp; user root" }, /runtimeDir/],
            ["accessLog injection", { accessLog: "/dev/stdout main; include /etc/passwd" }, /accessLog/],
            ["hostname injection", { upstreams: { ...clusterInput.upstreams, auth: { host: "auth:1;}server{", port: 1 } } }, /upstreams\.auth\.host/],
            ["hostname with underscore", { upstreams: { ...clusterInput.upstreams, pyxis: { host: "py_xis", port: 8001 } } }, /upstreams\.pyxis\.host/],
            ["upstream port", { upstreams: { ...clusterInput.upstreams, requestManagement: { host: "rm", port: 0 } } }, /upstreams\.requestManagement\.port/],
            ["no upstreams", { upstreams: undefined as never }, /^GatewayConfigError: invalid gateway config: input must be an object with upstreams and serverNames/],
            ["no server names", { serverNames: undefined as never }, /input must be an object with upstreams and serverNames/],
            ["an upstream that is not an object", { upstreams: { ...clusterInput.upstreams, pyxis: null as never } }, /upstreams\.pyxis must be an object \{ host, port \} \(got null\)/],
            ["TLS that is not an object", { tls: "on" as never }, /tls must be an object \(got "on"\)/],
            ["TLS port 0", { tls: { ...clusterTls, httpsPort: 0 } }, /tls\.httpsPort must be an integer in 1-65535/],
            ["TLS key path injection", { tls: { ...clusterTls, certificateKey: "key" } }, /tls\.certificateKey must be an absolute path of \[A-Za-z0-9\._\/-\]/],
            ["TLS port = listen port, with TLS", { tls: clusterTls, tlsPort: 8080 }, /tlsPort must differ from listenPort 8080 \(got 8080\)/],
            ["live port = ready port", { livePort: 8091 }, /livePort must differ from readyPort 8091/],
            ["public routes not a list", { publicRoutes: "/pyxis/" as never }, /publicRoutes must list distinct routes of \/auth\/login, \/auth\/register, \/auth\/users\/, \/pyxis\/, \/requests\/, \/healthz/],
            ["more large-body slots per client than slots", { largeBodySlots: 2, largeBodySlotsPerClient: 3 }, /largeBodySlotsPerClient must not exceed largeBodySlots 2 \(got 3\)/],
            ["IPv6 as a string", { listenIpv6: "yes" as never }, /listenIpv6 must be a boolean \(got "yes"\)/],
            ["keepalive pools exactly a third", { keepaliveConnections: 342, workerConnections: 1026 }, /keepaliveConnections times 3/],
            ["error log relative", { errorLog: "stderr" }, /errorLog must be an absolute path/],
            ["internal server name", { serverNames: { public: "a", internal: "b c" } }, /serverNames\.internal must be an RFC 1123 hostname \(got "b c"\)/],
            ["workers above 64", { workerProcesses: 65 }, /workerProcesses must be an integer in 1-64 \(got 65\)/],
            ["workers as text", { workerProcesses: "2" as never }, /workerProcesses must be an integer in 1-64 \(got "2"\)/],
            ["send timeout 0", { proxySendTimeoutSeconds: 0 }, /proxySendTimeoutSeconds/],
            ["retry budget 0", { proxyNextUpstreamTimeoutSeconds: 0 }, /proxyNextUpstreamTimeoutSeconds/],
            ["an upstream given as a string", { upstreams: { ...clusterInput.upstreams, auth: "auth:8003" as never } }, /upstreams\.auth must be an object \{ host, port \} \(got "auth:8003"\)/],
            ["an upstream host as a list", { upstreams: { ...clusterInput.upstreams, auth: { host: ["auth"] as never, port: 8003 } } }, /upstreams\.auth\.host must be an RFC 1123 hostname or IPv4 address \(got \["auth"\]\)/],
            ["TLS as null", { tls: null as never }, /tls must be an object \(got null\)/],
            ["a public route list with one unknown route", { publicRoutes: ["/pyxis/", "/admin" as never] }, /publicRoutes must list distinct routes/],
            ["a public server name as a list", { serverNames: { public: ["gateway"] as never, internal: "b" } }, /^GatewayConfigError: invalid gateway config: serverNames\.public must be an RFC 1123 hostname \(got \["gateway"\]\)$/],
            ["a hostname of 254 characters", { serverNames: { public: `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`, internal: "b" } }, /serverNames\.public must be an RFC 1123 hostname/],
            ["a body size in words", { clientMaxBodySize: "lots" }, /clientMaxBodySize must be an NGINX size like 512k or 1m \(or bytes\), from 1 byte to 1g \(got "lots"\)/],
            ["TLS port 0", { tls: clusterTls, tlsPort: 0 }, /^GatewayConfigError: invalid gateway config: tlsPort must be an integer in 1-65535 \(got 0\)$/],
            ["internal port 0", { internalPort: 0 }, /^GatewayConfigError: invalid gateway config: internalPort must be/],
            ["ready port 0", { readyPort: 0 }, /^GatewayConfigError: invalid gateway config: readyPort must be/],
            ["live port 0", { livePort: 0 }, /^GatewayConfigError: invalid gateway config: livePort must be/],
            ["status port 0", { statusPort: 0 }, /^GatewayConfigError: invalid gateway config: statusPort must be/],
        ];
        for (const [title, override, message] of bad) {
            it(`rejects ${title}`, () => {
                assert.throws(() => renderGatewayConfig({ ...clusterInput, ...override }), message);
            });
        }
        it("rejects an input that is not an object", () => {
            for (const input of [null, "config", 7]) {
                assert.throws(() => renderGatewayConfig(input as never), /^GatewayConfigError: invalid gateway config: input must be an object with upstreams and serverNames/);
            }
        });
        it("serves /healthz on the public listener only when it is a public route", () => {
            const publicHealth = (routes: GatewayConfigInput["publicRoutes"]) => walkNginxConfig(parseNginxConfig(renderGatewayConfig({ ...clusterInput, publicRoutes: routes })))
                .some((e) => e.directive.name === "location" && e.directive.args.join(" ") === "= /healthz" && e.parents.some((p) => p.name === "server" && p.children!.some((c) => c.name === "listen" && c.args[0] === "8080")));
            assert.ok(publicHealth(undefined), "by default");
            assert.ok(!publicHealth(["/auth/login", "/pyxis/"]));
        });
        it("accepts a 253-character hostname", () => {
            assert.doesNotThrow(() => renderGatewayConfig({ ...clusterInput, serverNames: { public: `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`, internal: "b" } }));
        });
        it("accepts the edges of each range and a TLS port equal to the listen port when TLS is off", () => {
            for (const override of [
                { listenPort: 1 }, { listenPort: 65535 }, { workerProcesses: 64 }, { workerConnections: 65536 }, { keepaliveConnections: 341, workerConnections: 1024 },
                { clientMaxBodySize: "1" }, { clientMaxBodySize: "1g" }, { loginBurst: 0 }, { proxyConnectTimeoutSeconds: 75 }, { tlsPort: 8080 }, { listenIpv6: false },
            ] as Partial<GatewayConfigInput>[]) {
                assert.doesNotThrow(() => renderGatewayConfig({ ...clusterInput, ...override }), JSON.stringify(override));
            }
        });
    });
});

describe("nginx gateway config: against a real nginx", function () {
    this.timeout(30_000);
    let stubs: { auth: StubUpstream; pyxis: StubUpstream; requestManagement: StubUpstream };
    let gw: RunningGateway;
    const get = (p: string, extra: Partial<Parameters<typeof httpRequest>[0]> = {}) => httpRequest({ port: gw.port, path: p, ...extra });
    /** The internal listener (GATEWAY_URL): every route. */
    const internal = (p: string, extra: Partial<Parameters<typeof httpRequest>[0]> = {}) => httpRequest({ port: gw.ports.internal, path: p, ...extra });
    const allStubRequests = () => stubs.auth.requests + stubs.pyxis.requests + stubs.requestManagement.requests;

    before(async () => {
        findNginx(); // fails loudly when nginx is absent
        stubs = {
            auth: await startStubUpstream("auth"),
            pyxis: await startStubUpstream("pyxis"),
            requestManagement: await startStubUpstream("request-management"),
        };
        const at = (s: StubUpstream) => ({ host: "127.0.0.1", port: s.port });
        gw = await startGateway(
            { auth: at(stubs.auth), pyxis: at(stubs.pyxis), requestManagement: at(stubs.requestManagement) },
            // A 64k body limit and a 1 s read timeout keep the 413/504 tests small and fast.
            { clientMaxBodySize: "64k", proxyReadTimeoutSeconds: 1, loginRateLimitPerMinute: 600, loginBurst: 3 },
        );
    });

    after(async () => {
        await gw?.stop();
        await Promise.all(Object.values(stubs ?? {}).map((s) => s.close()));
    });

    it("GW-8 nginx -t accepts the rendered config (also with the cluster's values and the optional switches)", () => {
        const ours = nginxTest(gw.configPath, gw.dir, gw.errorLogPath);
        assert.strictEqual(ours.status, 0, ours.output);
        assert.match(ours.output, /syntax is ok/);
        assert.doesNotMatch(ours.output, /JIT/, "PCRE JIT available (pcre_jit on): no warning");
        // The cluster's values with its DNS names swapped for localhost (nginx -t resolves them).
        const local = { host: "localhost", port: 8001 };
        const cert = makeTestCertificate(gw.dir, "variant");
        const variants: [string, Partial<GatewayConfigInput>][] = [
            ["cluster values", {}],
            ["access log off, IPv6 listen", { accessLog: "off", listenIpv6: true }],
            ["TLS, every public route", { tls: { ...clusterTls, certificate: cert.certificate, certificateKey: cert.key }, publicRoutes: [...PUBLIC_ROUTES] }],
            ["TLS without a hostname on a node port, the certificate not mounted yet", { tls: { certificate: "/nonexistent/tls.crt", certificateKey: "/nonexistent/tls.key", httpsPort: 30443 } }],
            // The largest values config/gateway.ts accepts are values NGINX accepts.
            ["every limit at its maximum", Object.fromEntries(Object.entries(GATEWAY_LIMITS).filter(([k]) => k !== "clientMaxBodyBytes" && k !== "workerProcesses").map(([k, v]) => [k, v.max]))],
            ["every limit at its minimum", { ...Object.fromEntries(Object.entries(GATEWAY_LIMITS).filter(([k]) => k !== "clientMaxBodyBytes").map(([k, v]) => [k, v.min])), workerConnections: 1024, keepaliveConnections: 1 }],
            ["the largest and the smallest body size", { clientMaxBodySize: "1g" }],
            ["the smallest body size in bytes", { clientMaxBodySize: 1 }],
        ];
        for (const [title, overrides] of variants) {
            const file = path.join(gw.dir, "variant.conf");
            fs.writeFileSync(file, renderGatewayConfig({
                ...clusterInput,
                upstreams: { auth: local, pyxis: local, requestManagement: local },
                runtimeDir: gw.dir,
                errorLog: gw.errorLogPath,
                accessLog: path.join(gw.dir, "variant-access.log"),
                ...overrides,
            }), { mode: 0o644 });
            const result = nginxTest(file, gw.dir, gw.errorLogPath);
            assert.strictEqual(result.status, 0, `${title}: ${result.output}`);
        }
    });

    it("GW-8 runs without root: master is not UID 0, pid file and temp dirs are in runtimeDir", () => {
        const uid = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
        const pid = Number(fs.readFileSync(path.join(gw.dir, "nginx.pid"), "utf8").trim());
        assert.strictEqual(pid, gw.pid);
        if (process.getuid?.() === 0) assert.strictEqual(uid(pid), NGINX_UNPRIVILEGED_UID, "harness drops root to UID 101");
        else assert.notStrictEqual(uid(pid), 0);
        for (const t of ["client_temp", "proxy_temp", "fastcgi_temp", "uwsgi_temp", "scgi_temp"]) {
            assert.ok(fs.statSync(path.join(gw.dir, t)).isDirectory(), t);
        }
    });

    it("with its access log off, the gateway still sends every request's metrics line", async () => {
        const receiver = dgram.createSocket("udp4");
        const lines: string[] = [];
        receiver.on("message", (m) => lines.push(m.toString()));
        await new Promise<void>((resolve) => receiver.bind(0, "127.0.0.1", resolve));
        const at = (s: StubUpstream) => ({ host: "127.0.0.1", port: s.port });
        const quiet = await startGateway(
            { auth: at(stubs.auth), pyxis: at(stubs.pyxis), requestManagement: at(stubs.requestManagement) },
            { accessLog: "off", metricsLogPort: receiver.address().port },
        );
        try {
            assert.strictEqual((await httpRequest({ port: quiet.port, path: "/pyxis/dispensers" })).status, 200);
            assert.strictEqual((await httpRequest({ port: quiet.port, path: "/nowhere" })).status, 404);
            const deadline = Date.now() + 5_000;
            while (lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            const metrics = lines.map((l) => l.replace(/^.*asky_gateway: /, "").trim());
            assert.strictEqual(metrics.length, 2, metrics.join("\n"));
            assert.match(metrics[0], /^public \/pyxis 200 \d+\.\d{3}$/);
            assert.match(metrics[1], /^public other 404 -$/);
        } finally {
            await quiet.stop();
            receiver.close();
        }
    });

    it("GW-1 each prefix reaches its service with the full path, query, method and body (internal listener: every route)", async () => {
        const cases: [string, string, string, string | undefined][] = [
            ["GET", "/pyxis/dispensers/1?floor=2&q=a%20b", "pyxis", undefined],
            ["GET", "/pyxis", "pyxis", undefined],
            ["POST", "/requests/medicine?emergency=true", "request-management", '{"medicine_id":3}'],
            ["PATCH", "/requests/medicine/7/status", "request-management", '{"status":"accepted"}'],
            ["DELETE", "/requests/material/9", "request-management", undefined],
            ["PUT", "/auth/users/nurse%40asky.example", "auth", '{"name":"N"}'],
            ["POST", "/auth/register", "auth", '{"email":"a@b.c"}'],
        ];
        for (const [method, url, stub, body] of cases) {
            const res = await internal(url, { method, body, headers: body ? { "content-type": "application/json" } : {} });
            assert.strictEqual(res.status, 200, `${method} ${url}: ${res.body}`);
            const echo = echoOf(res);
            assert.strictEqual(echo.stub, stub, url);
            assert.strictEqual(echo.method, method, url);
            assert.strictEqual(echo.url, url, "full original path and query");
            assert.strictEqual(echo.body, body ?? "", url);
        }
    });

    it("GW-1 a body above the in-memory buffer is spooled to runtimeDir and passed through intact", async () => {
        const body = Buffer.alloc(48 * 1024, "x");
        const res = await get("/pyxis/upload", { method: "POST", body });
        assert.strictEqual(res.status, 200, res.body);
        assert.strictEqual(echoOf(res).bodyLength, body.length);
    });

    it("GW-1 unknown paths answer 404 JSON without reaching any service", async () => {
        const before = allStubRequests();
        for (const p of ["/", "/pyxisx", "/api/pyxis/dispensers", "/authx/login", "/admin", "/requestsfoo"]) {
            for (const res of [await get(p), await internal(p)]) {
                assertJsonError(res, 404);
                assert.deepStrictEqual(JSON.parse(res.body), { error: "not found" });
                assertSecurityHeaders(res, `404 ${p}`);
            }
        }
        assert.strictEqual(allStubRequests(), before);
    });

    it("GW-2 forwards Host, X-Real-IP, X-Forwarded-For/-Proto and X-Request-ID; drops the client's Proxy header", async () => {
        const res = await get("/pyxis/dispensers", {
            localAddress: "127.0.0.7",
            headers: { host: "gateway.example:30000", "x-forwarded-for": "203.0.113.9", proxy: "http://evil.example:3128" },
        });
        const { headers } = echoOf(res);
        assert.strictEqual(headers.host, "gateway.asky.test", "the listener's name, not the client's Host");
        assert.strictEqual(headers["x-real-ip"], "127.0.0.7");
        assert.strictEqual(headers["x-forwarded-for"], "127.0.0.7", "the peer alone, not the client's chain");
        assert.strictEqual(headers["x-forwarded-proto"], "http");
        assert.match(String(headers["x-request-id"]), /^[0-9a-f]{32}$/, "generated when absent");
        assert.strictEqual(res.headers["x-request-id"], headers["x-request-id"], "echoed to the client");
        assert.strictEqual(headers.proxy, undefined, "httpoxy: Proxy is cleared");
    });

    it("GW-2 the same headers on every route of both listeners, including the rate-limited /auth/login", async () => {
        const routes: [string, number][] = [
            ...["/auth/login", "/requests/heartbeat", "/pyxis", "/pyxis/x"].map((p): [string, number] => [p, gw.port]),
            ...["/auth/users/x", "/auth/login", "/requests/heartbeat", "/pyxis"].map((p): [string, number] => [p, gw.ports.internal]),
        ];
        for (const [p, port] of routes) {
            const res = await httpRequest({ port, path: p, method: p === "/auth/login" ? "POST" : "GET", localAddress: "127.0.0.8", headers: { proxy: "x" } });
            const { headers } = echoOf(res);
            assert.strictEqual(headers["x-real-ip"], "127.0.0.8", p);
            assert.strictEqual(headers["x-forwarded-for"], "127.0.0.8", p);
            assert.strictEqual(headers["x-forwarded-proto"], "http", p);
            assert.strictEqual(headers.host, port === gw.port ? "gateway.asky.test" : "gateway-internal.asky.test", p);
            assert.ok(headers["x-request-id"], p);
            assert.strictEqual(headers.proxy, undefined, p);
            assertSecurityHeaders(res, p);
        }
    });

    it("GW-2 a client X-Request-ID is passed through; a malformed one is replaced", async () => {
        const given = await get("/requests/heartbeat", { headers: { "x-request-id": "req-2024.abc:01" } });
        assert.strictEqual(echoOf(given).headers["x-request-id"], "req-2024.abc:01");
        assert.strictEqual(given.headers["x-request-id"], "req-2024.abc:01");
        const forged = await get("/requests/heartbeat", { headers: { "x-request-id": 'x" injected="1' } });
        assert.match(String(echoOf(forged).headers["x-request-id"]), /^[0-9a-f]{32}$/);
    });

    it("GW-3 upstream keep-alive: 30 sequential requests (fresh client connections) use at most one upstream connection per worker", async () => {
        const stub = stubs.requestManagement;
        const [conns, reqs] = [stub.connections, stub.requests];
        for (let i = 0; i < 30; i++) {
            const res = await get(`/requests/heartbeat?i=${i}`);
            assert.strictEqual(res.status, 200);
            assert.strictEqual(echoOf(res).httpVersion, "1.1");
            assert.notStrictEqual(echoOf(res).headers.connection, "close");
        }
        assert.strictEqual(stub.requests - reqs, 30);
        const opened = stub.connections - conns;
        assert.ok(opened <= gw.input.workerProcesses, `stub saw ${opened} new connections for 30 requests`);
    });

    it("GW-4 an oversized body gets 413 JSON with security headers and never reaches the service", async () => {
        const before = stubs.pyxis.requests;
        const res = await get("/pyxis/upload", { method: "POST", body: Buffer.alloc(100 * 1024, "y") });
        assertJsonError(res, 413);
        assertSecurityHeaders(res, "413");
        assert.strictEqual(stubs.pyxis.requests, before);
    });

    it("GW-4 a read timeout answers 504 JSON after proxy_read_timeout", async () => {
        const started = Date.now();
        const res = await get("/pyxis/__sleep?ms=3000");
        assertJsonError(res, 504);
        assertSecurityHeaders(res, "504");
        assert.ok(Date.now() - started < 2900, "cut off by the 1 s read timeout, not the stub's 3 s");
    });

    it("GW-4 a broken upstream connection answers 502 JSON; retries are bounded and POST is never retried", async () => {
        const stub = stubs.auth;
        let before = stub.requests;
        const post = await internal("/auth/__close", { method: "POST", body: "{}" });
        assertJsonError(post, 502);
        assertSecurityHeaders(post, "502");
        assert.strictEqual(stub.requests - before, 1, "non-idempotent request sent once");
        before = stub.requests;
        const read = await internal("/auth/__close");
        assertJsonError(read, 502);
        const tries = stub.requests - before;
        assert.ok(tries >= 1 && tries <= 2, `GET tried ${tries} times (proxy_next_upstream_tries 2)`);
    });

    it("GW-5 security headers and a versionless Server header on proxied and local responses", async () => {
        assertSecurityHeaders(await get("/pyxis/medicines"), "proxied");
        assertSecurityHeaders(await get("/healthz"), "/healthz");
        assertSecurityHeaders(await get("/nope"), "404");
    });

    it("GW-6 /auth/login at a normal pace is never limited", async () => {
        for (let i = 0; i < 6; i++) {
            const res = await get("/auth/login", { method: "POST", body: '{"email":"a"}', localAddress: "127.0.0.4" });
            assert.strictEqual(res.status, 200, `request ${i}: ${res.body}`);
            assert.strictEqual(echoOf(res).stub, "auth");
            await sleep(150); // the limit here is 600/min = one per 100 ms
        }
    });

    it("GW-6 a burst on /auth/login gets 429 JSON (with security headers) beyond the burst; other auth routes are not limited", async () => {
        const before = stubs.auth.requests;
        const results = await Promise.all(
            Array.from({ length: 20 }, () => get("/auth/login", { method: "POST", body: "{}", localAddress: "127.0.0.5" })),
        );
        const limited = results.filter((r) => r.status === 429);
        const passed = results.filter((r) => r.status === 200);
        assert.ok(limited.length >= 1, "at least one 429");
        assert.ok(passed.length >= 1 && passed.length <= 3 + 2, `${passed.length} passed: rate plus burst 3`);
        assert.strictEqual(stubs.auth.requests - before, passed.length, "limited requests never reach auth");
        assertJsonError(limited[0], 429);
        assertSecurityHeaders(limited[0], "429");
        const others = await Promise.all(Array.from({ length: 10 }, () => internal("/auth/users/x", { localAddress: "127.0.0.5" })));
        assert.deepStrictEqual([...new Set(others.map((r) => r.status))], [200]);
    });

    it("GW-7 /healthz is answered by nginx itself (200 JSON) on the public and both probe ports, without touching any service", async () => {
        const before = allStubRequests();
        for (const port of [gw.port, gw.ports.ready, gw.ports.live]) {
            const res = await httpRequest({ port, path: "/healthz" });
            assert.strictEqual(res.status, 200, `port ${port}`);
            assert.deepStrictEqual(JSON.parse(res.body), { status: "ok" });
            assert.match(String(res.headers["content-type"]), /^application\/json/);
            // The probe ports answer nothing else.
            assert.strictEqual((await httpRequest({ port, path: "/pyxis/x" })).status, port === gw.port ? 200 : 404);
        }
        assert.strictEqual(allStubRequests() - before, 1, "only the public /pyxis/x was proxied");
    });

    it("GW-7 stub_status: refused on the public and internal ports like an unknown path, served only on 127.0.0.1 inside the pod", async () => {
        for (const res of [await get("/stub_status"), await internal("/stub_status")]) {
            assertJsonError(res, 404);
            assert.doesNotMatch(res.body, /Active connections/);
        }
        // The public server listens on every address; the status server only on 127.0.0.1.
        assert.strictEqual((await get("/healthz", { host: "127.0.0.2" })).status, 200);
        await assert.rejects(httpRequest({ host: "127.0.0.2", port: gw.statusPort, path: "/stub_status" }), /ECONNREFUSED/);
        // From inside the pod (loopback) it works...
        const inside = await httpRequest({ port: gw.statusPort, path: "/stub_status" });
        assert.strictEqual(inside.status, 200);
        assert.match(inside.body, /Active connections: \d+/);
        // ...and allow/deny refuses any other source address even on that socket.
        const otherSource = await httpRequest({ port: gw.statusPort, path: "/stub_status", localAddress: "127.0.0.9" });
        assert.strictEqual(otherSource.status, 403);
    });

    it("access log lines are JSON with request id, upstream address and timings, status", async () => {
        const id = `log-check-${Date.now()}`;
        await get("/pyxis/log", { headers: { "x-request-id": id } });
        // The log is buffered (flush=1s): wait for the line.
        let line: string | undefined;
        for (let waited = 0; !line && waited < 3000; waited += 100) {
            await sleep(100);
            line = fs.readFileSync(gw.accessLogPath, "utf8").split("\n").find((l) => l.includes(id));
        }
        assert.ok(line, "access log has the request within 3 s");
        const entry = JSON.parse(line!);
        assert.strictEqual(entry.request_id, id);
        assert.match(entry.nginx_request_id, /^[0-9a-f]{32}$/);
        assert.strictEqual(entry.upstream_addr, `127.0.0.1:${stubs.pyxis.port}`);
        assert.match(entry.upstream_response_time, /^\d+\.\d{3}$/);
        assert.strictEqual(typeof entry.request_time, "number");
        assert.strictEqual(entry.status, 200);
    });

    it("the error log has no alert, crit or emerg entries (e.g. an unwritable temp path)", () => {
        const log = fs.readFileSync(gw.errorLogPath, "utf8");
        assert.doesNotMatch(log, /\[(alert|crit|emerg)\]/, log);
    });
});

import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { awaitsLoadBalancer, parseAskyConfig } from "../config";
import { GATEWAY_LIMITS } from "../nginx/render";
import { renderStack, stackConfig } from "../scripts/render";
import { configProblems, find, rawStackConfig } from "./support/render";

const rawConfig = rawStackConfig;
const problemsOf = configProblems;

type Mutation = (g: Record<string, any>) => void;

/** Bad `asky:gateway` values: each must fail with the key path, the value and what is allowed (issue 10 item 8). */
const badGateway: [title: string, stack: "dev" | "prod", mutate: Mutation, expected: RegExp[]][] = [
    ["a body size NGINX cannot parse", "dev", (g) => { g.limits.clientMaxBodySize = "99999999999999999999g"; }, [/asky:gateway\.limits\.clientMaxBodySize = "99999999999999999999g": must be an NGINX size from 1 byte to 1g/]],
    ["a body size of 0 (no limit)", "dev", (g) => { g.limits.clientMaxBodySize = "0"; }, [/asky:gateway\.limits\.clientMaxBodySize = "0"/, /0 \(no limit\) is refused/]],
    ["a body size in words", "dev", (g) => { g.limits.clientMaxBodySize = "1 megabyte"; }, [/asky:gateway\.limits\.clientMaxBodySize = "1 megabyte"/, /k, m or g/]],
    ["a body size above 1g", "prod", (g) => { g.limits.clientMaxBodySize = "2g"; }, [/asky:gateway\.limits\.clientMaxBodySize = "2g"/]],
    ["a fractional number of bytes", "dev", (g) => { g.limits.clientMaxBodySize = 1.5; }, [/asky:gateway\.limits\.clientMaxBodySize = 1\.5/]],
    ["bodies that do not fit the pod's ephemeral storage", "dev", (g) => { g.limits.clientMaxBodySize = "8m"; }, [/asky:gateway\.limits\.clientMaxBodySize = "8m": asky:gateway\.limits\.largeBodySlots \(32\) bodies of this size plus 16Mi need 272Mi of \/tmp, more than asky:gateway\.resources\.limits\.ephemeralStorage \(128Mi\)/]],
    ["a login burst NGINX would take forever to drain", "dev", (g) => { g.limits.loginBurst = 10_001; }, [/asky:gateway\.limits\.loginBurst = 10001: must be an integer from 0 to 10000/]],
    ["a login rate of 0", "dev", (g) => { g.limits.loginRateLimitPerMinute = 0; }, [/asky:gateway\.limits\.loginRateLimitPerMinute = 0: must be an integer from 1 to 60000/]],
    ["a connect timeout above 75 s", "dev", (g) => { g.limits.proxyConnectTimeoutSeconds = 76; }, [/asky:gateway\.limits\.proxyConnectTimeoutSeconds = 76: must be an integer from 1 to 75/]],
    ["a read timeout above an hour", "dev", (g) => { g.limits.proxyReadTimeoutSeconds = 1e12; }, [/asky:gateway\.limits\.proxyReadTimeoutSeconds = 1000000000000: must be an integer from 1 to 3600/]],
    ["a keep-alive pool of 0", "dev", (g) => { g.limits.keepaliveConnections = 0; }, [/asky:gateway\.limits\.keepaliveConnections = 0/]],
    ["keep-alive pools that fill the connections the memory gives", "dev", (g) => { g.resources.limits.memory = "32Mi"; g.resources.requests.memory = "32Mi"; g.limits.keepaliveConnections = 400; }, [/asky:gateway\.limits\.keepaliveConnections = 400: times 3 upstreams must stay below the 1024 connections per worker/]],
    ["a memory limit too small for 1024 connections per worker", "dev", (g) => { g.resources.limits.memory = "16Mi"; g.resources.requests.memory = "16Mi"; }, [/asky:gateway\.resources\.limits\.memory = "16Mi": at least 32Mi for 1 NGINX worker/]],
    ["0 connections per client", "dev", (g) => { g.limits.connectionsPerClient = 0; }, [/asky:gateway\.limits\.connectionsPerClient = 0: must be an integer from 1 to 10000/]],
    ["0 large-body slots", "dev", (g) => { g.limits.largeBodySlots = 0; }, [/asky:gateway\.limits\.largeBodySlots = 0: must be an integer from 1 to 1024/]],
    ["more large-body slots per client than the pod has", "dev", (g) => { g.limits.largeBodySlots = 8; g.limits.largeBodySlotsPerClient = 16; }, [/asky:gateway\.limits\.largeBodySlotsPerClient = 16: must not exceed asky:gateway\.limits\.largeBodySlots \(8\)/]],
    ["more CPUs than NGINX workers we allow", "dev", (g) => { g.resources.limits.cpu = "65"; }, [/asky:gateway\.resources\.limits\.cpu = "65": at most 64 CPUs/]],
    ["replicas the API server refuses", "dev", (g) => { g.replicas = 2 ** 31; }, [/asky:gateway\.replicas = 2147483648: must be at most 2147483647/]],
    ["an unknown public route", "dev", (g) => { g.publicRoutes = ["/auth/login", "/admin"]; }, [/asky:gateway\.publicRoutes\[1\] = "\/admin": must be one of \/auth\/login, \/auth\/register, \/auth\/users\/, \/pyxis\/, \/requests\/, \/healthz/]],
    ["a public route twice", "dev", (g) => { g.publicRoutes = ["/pyxis/", "/pyxis/"]; }, [/asky:gateway\.publicRoutes = \["\/pyxis\/","\/pyxis\/"\]: lists a route twice/]],
    ["no public route", "dev", (g) => { g.publicRoutes = []; }, [/asky:gateway\.publicRoutes = \[\]: must list at least one route/]],
    ["an unknown TLS mode", "prod", (g) => { g.tls = { mode: "letsencrypt" }; }, [/asky:gateway\.tls\.mode = .*"letsencrypt".*: mode must be off, secret, certManager or selfSigned/]],
    ["a TLS Secret name Kubernetes refuses", "prod", (g) => { g.tls.secretName = "Gateway_TLS"; }, [/asky:gateway\.tls\.secretName = "Gateway_TLS": must be a Kubernetes object name/]],
    ["cert-manager without a hostname", "prod", (g) => { g.tls = { mode: "certManager", secretName: "gateway-tls", issuer: { kind: "ClusterIssuer", name: "le" } }; }, [/asky:gateway\.tls\.hostname = \(missing\)/]],
    ["a hostname that is no DNS name", "prod", (g) => { g.tls.hostname = "asky example;org"; }, [/asky:gateway\.tls\.hostname = "asky example;org": must be a DNS name/]],
    ["an unknown cert-manager issuer kind", "prod", (g) => { g.tls = { mode: "certManager", secretName: "t", hostname: "a.example", issuer: { kind: "Vault", name: "v" } }; }, [/asky:gateway\.tls\.issuer\.kind = "Vault"/, /ClusterIssuer.*Issuer/]],
    ["a self-signed certificate in prod", "prod", (g) => { g.tls = { mode: "selfSigned", secretName: "t", hostname: "a.example" }; }, [/asky:gateway\.tls\.mode = "selfSigned": dev only/]],
    ["an HTTPS node port with a LoadBalancer", "prod", (g) => { g.tls.nodePort = 30443; }, [/asky:gateway\.tls\.nodePort = 30443: only allowed with asky:gateway\.exposure "NodePort"/]],
    ["HTTPS on a NodePort without its node port", "dev", (g) => { g.tls = { mode: "selfSigned", secretName: "t", hostname: "asky.local" }; }, [/asky:gateway\.tls\.nodePort = \(missing\)/, /redirects to it/]],
    ["the HTTPS node port equal to the HTTP one", "dev", (g) => { g.tls = { mode: "selfSigned", secretName: "t", hostname: "asky.local", nodePort: 30000 }; }, [/asky:gateway\.tls\.nodePort = 30000: must differ from asky:gateway\.nodePort/]],
    ["awaitLoadBalancer with a NodePort", "dev", (g) => { g.awaitLoadBalancer = true; }, [/asky:gateway\.awaitLoadBalancer = true: only allowed with asky:gateway\.exposure "LoadBalancer"/]],
    ["an unknown TLS key", "prod", (g) => { g.tls.ciphers = "ALL"; }, [/asky:gateway\.tls\.ciphers: unknown key/]],
];

describe("gateway config (config/gateway.ts)", () => {
    for (const [title, stack, mutate, expected] of badGateway) {
        it(`rejects ${title}, naming the key, the value and what is allowed`, () => {
            const raw = rawConfig(stack);
            mutate(raw.gateway);
            const text = problemsOf(raw).join("\n");
            assert.ok(text, "no error reported");
            for (const re of expected) assert.match(text, re);
        });
    }

    it("accepts a number of bytes for clientMaxBodySize (`pulumi config set --path … 1048576` stores a number)", async () => {
        const raw = rawConfig("dev");
        raw.gateway.limits.clientMaxBodySize = 1048576;
        assert.deepStrictEqual(problemsOf(raw), []);
        const { objects } = await renderStack("dev", { "asky:gateway": raw.gateway });
        assert.match(find(objects, "ConfigMap", "gateway-config").data["nginx.conf"], /client_max_body_size\s+1048576;/);
    });

    it("fills what older stack files leave out: the mobile app's routes, plain HTTP, 32 connections per client, 32 large-body slots", () => {
        const raw = rawConfig("dev");
        delete raw.gateway.publicRoutes;
        delete raw.gateway.tls;
        delete raw.gateway.limits.connectionsPerClient;
        delete raw.gateway.limits.largeBodySlots;
        const { config } = parseAskyConfig(raw);
        assert.deepStrictEqual(config.gateway.publicRoutes, ["/auth/login", "/pyxis/", "/requests/", "/healthz"]);
        assert.deepStrictEqual(config.gateway.tls, { mode: "off" });
        assert.deepStrictEqual([config.gateway.limits.connectionsPerClient, config.gateway.limits.largeBodySlots], [32, 32]);
    });

    it("every limit nginx/render.ts checks is checked here first: one past each end is refused with its key, each end renders", async () => {
        const keys = Object.keys(GATEWAY_LIMITS).filter((k) => !["clientMaxBodyBytes", "workerProcesses", "workerConnections", "proxyNextUpstreamTimeoutSeconds", "upstreamKeepaliveTimeSeconds"].includes(k)) as (keyof typeof GATEWAY_LIMITS)[];
        assert.strictEqual(keys.length, 9, "every asky:gateway.limits number but the body size (its own rows above)");
        for (const k of keys) {
            const { min, max } = GATEWAY_LIMITS[k];
            for (const bad of [min - 1, max + 1]) {
                const raw = rawConfig("prod");
                raw.gateway.limits[k] = bad;
                assert.ok(problemsOf(raw).some((p) => p.startsWith(`asky:gateway.limits.${k} = ${bad}:`)), `${k} = ${bad}`);
            }
        }
        // Both ends at once (the upper ends of the pools and slots need the pod's room).
        for (const end of ["min", "max"] as const) {
            const raw = rawConfig("prod");
            for (const k of keys) raw.gateway.limits[k] = GATEWAY_LIMITS[k][end];
            if (end === "max") {
                raw.gateway.limits.clientMaxBodySize = "1k";
                raw.gateway.resources.limits = { cpu: "1", memory: "8Gi", ephemeralStorage: "1Gi" };
            }
            assert.deepStrictEqual(problemsOf(raw), [], end);
            const { objects } = await renderStack("prod", { "asky:gateway": raw.gateway });
            assert.match(find(objects, "ConfigMap", "gateway-config").data["nginx.conf"], /worker_connections/);
        }
    });

    it("a bad gateway value stops the program before any resource is registered", async () => {
        const { config, secretKeys } = stackConfig("dev", { "asky:gateway": { ...rawConfig("dev").gateway, limits: { ...rawConfig("dev").gateway.limits, clientMaxBodySize: "99999999999999999999g" } } });
        pulumi.runtime.setAllConfig(config, secretKeys);
        let registered = 0;
        await pulumi.runtime.setMocks({ newResource: (a) => { registered++; return { id: a.name, state: a.inputs }; }, call: (a) => a.inputs }, "asky", "dev", false);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const program: () => Promise<unknown> = require(path.join(__dirname, "..", "index.ts"));
        await assert.rejects(program(), /asky:gateway\.limits\.clientMaxBodySize = "99999999999999999999g"/);
        assert.strictEqual(registered, 0);
    });

    describe("exposure per environment (issue 10 item 4)", () => {
        it("prod waits for its LoadBalancer (a managed cluster gives one); dev never unless told, with a warning", () => {
            assert.strictEqual(awaitsLoadBalancer(parseAskyConfig(rawConfig("prod")).config), true);
            const dev = rawConfig("dev");
            dev.gateway.exposure = "LoadBalancer";
            delete dev.gateway.nodePort;
            const parsed = parseAskyConfig(dev);
            assert.strictEqual(awaitsLoadBalancer(parsed.config), false);
            assert.ok(parsed.warnings.some((w) => /does not wait for an address/.test(w) && /minikube tunnel/.test(w)), parsed.warnings.join("\n"));
            dev.gateway.awaitLoadBalancer = true;
            assert.strictEqual(awaitsLoadBalancer(parseAskyConfig(dev).config), true, "MetalLB or a tunnel: the operator says so");
            const prod = rawConfig("prod");
            prod.gateway.awaitLoadBalancer = false;
            assert.strictEqual(awaitsLoadBalancer(parseAskyConfig(prod).config), false);
        });

        it("prod on NodePort (bare metal) is allowed with a warning; prod without TLS only with asky:breakGlass.tlsOff, loudly", () => {
            const prod = rawConfig("prod");
            prod.gateway.exposure = "NodePort";
            prod.gateway.nodePort = 30080;
            prod.gateway.tls = { mode: "off" };
            assert.throws(() => parseAskyConfig(prod), /asky:gateway\.tls\.mode = "off": not allowed in prod/);
            prod.breakGlass = { tlsOff: "TLS ends at the hospital's own load balancer, R. Alves, CHG-77" };
            const { warnings } = parseAskyConfig(prod);
            assert.ok(warnings.some((w) => /"NodePort" in prod/.test(w)), warnings.join("\n"));
            assert.ok(warnings.some((w) => /BREAK GLASS: asky:breakGlass\.tlsOff .*asky:gateway\.tls\.mode = "off"/.test(w)), warnings.join("\n"));
            assert.ok(!parseAskyConfig(rawConfig("prod")).warnings.some((w) => /gateway/.test(w)), "the committed prod file is quiet");
        });
    });
});

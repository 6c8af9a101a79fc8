import { z } from "zod";
import {
    DEFAULT_LARGE_BODY_SLOTS_PER_CLIENT,
    DEFAULT_PUBLIC_ROUTES,
    GATEWAY_LIMITS,
    HOSTNAME,
    PUBLIC_ROUTES,
    gatewaySizing,
    gatewayTmpBytes,
    nginxSizeBytes,
} from "../nginx/render";
import { parseQuantity } from "./quantity";
import type { AskyConfigShape } from "./schema";

/**
 * The parts of `asky:gateway` that reach nginx.conf, checked against the same ranges
 * nginx/render.ts enforces (GATEWAY_LIMITS), so a value NGINX would reject fails here with its
 * key path, before any resource exists.
 */

const limited = (key: keyof typeof GATEWAY_LIMITS) => {
    const { min, max } = GATEWAY_LIMITS[key];
    const message = `must be an integer from ${min} to ${max}`;
    return z.number({ message }).int({ message }).min(min, { message }).max(max, { message });
};

/** `1m`, `512k`, or a number of bytes (`pulumi config set --path` stores `2` as a number). */
const nginxSize = z.union([z.string(), z.number()]).refine((v) => {
    const bytes = nginxSizeBytes(v);
    return bytes >= GATEWAY_LIMITS.clientMaxBodyBytes.min && bytes <= GATEWAY_LIMITS.clientMaxBodyBytes.max;
}, { message: "must be an NGINX size from 1 byte to 1g: digits with k, m or g (KiB, MiB, GiB), or a number of bytes; 0 (no limit) is refused" });

const nodePort = z.number().int().min(30000, { message: "must be a node port from 30000 to 32767" }).max(32767, {
    message: "must be a node port from 30000 to 32767",
});

/** A DNS name a certificate can be issued for. */
const hostname = z.string().regex(HOSTNAME, { message: "must be a DNS name such as asky.example.org" }).transform((h) => h.toLowerCase());
/** A Kubernetes object name (DNS subdomain), e.g. the TLS Secret. */
const objectName = z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
    message: "must be a Kubernetes object name: lower-case letters, digits, '-' and '.'",
});

/** The NGINX limits (`asky:gateway.limits`). */
export const gatewayLimitsSchema = z.strictObject({
    clientMaxBodySize: nginxSize,
    loginRateLimitPerMinute: limited("loginRateLimitPerMinute"),
    loginBurst: limited("loginBurst"),
    keepaliveConnections: limited("keepaliveConnections"),
    proxyConnectTimeoutSeconds: limited("proxyConnectTimeoutSeconds"),
    proxyReadTimeoutSeconds: limited("proxyReadTimeoutSeconds"),
    proxySendTimeoutSeconds: limited("proxySendTimeoutSeconds"),
    /** Requests in progress per client address on the public listener; more get 429. Mind NAT. */
    connectionsPerClient: limited("connectionsPerClient").default(32),
    /** Requests whose body may be written to /tmp (chunked or ≥ 10,000 bytes) in progress per pod. */
    largeBodySlots: limited("largeBodySlots").default(32),
    /** Of those, how many one client address may hold (a few): one client never takes every slot. */
    largeBodySlotsPerClient: limited("largeBodySlotsPerClient").default(DEFAULT_LARGE_BODY_SLOTS_PER_CLIENT),
});

/** Routes the public listener serves; every other one answers 404 like an unknown path. */
export const publicRoutesSchema = z
    .array(z.enum(PUBLIC_ROUTES, { message: `must be one of ${PUBLIC_ROUTES.join(", ")}` }))
    .min(1, { message: "must list at least one route" })
    .refine((routes) => new Set(routes).size === routes.length, { message: "lists a route twice" })
    .default([...DEFAULT_PUBLIC_ROUTES]);

const httpsNodePort = { /** dev, exposure NodePort: the node port of HTTPS (e.g. 30443). */ nodePort: nodePort.optional() };

/** TLS on the public listener (`asky:gateway.tls`). */
export const gatewayTlsSchema = z
    .discriminatedUnion("mode", [
        /** Plain HTTP (dev). */
        z.strictObject({ mode: z.literal("off") }),
        /** A kubernetes.io/tls Secret the organisation creates in the namespace. */
        z.strictObject({ mode: z.literal("secret"), secretName: objectName, hostname: hostname.optional(), ...httpsNodePort }),
        /** cert-manager (its CRDs installed) issues the Secret: the program creates the Certificate. */
        z.strictObject({
            mode: z.literal("certManager"),
            secretName: objectName,
            hostname,
            issuer: z.strictObject({ name: objectName, kind: z.enum(["ClusterIssuer", "Issuer"]) }),
            ...httpsNodePort,
        }),
        /** dev: a self-signed certificate generated with @pulumi/tls. */
        z.strictObject({
            mode: z.literal("selfSigned"),
            secretName: objectName,
            hostname,
            validityDays: z.number().int().min(1).max(397).default(90),
            ...httpsNodePort,
        }),
    ], { message: "mode must be off, secret, certManager or selfSigned" })
    .default({ mode: "off" });

type Gateway = AskyConfigShape["gateway"];
type Path = readonly (string | number)[];

/** Workers and connections the gateway gets from its container limits. */
export function gatewaySizingOf(g: Gateway) {
    return gatewaySizing(parseQuantity(g.resources.limits.cpu), parseQuantity(g.resources.limits.memory));
}

/** Bytes of /tmp the gateway needs: every large-body slot full, plus headroom (the emptyDir's sizeLimit). */
export function gatewayTmpBytesOf(g: Gateway): number {
    return gatewayTmpBytes(g.limits.largeBodySlots, nginxSizeBytes(g.limits.clientMaxBodySize));
}

const MiB = 2 ** 20;

/**
 * Rules across `asky:gateway` keys and the environment. `key` renders a path as `asky:…` and
 * `show` a value, as the rest of config/ does.
 */
export function gatewayChecks(
    c: AskyConfigShape,
    key: (path: Path) => string,
    show: (value: unknown) => string,
): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    const warnings: string[] = [];
    const g = c.gateway;
    const prod = c.environment === "prod";

    const { workerProcesses, workerConnections } = gatewaySizingOf(g);
    if (workerProcesses > GATEWAY_LIMITS.workerProcesses.max) {
        problems.push(`${key(["gateway", "resources", "limits", "cpu"])} = ${show(g.resources.limits.cpu)}: at most ${GATEWAY_LIMITS.workerProcesses.max} CPUs (one NGINX worker each)`);
    }
    const minMemory = (2 * GATEWAY_LIMITS.workerConnections.min * 16 * 1024 * workerProcesses) / MiB;
    if (workerConnections < GATEWAY_LIMITS.workerConnections.min) {
        problems.push(
            `${key(["gateway", "resources", "limits", "memory"])} = ${show(g.resources.limits.memory)}: at least ${minMemory}Mi for ${workerProcesses} NGINX worker(s) ` +
                `(${GATEWAY_LIMITS.workerConnections.min} connections each, 16 KiB per connection in half the memory)`,
        );
    } else if (3 * g.limits.keepaliveConnections >= workerConnections) {
        problems.push(`${key(["gateway", "limits", "keepaliveConnections"])} = ${g.limits.keepaliveConnections}: times 3 upstreams must stay below the ${workerConnections} connections per worker that asky:gateway.resources.limits.memory gives`);
    }
    const tmp = gatewayTmpBytesOf(g);
    const ephemeral = parseQuantity(g.resources.limits.ephemeralStorage);
    if (tmp > ephemeral) {
        problems.push(
            `${key(["gateway", "limits", "clientMaxBodySize"])} = ${show(g.limits.clientMaxBodySize)}: ${key(["gateway", "limits", "largeBodySlots"])} (${g.limits.largeBodySlots}) bodies of this size ` +
                `plus 16Mi need ${Math.ceil(tmp / MiB)}Mi of /tmp, more than ${key(["gateway", "resources", "limits", "ephemeralStorage"])} (${g.resources.limits.ephemeralStorage})`,
        );
    }

    if (g.limits.largeBodySlotsPerClient > g.limits.largeBodySlots) {
        problems.push(`${key(["gateway", "limits", "largeBodySlotsPerClient"])} = ${g.limits.largeBodySlotsPerClient}: must not exceed ${key(["gateway", "limits", "largeBodySlots"])} (${g.limits.largeBodySlots}), the slots of the whole pod`);
    }
    const tls = g.tls;
    if (tls.mode !== "off" && tls.nodePort === undefined && g.exposure === "NodePort") {
        problems.push(`${key(["gateway", "tls", "nodePort"])} = (missing): with asky:gateway.exposure "NodePort" and TLS on, set the HTTPS node port (30000-32767): plain HTTP redirects to it`);
    }
    if (tls.mode !== "off" && tls.nodePort !== undefined) {
        if (g.exposure !== "NodePort") problems.push(`${key(["gateway", "tls", "nodePort"])} = ${tls.nodePort}: only allowed with asky:gateway.exposure "NodePort", not ${show(g.exposure)}`);
        else if (tls.nodePort === g.nodePort) problems.push(`${key(["gateway", "tls", "nodePort"])} = ${tls.nodePort}: must differ from asky:gateway.nodePort`);
    }
    if (g.awaitLoadBalancer !== undefined && g.exposure !== "LoadBalancer") {
        problems.push(`${key(["gateway", "awaitLoadBalancer"])} = ${g.awaitLoadBalancer}: only allowed with asky:gateway.exposure "LoadBalancer", not ${show(g.exposure)}`);
    }
    // TLS off in prod is a guardrail (config/index.ts prodGuardrails): refused unless lifted by asky:breakGlass.tlsOff.
    if (prod && tls.mode === "secret" && tls.hostname === undefined) {
        problems.push(`${key(["gateway", "tls", "hostname"])} = (missing): prod needs the public name clients use (e.g. asky.example.org): plain HTTP ` +
            `redirects there and the services get it as Host; without it the redirect would be built from the Host the client sent`);
    }
    if (prod && tls.mode === "selfSigned") {
        problems.push(`${key(["gateway", "tls", "mode"])} = "selfSigned": dev only; prod needs a certificate clients trust ("secret" or "certManager")`);
    }
    if (!prod && g.exposure === "LoadBalancer" && g.awaitLoadBalancer === undefined) {
        warnings.push(`asky:gateway.exposure is "LoadBalancer" in dev: the deploy does not wait for an address (minikube/kind have none without \`minikube tunnel\` or MetalLB); set asky:gateway.awaitLoadBalancer true if yours has one`);
    }
    if (prod && g.exposure === "NodePort") {
        warnings.push(`asky:gateway.exposure is "NodePort" in prod: put your own load balancer in front of the node port, and note the login limit then sees its address unless it keeps the client's`);
    }
    return { problems, warnings };
}

/** Whether `pulumi up` waits for the gateway's load balancer address: asky:gateway.awaitLoadBalancer, else prod only. */
export function awaitsLoadBalancer(c: AskyConfigShape): boolean {
    return c.gateway.exposure === "LoadBalancer" && (c.gateway.awaitLoadBalancer ?? c.environment === "prod");
}

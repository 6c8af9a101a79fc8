import * as assert from "assert";
import * as crypto from "crypto";
import { AskyGateway } from "../components";
import { AskyConfigShape, parseAskyConfig } from "../config";
import { renderGatewayConfig } from "../nginx/render";
import { mockKeyPair } from "../scripts/render";
import { effectiveFlows, formatPorts } from "../checklist";
import { find, isSecretEnvelope, namesOf, renderComponent, renderedStack, reveal, stackSettings } from "./support/render";

type Gateway = AskyConfigShape["gateway"];

/** components/gateway.ts on its own: the Kubernetes side (nginx.spec.ts runs the config in a real NGINX). */
describe("AskyGateway (components/gateway.ts)", () => {
    /** A stack's gateway settings with `change` applied, validated like the program does. */
    const settings = (stack: "dev" | "prod", change: (g: Record<string, any>) => void = () => undefined) => {
        const raw = JSON.parse(JSON.stringify(stackSettings(stack)));
        change(raw.gateway);
        return parseAskyConfig(raw).config;
    };
    const build = (stack: "dev" | "prod", change?: (g: Record<string, any>) => void, awaitLoadBalancer = stack === "prod") => renderComponent(() => {
        const s = settings(stack, change);
        const gateway: Gateway = s.gateway;
        const g = new AskyGateway("gw", {
            namespace: "asky", namespaceName: "asky", instance: "asky-test", gateway, awaitLoadBalancer,
            upstreamPorts: { auth: 8003, pyxis: 8001, requestManagement: 8002 },
            autoscaling: gateway.autoscale ? s.availability.autoscaling : undefined,
            disruptionBudget: s.availability.disruptionBudgets, spreadAcrossNodes: s.availability.spreadAcrossNodes,
            drainSeconds: s.availability.drainSeconds,
            monitoring: s.monitoring,
        });
        return { externalUrl: g.externalUrl, clusterUrl: g.clusterUrl };
    });
    const pod = (objects: any[]) => find(objects, "Deployment", "gateway").spec.template.spec;

    it("GW-1 renders gateway-config from nginx/ with the in-cluster Service names of the three services", async () => {
        const { objects } = await build("dev");
        const conf: string = find(objects, "ConfigMap", "gateway-config").data["nginx.conf"];
        for (const upstream of ["auth.asky.svc.cluster.local:8003", "pyxis.asky.svc.cluster.local:8001", "request-management.asky.svc.cluster.local:8002"]) {
            assert.ok(conf.includes(upstream), upstream);
        }
        assert.strictEqual(conf, renderGatewayConfig({
            upstreams: {
                auth: { host: "auth.asky.svc.cluster.local", port: 8003 },
                pyxis: { host: "pyxis.asky.svc.cluster.local", port: 8001 },
                requestManagement: { host: "request-management.asky.svc.cluster.local", port: 8002 },
            },
            listenPort: 8080, tlsPort: 8443, internalPort: 8090, readyPort: 8091, livePort: 8092, statusPort: 8081,
            serverNames: { public: "gateway.asky.svc.cluster.local", internal: "gateway-internal.asky.svc.cluster.local" },
            publicRoutes: ["/auth/login", "/pyxis/", "/requests/", "/healthz"],
            // dev limits: 500m CPU, 128Mi → one worker, 64Mi / 16 KiB connections.
            workerProcesses: 1, workerConnections: 4096, keepaliveConnections: 32, clientMaxBodySize: "1m",
            connectionsPerClient: 32, largeBodySlots: 32,
            proxyConnectTimeoutSeconds: 5, proxyReadTimeoutSeconds: 30, proxySendTimeoutSeconds: 30,
            // dev's drain of 10 s, halved.
            upstreamKeepaliveTimeSeconds: 5,
            loginRateLimitPerMinute: 30, loginBurst: 10, runtimeDir: "/tmp", errorLog: "/dev/stderr", accessLog: "/dev/stdout",
            metricsLogPort: 5140,
        }));
    });

    it("GW-8 runs nginx-unprivileged as UID 101 on port 8080 with a read-only root and /tmp as emptyDir", async () => {
        const { objects } = await build("dev");
        const spec = pod(objects);
        const c = spec.containers[0];
        assert.match(c.image, /^nginxinc\/nginx-unprivileged:\d/);
        assert.strictEqual(spec.securityContext.runAsUser, 101);
        assert.deepStrictEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [["http", 8080], ["internal", 8090], ["ready", 8091], ["live", 8092]]);
        assert.strictEqual(c.securityContext.readOnlyRootFilesystem, true);
        const tmp = c.volumeMounts.find((m: any) => m.mountPath === "/tmp");
        assert.ok(spec.volumes.find((v: any) => v.name === tmp.name).emptyDir);
        const conf = c.volumeMounts.find((m: any) => m.mountPath === "/etc/nginx/nginx.conf");
        assert.strictEqual(spec.volumes.find((v: any) => v.name === conf.name).configMap.name, "gateway-config");
    });

    it("sizes /tmp to hold every large-body slot full: largeBodySlots × clientMaxBodySize + 16Mi", async () => {
        const tmp = async (change?: (g: Record<string, any>) => void) =>
            pod((await build("dev", change)).objects).volumes.find((v: any) => v.name === "tmp").emptyDir.sizeLimit;
        assert.strictEqual(await tmp(), "48Mi", "32 × 1m + 16Mi");
        assert.strictEqual(await tmp((g) => { g.limits.largeBodySlots = 8; g.limits.clientMaxBodySize = "512k"; }), "20Mi");
        assert.strictEqual(await tmp((g) => { g.limits.clientMaxBodySize = 1048576; }), "48Mi", "a number of bytes");
    });

    it("HA-2 a stopping gateway pod keeps NGINX serving for asky:availability.drainSeconds before it is told to quit; the exporters get no drain", async () => {
        for (const stack of ["dev", "prod"] as const) {
            const drain = settings(stack).availability.drainSeconds;
            const spec = pod((await build(stack)).objects);
            assert.deepStrictEqual(spec.containers[0].lifecycle, { preStop: { sleep: { seconds: drain } } }, stack);
            assert.ok(spec.containers.slice(1).every((c: any) => c.lifecycle === undefined), "sidecars stop at once");
            assert.strictEqual(spec.terminationGracePeriodSeconds, drain + 30);
        }
    });

    it("HA-2 kept-alive upstream connections live at most half the drain, so NGINX closes each connection to a draining service pod before the pod stops", async () => {
        for (const stack of ["dev", "prod"] as const) {
            const drain = settings(stack).availability.drainSeconds;
            const conf = find((await build(stack)).objects, "ConfigMap", "gateway-config").data["nginx.conf"] as string;
            const times = [...conf.matchAll(/keepalive_time (\d+)s;/g)].map((m) => Number(m[1]));
            assert.deepStrictEqual(times, [Math.floor(drain / 2), Math.floor(drain / 2), Math.floor(drain / 2)], `${stack}: one per upstream`);
            assert.ok(times[0] < drain && times[0] >= 1);
        }
    });

    it("GW-7 probes /healthz on ports of their own: readiness on `ready`, liveness and startup on `live`", async () => {
        const c = pod((await build("dev")).objects).containers[0];
        assert.deepStrictEqual(c.readinessProbe.httpGet, { port: 8091, path: "/healthz" });
        assert.deepStrictEqual(c.livenessProbe.httpGet, { port: 8092, path: "/healthz" });
        assert.deepStrictEqual(c.startupProbe.httpGet, { port: 8092, path: "/healthz" });
        assert.notDeepStrictEqual(c.readinessProbe, c.livenessProbe);
    });

    it("WIRE-6 carries the checksum of its nginx.conf and the access-log program on the pod template", async () => {
        const { objects } = await build("dev");
        const data = find(objects, "ConfigMap", "gateway-config").data;
        const expected = crypto.createHash("sha256").update(data["nginx.conf"]).update("\0").update(data["gateway.mtail"]).update("\0").digest("hex");
        assert.strictEqual(find(objects, "Deployment", "gateway").spec.template.metadata.annotations["checksum/config"], expected);
    });

    it("sizes worker_processes to the CPU limit and worker_connections to the memory limit", async () => {
        const conf = async (cpu: string, memory = "128Mi") => find((await build("dev", (g) => {
            g.resources.limits.cpu = cpu;
            g.resources.limits.memory = memory;
        })).objects, "ConfigMap", "gateway-config").data["nginx.conf"] as string;
        assert.match(await conf("500m"), /worker_processes\s+1;[\s\S]*worker_connections\s+4096;/);
        assert.match(await conf("2", "256Mi"), /worker_processes\s+2;[\s\S]*worker_connections\s+4096;/);
        assert.match(await conf("2500m", "512Mi"), /worker_processes\s+3;[\s\S]*worker_connections\s+5461;/);
        assert.match(await conf("1", "256Mi"), /worker_connections\s+8192;[\s\S]*/, "prod: 256Mi, one CPU");
    });

    it("NET-3 dev exposes NodePort 30000; prod a LoadBalancer with an HPA and a PDB", async () => {
        const d = await build("dev");
        const devSvc = find(d.objects, "Service", "gateway");
        assert.deepStrictEqual([devSvc.spec.type, devSvc.spec.ports[0].nodePort, devSvc.spec.ports[0].targetPort], ["NodePort", 30000, "http"]);
        assert.match(String(d.outputs.externalUrl.value), /^http:\/\/.*:30000/);
        const p = await build("prod");
        const prodSvc = find(p.objects, "Service", "gateway");
        assert.strictEqual(prodSvc.spec.type, "LoadBalancer");
        assert.strictEqual(prodSvc.spec.externalTrafficPolicy, "Local", "GW-6 limits per real client address, not per node");
        assert.strictEqual(devSvc.spec.externalTrafficPolicy, undefined);
        assert.deepStrictEqual(namesOf(p.objects, "HorizontalPodAutoscaler"), ["gateway"]);
        assert.deepStrictEqual(namesOf(p.objects, "PodDisruptionBudget"), ["gateway"]);
    });

    it("the internal listener has its own ClusterIP Service, the services' GATEWAY_URL; the exposed Service carries only public ports", async () => {
        for (const stack of ["dev", "prod"] as const) {
            const { objects, outputs } = await build(stack);
            const internal = find(objects, "Service", "gateway-internal");
            assert.strictEqual(internal.spec.type, "ClusterIP");
            assert.deepStrictEqual(internal.spec.ports, [{ name: "internal", port: 80, targetPort: "internal", protocol: "TCP" }]);
            assert.deepStrictEqual(internal.spec.selector, find(objects, "Service", "gateway").spec.selector);
            assert.strictEqual(outputs.clusterUrl.value, "http://gateway-internal.asky.svc.cluster.local:80");
            const exposed = find(objects, "Service", "gateway").spec.ports.map((p: any) => p.targetPort);
            assert.deepStrictEqual(exposed, stack === "dev" ? ["http"] : ["http", "https"], stack);
        }
    });

    it("NET-2 in both stacks only request-management reaches the internal listener; the public ports are open to anyone; the exporters only to the scraper; the probe ports to no pod", async () => {
        for (const stack of ["dev", "prod"] as const) {
            const { objects } = await renderedStack(stack);
            const toGateway = effectiveFlows(objects, { stack, namespace: "asky" })
                .filter((f) => f.to === "gateway")
                .map((f) => `${f.from} ${formatPorts(f.ports)}`)
                .sort();
            const publicPorts = stack === "dev" ? "TCP/8080" : "TCP/8080, TCP/8443";
            const scraperPorts = stack === "dev" ? "TCP/3903, TCP/8080, TCP/9113" : "TCP/3903, TCP/8080, TCP/8443, TCP/9113";
            assert.deepStrictEqual(toGateway, [`external ${publicPorts}`, `monitoring ${scraperPorts}`, `other-namespaces ${publicPorts}`, "request-management TCP/8090"], stack);
        }
    });

    it("prod TLS from an organisation's Secret: mounted optional as a directory, HTTPS on 443, no certificate created", async () => {
        const { objects, resources } = await build("prod");
        const spec = pod(objects);
        const c = spec.containers[0];
        assert.ok(c.ports.some((p: any) => p.name === "https" && p.containerPort === 8443));
        const volume = spec.volumes.find((v: any) => v.name === "tls");
        assert.deepStrictEqual(volume.secret, {
            secretName: "gateway-tls", optional: true, defaultMode: 0o440,
            items: [{ key: "tls.crt", path: "tls.crt" }, { key: "tls.key", path: "tls.key" }],
        });
        const mount = c.volumeMounts.find((m: any) => m.name === "tls");
        assert.deepStrictEqual(mount, { name: "tls", mountPath: "/etc/nginx/tls", readOnly: true }, "no subPath: a renewed certificate reaches the pod");
        const svc = find(objects, "Service", "gateway");
        assert.deepStrictEqual(svc.spec.ports.find((p: any) => p.name === "https"), { name: "https", port: 443, targetPort: "https", protocol: "TCP" });
        assert.strictEqual(resources.filter((r) => /Certificate|SelfSignedCert|PrivateKey/.test(r.type)).length, 0);
        assert.ok(!objects.some((o) => o.kind === "Secret"), "the organisation's Secret is not ours");
        const conf: string = find(objects, "ConfigMap", "gateway-config").data["nginx.conf"];
        assert.match(conf, /listen 8443 ssl default_server;/);
        // prod names its host: the redirect never follows the Host a client sends, and the services get that name.
        assert.match(conf, /return 301 https:\/\/asky\.example\.org\$request_uri;/, "the configured hostname, on 443");
        assert.doesNotMatch(conf, /https:\/\/\$host/);
        assert.match(conf, /server_name asky\.example\.org;/);
    });

    it("TLS by cert-manager: a Certificate for the hostname from the configured issuer, issuing the mounted Secret", async () => {
        const { objects } = await build("prod", (g) => {
            g.tls = { mode: "certManager", secretName: "asky-tls", hostname: "asky.example.org", issuer: { kind: "ClusterIssuer", name: "letsencrypt" } };
        });
        const cert = find(objects, "Certificate", "asky-tls");
        assert.strictEqual(cert.apiVersion, "cert-manager.io/v1");
        assert.strictEqual(cert.metadata.namespace, "asky");
        assert.deepStrictEqual(cert.spec.dnsNames, ["asky.example.org"]);
        assert.strictEqual(cert.spec.secretName, "asky-tls");
        assert.deepStrictEqual(cert.spec.issuerRef, { group: "cert-manager.io", kind: "ClusterIssuer", name: "letsencrypt" });
        assert.strictEqual(cert.spec.privateKey.rotationPolicy, "Always");
        assert.strictEqual(pod(objects).volumes.find((v: any) => v.name === "tls").secret.secretName, "asky-tls");
        const conf: string = find(objects, "ConfigMap", "gateway-config").data["nginx.conf"];
        assert.match(conf, /return 301 https:\/\/asky\.example\.org\$request_uri;/);
        assert.match(conf, /server_name asky\.example\.org;/);
    });

    it("dev TLS self-signed with @pulumi/tls: the key stays a Pulumi secret, only in a kubernetes.io/tls Secret; HTTPS on its node port", async () => {
        const { objects, resources, secretLeaks, outputs } = await build("dev", (g) => {
            g.tls = { mode: "selfSigned", secretName: "gateway-tls", hostname: "asky.local", nodePort: 30443 };
        });
        const cert = resources.find((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert")!;
        assert.deepStrictEqual(cert.inputs.dnsNames, ["asky.local"]);
        assert.strictEqual(cert.inputs.validityPeriodHours, 90 * 24);
        assert.strictEqual(resources.find((r) => r.type === "tls:index/privateKey:PrivateKey" && r.name === "gw-tls-key")!.inputs.algorithm, "ECDSA");
        const secret = resources.find((r) => r.inputs.kind === "Secret")!;
        assert.strictEqual(secret.inputs.type, "kubernetes.io/tls");
        assert.ok(isSecretEnvelope(secret.inputs.stringData), "the private key is a Pulumi secret");
        const key = mockKeyPair("gw-tls-key").privateKeyPem;
        assert.strictEqual((reveal(secret.inputs.stringData) as any)["tls.key"], key);
        assert.deepStrictEqual(secretLeaks, []);
        const keyBody = key.split("\n")[1];
        assert.ok(!JSON.stringify(objects.filter((o) => o.kind !== "Secret")).includes(keyBody), "SEC-1");
        const svc = find(objects, "Service", "gateway");
        assert.deepStrictEqual(svc.spec.ports.map((p: any) => [p.name, p.port, p.nodePort]), [["http", 80, 30000], ["https", 443, 30443]]);
        assert.match(String(outputs.externalUrl.value), /^https:\/\/<node-ip>:30443/);
        assert.match(find(objects, "ConfigMap", "gateway-config").data["nginx.conf"], /return 301 https:\/\/asky\.local:30443\$request_uri;/);
    });

    it("a LoadBalancer is awaited in prod for its address; where none may come (dev), and for a NodePort, the Service says skipAwait (its pods' Deployment is awaited)", async () => {
        const prod = find((await build("prod")).objects, "Service", "gateway");
        assert.strictEqual(prod.metadata.annotations?.["pulumi.com/skipAwait"], undefined);
        const dev = find((await build("dev", (g) => { g.exposure = "LoadBalancer"; delete g.nodePort; }, false)).objects, "Service", "gateway");
        assert.strictEqual(dev.spec.type, "LoadBalancer");
        assert.strictEqual(dev.metadata.annotations?.["pulumi.com/skipAwait"], "true");
        const nodePort = find((await build("dev")).objects, "Service", "gateway");
        assert.deepStrictEqual(nodePort.metadata.annotations, { "pulumi.com/skipAwait": "true" }, "a NodePort has no address to wait for");
    });
});

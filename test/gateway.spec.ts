import * as assert from "assert";
import * as crypto from "crypto";
import { AskyGateway } from "../components";
import { renderGatewayConfig } from "../nginx/render";
import { find, namesOf, renderComponent, stackSettings } from "./support/render";

/** components/gateway.ts on its own: the Kubernetes side (nginx.spec.ts runs the config in a real NGINX). */
describe("AskyGateway (components/gateway.ts)", () => {
    const build = (stack: "dev" | "prod", cpuLimit?: string) => renderComponent(() => {
        const s = stackSettings(stack);
        const gateway = cpuLimit ? { ...s.gateway, resources: { ...s.gateway.resources, limits: { ...s.gateway.resources.limits, cpu: cpuLimit } } } : s.gateway;
        const g = new AskyGateway("gw", {
            namespace: "asky", namespaceName: "asky", instance: "asky-test", gateway,
            upstreamPorts: { auth: 8003, pyxis: 8001, requestManagement: 8002 },
            autoscaling: gateway.autoscale ? s.availability.autoscaling : undefined,
            disruptionBudget: s.availability.disruptionBudgets, spreadAcrossNodes: s.availability.spreadAcrossNodes,
        });
        return { externalUrl: g.externalUrl, clusterUrl: g.clusterUrl };
    });

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
            listenPort: 8080, workerProcesses: 1, workerConnections: 1024, keepaliveConnections: 32, clientMaxBodySize: "1m",
            proxyConnectTimeoutSeconds: 5, proxyReadTimeoutSeconds: 30, proxySendTimeoutSeconds: 30,
            loginRateLimitPerMinute: 30, loginBurst: 10, runtimeDir: "/tmp", errorLog: "/dev/stderr", accessLog: "/dev/stdout",
        }));
    });

    it("GW-8 runs nginx-unprivileged as UID 101 on port 8080 with a read-only root and /tmp as emptyDir", async () => {
        const { objects } = await build("dev");
        const pod = find(objects, "Deployment", "gateway").spec.template.spec;
        const c = pod.containers[0];
        assert.match(c.image, /^nginxinc\/nginx-unprivileged:\d/);
        assert.strictEqual(pod.securityContext.runAsUser, 101);
        assert.deepStrictEqual(c.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
        assert.strictEqual(c.securityContext.readOnlyRootFilesystem, true);
        const tmp = c.volumeMounts.find((m: any) => m.mountPath === "/tmp");
        assert.ok(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir);
        const conf = c.volumeMounts.find((m: any) => m.mountPath === "/etc/nginx/nginx.conf");
        assert.strictEqual(pod.volumes.find((v: any) => v.name === conf.name).configMap.name, "gateway-config");
    });

    it("GW-7 probes /healthz on the declared port, readiness differing from liveness", async () => {
        const { objects } = await build("dev");
        const c = find(objects, "Deployment", "gateway").spec.template.spec.containers[0];
        assert.deepStrictEqual(c.readinessProbe.httpGet, { port: "http", path: "/healthz" });
        assert.deepStrictEqual(c.livenessProbe.httpGet, { port: "http", path: "/healthz" });
        assert.notDeepStrictEqual(c.readinessProbe, c.livenessProbe);
    });

    it("WIRE-6 carries the checksum of its nginx.conf on the pod template", async () => {
        const { objects } = await build("dev");
        const conf = find(objects, "ConfigMap", "gateway-config").data["nginx.conf"];
        const expected = crypto.createHash("sha256").update(conf).update("\0").digest("hex");
        assert.strictEqual(find(objects, "Deployment", "gateway").spec.template.metadata.annotations["checksum/config"], expected);
    });

    it("sizes worker_processes to the container's CPU limit", async () => {
        const conf = async (cpu: string) => find((await build("dev", cpu)).objects, "ConfigMap", "gateway-config").data["nginx.conf"] as string;
        assert.match(await conf("500m"), /worker_processes\s+1;/);
        assert.match(await conf("2"), /worker_processes\s+2;/);
        assert.match(await conf("2500m"), /worker_processes\s+3;/);
    });

    it("NET-3 dev exposes NodePort 30000; prod a LoadBalancer with an HPA and a PDB", async () => {
        const d = await build("dev");
        const devSvc = find(d.objects, "Service", "gateway");
        assert.deepStrictEqual([devSvc.spec.type, devSvc.spec.ports[0].nodePort, devSvc.spec.ports[0].targetPort], ["NodePort", 30000, "http"]);
        assert.match(String(d.outputs.externalUrl.value), /:30000/);
        assert.strictEqual(d.outputs.clusterUrl.value, "http://gateway.asky.svc.cluster.local:80");
        const p = await build("prod");
        const prodSvc = find(p.objects, "Service", "gateway");
        assert.strictEqual(prodSvc.spec.type, "LoadBalancer");
        assert.strictEqual(prodSvc.spec.externalTrafficPolicy, "Local", "GW-6 limits per real client address, not per node");
        assert.strictEqual(devSvc.spec.externalTrafficPolicy, undefined);
        assert.deepStrictEqual(namesOf(p.objects, "HorizontalPodAutoscaler"), ["gateway"]);
        assert.deepStrictEqual(namesOf(p.objects, "PodDisruptionBudget"), ["gateway"]);
    });
});

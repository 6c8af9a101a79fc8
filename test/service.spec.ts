import * as assert from "assert";
import { execFile } from "child_process";
import * as http from "http";
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { AskyService } from "../components";
import type { ServiceName } from "../config";
import { find, namesOf, renderComponent, stackSettings } from "./support/render";

/** components/service.ts (with components/workload.ts) on its own: one Asky API service. */
describe("AskyService (components/service.ts)", () => {
    const build = (name: ServiceName, stack: "dev" | "prod" = "dev", firebase = false, token = '{"token":"t1"}') => renderComponent(() => {
        const s = stackSettings(stack);
        new AskyService(name, {
            serviceName: name, namespace: "asky", instance: "asky-test", settings: s.services[name],
            databaseUrlSecretName: `${name}-database-url`, databaseUrl: pulumi.secret("postgresql+asyncpg://u:p@h:5432/asky"),
            gatewayUrl: "http://gateway.asky.svc.cluster.local:80",
            jwtKey: { secretName: "jwt-public-key", pem: "PEM" },
            firebase: firebase ? { secretName: "firebase-service-account", json: pulumi.secret("{}") } : undefined,
            serviceToken: name === "request-management" ? { secretName: "service-token", json: pulumi.secret(token) } : undefined,
            autoscaling: s.services[name].autoscale ? s.availability.autoscaling : undefined,
            disruptionBudget: s.availability.disruptionBudgets, spreadAcrossNodes: s.availability.spreadAcrossNodes,
            drainSeconds: s.availability.drainSeconds,
        });
    });

    it("POD-2 runs the root-by-default image as a numeric non-root UID that can read its Secret files", async () => {
        const pod = find((await build("pyxis")).objects, "Deployment", "pyxis").spec.template.spec;
        assert.deepStrictEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, fsGroupChangePolicy: "OnRootMismatch", seccompProfile: { type: "RuntimeDefault" } });
        assert.strictEqual(pod.automountServiceAccountToken, false);
    });

    it("HA-2 a stopping pod keeps serving for asky:availability.drainSeconds (preStop sleep) before its signal, within a grace period that covers it", async () => {
        for (const stack of ["dev", "prod"] as const) {
            const drain = stackSettings(stack).availability.drainSeconds;
            assert.ok(drain > 0, `${stack} drains`);
            const pod = find((await build("pyxis", stack)).objects, "Deployment", "pyxis").spec.template.spec;
            assert.deepStrictEqual(pod.containers[0].lifecycle, { preStop: { sleep: { seconds: drain } } }, stack);
            assert.ok(pod.terminationGracePeriodSeconds >= drain + 30, `${stack}: ${pod.terminationGracePeriodSeconds} s of grace`);
        }
    });

    it("POD-10 uses the open heartbeat of request-management for readiness, an HTTP answer of any status elsewhere; liveness is TCP", async () => {
        const rm = find((await build("request-management")).objects, "Deployment", "request-management").spec.template.spec.containers[0];
        assert.deepStrictEqual(rm.readinessProbe.httpGet, { port: "http", path: "/requests/heartbeat" });
        assert.deepStrictEqual(rm.livenessProbe.tcpSocket, { port: "http" });
        const auth = find((await build("auth")).objects, "Deployment", "auth").spec.template.spec.containers[0];
        assert.deepStrictEqual(auth.readinessProbe.exec.command.slice(0, 2), ["python", "-c"]);
        assert.match(auth.readinessProbe.exec.command[2], /HTTPConnection\('127\.0\.0\.1', 8003, timeout=2\)/);
        assert.ok(auth.readinessProbe.timeoutSeconds > 2, "the probe outlasts the script's own timeout");
        assert.deepStrictEqual(auth.livenessProbe.tcpSocket, { port: "http" });
    });

    it("POD-10 the HTTP-answer readiness passes on a 404 and fails where only the TCP port answers (what liveness checks)", async () => {
        const auth = find((await build("auth")).objects, "Deployment", "auth").spec.template.spec.containers[0];
        const script = (port: number) => auth.readinessProbe.exec.command[2].replace("8003", String(port));
        const probe = (port: number) => new Promise<number>((resolve) => {
            // The image's python is 3.8; the script is plain Python 3.
            execFile("python3", ["-c", script(port)], { timeout: 10_000 }, (err) => resolve(err ? (err as any).code ?? 1 : 0));
        });
        const http404 = http.createServer((_req, res) => res.writeHead(404).end("{\"detail\":\"Not Found\"}"));
        // Accepts connections and never answers: an app whose event loop is stuck.
        const silent = net.createServer(() => { /* hold the socket */ });
        const listen = (s: net.Server) => new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as net.AddressInfo).port)));
        const [p404, pSilent] = [await listen(http404), await listen(silent)];
        try {
            assert.strictEqual(await probe(p404), 0, "any HTTP status means the app serves");
            assert.notStrictEqual(await probe(pSilent), 0, "an open port that never answers is not ready");
        } finally {
            http404.close();
            silent.close();
            for (const s of [http404, silent]) (s as any).closeAllConnections?.();
        }
    });

    it("WIRE-1/WIRE-2 its Service selects exactly its pods and targets the named container port", async () => {
        const { objects } = await build("auth");
        const svc = find(objects, "Service", "auth");
        const deploy = find(objects, "Deployment", "auth");
        for (const [k, v] of Object.entries(svc.spec.selector)) assert.strictEqual(deploy.spec.template.metadata.labels[k], v);
        assert.deepStrictEqual(deploy.spec.selector.matchLabels, svc.spec.selector);
        assert.deepStrictEqual(svc.spec.ports[0], { name: "http", port: 8003, targetPort: "http", protocol: "TCP" });
        assert.deepStrictEqual(deploy.spec.template.spec.containers[0].ports, [{ name: "http", containerPort: 8003, protocol: "TCP" }]);
        assert.strictEqual(svc.spec.type, "ClusterIP");
    });

    it("mounts the Firebase service account only when configured", async () => {
        const without = find((await build("request-management")).objects, "Deployment", "request-management").spec.template.spec;
        assert.ok(!without.volumes.some((v: any) => v.name === "firebase"));
        const withIt = find((await build("request-management", "dev", true)).objects, "Deployment", "request-management").spec.template.spec;
        assert.deepStrictEqual(withIt.containers[0].volumeMounts.find((m: any) => m.name === "firebase"),
            { name: "firebase", mountPath: "/app/serviceAccountKey.json", subPath: "serviceAccountKey.json", readOnly: true });
    });

    it("mounts the service token read-only at /app/services/token.json in request-management only, as one file (subPath)", async () => {
        const pod = find((await build("request-management")).objects, "Deployment", "request-management").spec.template.spec;
        const mounts = pod.containers[0].volumeMounts.filter((m: any) => m.mountPath.startsWith("/app/services"));
        // subPath: the rest of /app/services (the services' Python code) stays the image's.
        assert.deepStrictEqual(mounts, [{ name: "service-token", mountPath: "/app/services/token.json", subPath: "token.json", readOnly: true }]);
        assert.deepStrictEqual(pod.volumes.find((v: any) => v.name === "service-token").secret,
            { secretName: "service-token", items: [{ key: "token.json", path: "token.json" }], defaultMode: 0o440 });
        for (const other of ["auth", "pyxis"] as const) {
            const spec = find((await build(other)).objects, "Deployment", other).spec.template.spec;
            assert.ok(!spec.volumes.some((v: any) => v.name === "service-token"), other);
        }
    });

    it("WIRE-6 a new service token rolls request-management (checksum annotation); the same token keeps the pod template", async () => {
        const checksum = async (token: string) =>
            find((await build("request-management", "dev", false, token)).objects, "Deployment", "request-management").spec.template.metadata.annotations["checksum/secrets"];
        const first = await checksum('{"token":"t1"}');
        assert.match(first, /^[0-9a-f]{64}$/);
        assert.strictEqual(await checksum('{"token":"t1"}'), first);
        assert.notStrictEqual(await checksum('{"token":"t2"}'), first);
    });

    it("refuses request-management without a service token, and a token for another service", () => {
        const s = stackSettings("dev");
        const args = (name: ServiceName, serviceToken?: { secretName: string; json: string }) => ({
            serviceName: name, namespace: "asky", instance: "asky-test", settings: s.services[name],
            databaseUrlSecretName: "x", databaseUrl: "x", gatewayUrl: "x", jwtKey: { secretName: "x", pem: "x" },
            serviceToken, disruptionBudget: false, spreadAcrossNodes: false, drainSeconds: 0,
        });
        assert.throws(() => new AskyService("rm", args("request-management")), /serviceToken is required for request-management/);
        assert.throws(() => new AskyService("pyxis", args("pyxis", { secretName: "service-token", json: "{}" })), /only for it \(serviceName is pyxis\)/);
    });

    it("HA-1/HA-3 prod: autoscaled services get an HPA and a PDB and no fixed replicas; fixed ones keep replicas", async () => {
        const pyxis = await build("pyxis", "prod");
        assert.strictEqual(find(pyxis.objects, "Deployment", "pyxis").spec.replicas, undefined);
        assert.deepStrictEqual(namesOf(pyxis.objects, "HorizontalPodAutoscaler"), ["pyxis"]);
        const pdb = find(pyxis.objects, "PodDisruptionBudget", "pyxis");
        assert.deepStrictEqual(pdb.spec, { maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow", selector: { matchLabels: { "app.kubernetes.io/name": "pyxis", "app.kubernetes.io/instance": "asky-test" } } });
        const auth = await build("auth", "prod");
        assert.strictEqual(find(auth.objects, "Deployment", "auth").spec.replicas, 2);
        assert.deepStrictEqual(namesOf(auth.objects, "HorizontalPodAutoscaler"), []);
        assert.deepStrictEqual(find(auth.objects, "Deployment", "auth").spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
    });

    it("dev: one replica, no HPA, no PDB", async () => {
        const { objects } = await build("pyxis");
        assert.strictEqual(find(objects, "Deployment", "pyxis").spec.replicas, 1);
        assert.deepStrictEqual([...namesOf(objects, "HorizontalPodAutoscaler"), ...namesOf(objects, "PodDisruptionBudget")], []);
    });
});

import * as assert from "assert";
import * as dgram from "dgram";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { GATEWAY_METRICS_LOG_PORT } from "../components";
import { dashboardQueries } from "../monitoring/dashboard";
import { GATEWAY_PORTS } from "../nginx/render";
import { RegisteredResource } from "../scripts/render";
import { RunningGateway, StubUpstream, freePort, httpRequest, startGateway, startStubUpstream } from "./support/nginx";
import { TestPostgres } from "./support/postgres";
import {
    EXPORTER_PROGRAMS,
    exporterBinary,
    Managed,
    ScrapeTarget,
    annotatedTargets,
    get,
    imageParts,
    remapPorts,
    requireBinary,
    serviceMonitorTargets,
    startManaged,
    waitFor,
} from "./support/monitoring";
import { find, renderedStack, reveal } from "./support/render";
import { renderStack } from "../scripts/render";

const NAMESPACE = "asky";

/** The value a pod would get for an env var: literal, or the key of a rendered Secret. */
function secretValue(resources: RegisteredResource[], name: string, key: string): string {
    const r = resources.find((x) => x.inputs.kind === "Secret" && (x.inputs.metadata as any)?.name === name);
    if (!r) throw new Error(`no Secret ${name} in the render`);
    const data = reveal(r.inputs.stringData) as Record<string, string>;
    if (!(key in data)) throw new Error(`Secret ${name} has no key ${key}`);
    return data[key];
}

function freeUdpPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = dgram.createSocket("udp4");
        s.once("error", reject);
        s.bind(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

/** Sends RESP commands on one connection and resolves with the raw replies once `replies` lines came back. */
function redisCommands(port: number, commands: string[][]): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1" });
        let out = "";
        socket.on("data", (d) => {
            out += d.toString();
            if (out.split("\r\n").filter((l) => /^[+\-:$]/.test(l)).length >= commands.length) { socket.end(); resolve(out); }
        });
        socket.on("error", reject);
        socket.write(commands.map((c) => `*${c.length}\r\n${c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`).join(""));
    });
}

/**
 * The whole metrics path with the real programs (issue 13): PostgreSQL with our bootstrap SQL and
 * its monitoring role, redis-server with the rendered args, NGINX with our gateway config, each
 * exporter run from Debian's package with exactly the args and env the rendered manifests give its
 * container (only addresses are mapped to local ports), and a real Prometheus whose scrape config
 * is derived from the rendered discovery: the prometheus.io annotations, and the same targets from
 * the ServiceMonitor when the Prometheus Operator switch is on.
 */
describe("metrics of every component reach a real Prometheus (Debian's prometheus and exporters, the rendered flags)", function () {
    this.timeout(240_000);
    let targets: ScrapeTarget[];
    let operatorTargets: ScrapeTarget[];
    let rules: unknown;
    const managed: Managed[] = [];
    const stubs: StubUpstream[] = [];
    let pg: TestPostgres | undefined;
    let gateway: RunningGateway | undefined;
    let promPort = 0;
    let workDir = "";
    const sent = { pyxis200: 5, requests503: 3, notFound: 2, logins: 12, internalUsers: 2 };
    let login429 = 0;

    let redisPort = 0;
    let renderedResources: RegisteredResource[] = [];
    const describeAll = () => managed.map((m) => `--- ${m.name}:\n${m.output().slice(-3000)}`).join("\n");
    const query = async (expr: string): Promise<any> => {
        const r = await get(promPort, `/api/v1/query?query=${encodeURIComponent(expr)}`);
        const body = JSON.parse(r.body);
        if (body.status !== "success") throw new Error(`query ${expr}: ${r.body}`);
        return body.data;
    };
    const scalar = async (expr: string): Promise<number | undefined> => {
        const data = await query(expr);
        return data.result.length ? Number(data.result[0].value[1]) : undefined;
    };

    before(async () => {
        requireBinary("prometheus", "prometheus");
        requireBinary("redis-server", "redis-server");
        for (const image of Object.keys(EXPORTER_PROGRAMS)) exporterBinary(image);
        const { objects, resources } = await renderedStack("dev");
        renderedResources = resources;
        targets = annotatedTargets(objects);
        const withOperator = await renderStack("dev", {
            "asky:monitoring": { ...YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.dev.yaml"), "utf8")).config["asky:monitoring"], prometheusOperator: true },
        });
        operatorTargets = serviceMonitorTargets(withOperator.objects);
        rules = find(withOperator.objects, "PrometheusRule", "asky-alerts").spec;
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-metrics-"));

        // PostgreSQL: our SQL, applied with the Secrets the bootstrap Job reads (envFrom).
        pg = await TestPostgres.start({ database: "asky" });
        const bootstrap = find(objects, "ConfigMap", "postgres-initdb-config").data["bootstrap.sql"];
        const env: Record<string, string> = {};
        for (const s of ["database-role-passwords", "initial-user-passwords"]) {
            const r = resources.find((x) => x.inputs.kind === "Secret" && (x.inputs.metadata as any).name === s)!;
            Object.assign(env, reveal(r.inputs.stringData));
        }
        const sqlFile = path.join(pg.workDir, "bootstrap.sql");
        fs.writeFileSync(sqlFile, bootstrap);
        const applied = await pg.psqlFile(sqlFile, { env });
        assert.strictEqual(applied.code, 0, applied.stderr);

        // redis-server with the container's own args (its /data is a temp dir here).
        const redisContainer = find(objects, "Deployment", "redis").spec.template.spec.containers[0];
        redisPort = await freePort();
        const redisDir = path.join(workDir, "redis");
        fs.mkdirSync(redisDir);
        let [redisBinary, ...redisArgs] = redisContainer.args as string[];
        const dirAt = redisArgs.indexOf("--dir");
        redisArgs[dirAt + 1] = redisDir;
        // Its mounted Secret items (the ACL file) become files of a local directory.
        const redisPod = find(objects, "Deployment", "redis").spec.template.spec;
        for (const m of redisContainer.volumeMounts ?? []) {
            const volume = redisPod.volumes.find((v: any) => v.name === m.name);
            if (!volume?.secret) continue;
            const dir = path.join(workDir, `redis-${m.name}`);
            fs.mkdirSync(dir);
            for (const item of volume.secret.items) fs.writeFileSync(path.join(dir, item.path), secretValue(resources, volume.secret.secretName, item.key));
            redisArgs = redisArgs.map((a) => a.split(m.mountPath).join(dir));
        }
        managed.push(startManaged("redis-server", redisBinary, [...redisArgs, "--port", String(redisPort), "--bind", "127.0.0.1"], process.env));
        await waitFor("redis PONG", async () => ((await redisCommands(redisPort, [["PING"]])).includes("+PONG") ? true : undefined), 20_000, describeAll);

        // NGINX with our gateway config, its metrics stream to a local UDP port.
        for (const name of ["auth", "pyxis", "request-management"]) stubs.push(await startStubUpstream(name));
        const udpPort = await freeUdpPort();
        gateway = await startGateway(
            { auth: { host: "127.0.0.1", port: stubs[0].port }, pyxis: { host: "127.0.0.1", port: stubs[1].port }, requestManagement: { host: "127.0.0.1", port: stubs[2].port } },
            { metricsLogPort: udpPort },
        );

        // Each exporter: the program of its image at its version, the container's args and env.
        const scrapeConfigs: unknown[] = [];
        for (const t of targets) {
            const local = await freePort();
            const ports: Record<number, number> = {
                [t.containerPort]: local,
                [GATEWAY_PORTS.status]: gateway.statusPort,
                [GATEWAY_METRICS_LOG_PORT]: udpPort,
                6379: redisPort,
                5432: pg.port,
            };
            // The image's program at the image's version (mtail: Debian's, see EXPORTER_PROGRAMS).
            const program = exporterBinary(imageParts(t.container.image).name);
            let args = ((t.container.args ?? []) as string[]).map((a) => remapPorts(a, ports));
            // Mounted ConfigMap items become files in a local directory at the same role.
            for (const m of t.container.volumeMounts ?? []) {
                const volume = t.pod.volumes.find((v: any) => v.name === m.name);
                if (!volume?.configMap) continue;
                const cm = objects.find((o: any) => o.kind === "ConfigMap" && o.metadata.name === volume.configMap.name) as any;
                const dir = path.join(workDir, `${t.job}-${m.name}`);
                fs.mkdirSync(dir);
                for (const item of volume.configMap.items ?? Object.keys(cm.data).map((key) => ({ key, path: key }))) fs.writeFileSync(path.join(dir, item.path), cm.data[item.key]);
                args = args.map((a) => a.split(m.mountPath).join(dir));
            }
            const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: workDir };
            for (const e of t.container.env ?? []) {
                childEnv[e.name] = e.valueFrom?.secretKeyRef
                    ? secretValue(resources, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key)
                    : remapPorts(String(e.value), ports).replace(/^postgres:/, "127.0.0.1:");
            }
            managed.push(startManaged(t.job, program, args, childEnv, workDir));
            await waitFor(`${t.job} on ${local}${t.path}`, async () => ((await get(local, t.path)).status === 200 ? true : undefined), 30_000, describeAll);
            // What Kubernetes service discovery adds: the namespace label.
            scrapeConfigs.push({ job_name: t.job, metrics_path: t.path, static_configs: [{ targets: [`127.0.0.1:${local}`], labels: { namespace: NAMESPACE } }] });
        }

        // Prometheus: every second, our alert rules loaded.
        const promDir = path.join(workDir, "prometheus");
        fs.mkdirSync(promDir);
        fs.writeFileSync(path.join(promDir, "rules.yml"), YAML.stringify(rules));
        fs.writeFileSync(path.join(promDir, "prometheus.yml"), YAML.stringify({
            global: { scrape_interval: "1s", scrape_timeout: "900ms", evaluation_interval: "1s" },
            rule_files: ["rules.yml"],
            scrape_configs: scrapeConfigs,
        }));
        promPort = await freePort();
        managed.push(startManaged("prometheus", "prometheus", [
            `--config.file=${path.join(promDir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(promDir, "data")}`,
            `--web.listen-address=127.0.0.1:${promPort}`, "--storage.tsdb.retention.time=1h",
        ], process.env, promDir));
        await waitFor("Prometheus ready", async () => ((await get(promPort, "/-/ready")).status === 200 ? true : undefined), 60_000, describeAll);

        // Traffic: routed answers, an upstream 5xx, a 404, the login limit, the internal listener; cache hits and misses.
        const ports = gateway.ports;
        for (let i = 0; i < sent.pyxis200; i++) assert.strictEqual((await httpRequest({ port: ports.http, path: `/pyxis/dispensers/${i}` })).status, 200);
        for (let i = 0; i < sent.requests503; i++) assert.strictEqual((await httpRequest({ port: ports.http, path: "/requests/__status?code=503" })).status, 503);
        for (let i = 0; i < sent.notFound; i++) assert.strictEqual((await httpRequest({ port: ports.http, path: "/nope" })).status, 404);
        for (let i = 0; i < sent.logins; i++) {
            const r = await httpRequest({ port: ports.http, path: "/auth/login", method: "POST", body: "{}", headers: { "content-type": "application/json" } });
            if (r.status === 429) login429++;
        }
        for (let i = 0; i < sent.internalUsers; i++) assert.strictEqual((await httpRequest({ port: ports.internal, path: "/auth/users/a@asky.local" })).status, 200);
        assert.ok(login429 > 0, "the login limit (burst 5) refused some of 12 logins");
        await redisCommands(redisPort, [["SET", "k", "v"], ["GET", "k"], ["GET", "absent"]]);
    });

    after(async () => {
        for (const m of managed.reverse()) await m.stop();
        await gateway?.stop();
        for (const s of stubs) await s.close();
        await pg?.stop();
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("the annotations and the ServiceMonitor name the same four targets: one per exporter, on its `metrics` Service", () => {
        const shape = (ts: ScrapeTarget[]) => ts.map((t) => `${t.job} ${t.path} ${t.owner.kind}/${t.owner.metadata.name} ${t.container.name}:${t.containerPort}`);
        assert.deepStrictEqual(shape(targets), [
            "gateway-log-metrics /metrics Deployment/gateway access-log-exporter:3903",
            "gateway-metrics /metrics Deployment/gateway nginx-exporter:9113",
            "postgres-exporter /metrics Deployment/postgres-exporter postgres-exporter:9187",
            "redis-metrics /metrics Deployment/redis redis-exporter:9121",
        ]);
        assert.deepStrictEqual(shape(operatorTargets), shape(targets));
        assert.ok(operatorTargets.every((t) => t.interval === "30s"), "the ServiceMonitor scrapes at asky:monitoring.scrapeInterval");
    });

    it("Prometheus scrapes every target up, and has every series the dashboard queries", async () => {
        const names = [...new Set(dashboardQueries().flatMap((q) => q.match(/\b(?:asky|nginx|pg|redis)_[a-z_]+\b/g) ?? []))].sort();
        assert.ok(names.length >= 15, names.join(" "));
        const missing = await waitFor("every dashboard series", async () => {
            const up = await query(`up{namespace="${NAMESPACE}"}`);
            if (up.result.length !== targets.length || up.result.some((r: any) => r.value[1] !== "1")) return undefined;
            const absent: string[] = [];
            for (const n of names) if ((await query(`count(${n}{namespace="${NAMESPACE}"})`)).result.length === 0) absent.push(n);
            return absent.length === 0 ? absent : undefined;
        }, 60_000, describeAll);
        assert.deepStrictEqual(missing, []);
    });

    it("every dashboard query is valid PromQL and returns data once the stack has traffic", async () => {
        const empty: string[] = [];
        await waitFor("dashboard queries with data", async () => {
            empty.length = 0;
            for (const q of dashboardQueries()) {
                const expr = q.split("$__rate_interval").join("1m").split("$namespace").join(NAMESPACE);
                const data = await query(expr);
                if (data.result.length === 0) empty.push(q);
            }
            return empty.length === 0 ? true : undefined;
        }, 60_000, () => `queries without data:\n${empty.join("\n")}`);
    });

    it("the exporters report the components up: nginx_up, pg_up and redis_up are 1", async () => {
        for (const m of ["nginx_up", "pg_up", "redis_up"]) assert.strictEqual(await scalar(`min(${m}{namespace="${NAMESPACE}"})`), 1, m);
        // The monitoring role sees the database's activity (pg_monitor): at least its own backend.
        assert.ok((await scalar(`pg_stat_database_numbackends{datname="asky"}`))! >= 1);
        assert.ok((await scalar(`nginx_connections_accepted`))! >= sent.pyxis200);
    });

    it("the access-log metrics count each request by listener, route and status, and time the upstream", async () => {
        const count = (labels: string) => scalar(`sum(asky_gateway_requests_total{namespace="${NAMESPACE}", ${labels}})`);
        await waitFor("the last requests counted", async () => ((await count(`listener="internal"`)) === sent.internalUsers ? true : undefined), 30_000);
        assert.strictEqual(await count(`listener="public", route="/pyxis", status="200"`), sent.pyxis200);
        // The service's 503, intercepted by NGINX: still counted on its route, not on the error page's URI.
        assert.strictEqual(await count(`listener="public", route="/requests", status="503"`), sent.requests503);
        assert.strictEqual(await count(`listener="public", route="other", status="404"`), sent.notFound);
        assert.strictEqual(await count(`route="/auth/login", status="429"`), login429);
        assert.strictEqual(await count(`route="/auth/login", status="200"`), sent.logins - login429);
        assert.strictEqual(await count(`listener="internal", route="/auth/users/", status="200"`), sent.internalUsers);
        // Latency samples only where a service answered: none for the 404s and 429s NGINX gave itself.
        const samples = (route: string) => scalar(`sum(asky_gateway_upstream_seconds_count{namespace="${NAMESPACE}", route="${route}"})`);
        assert.strictEqual(await samples("/pyxis"), sent.pyxis200);
        assert.strictEqual(await samples("/auth/login"), sent.logins - login429);
        assert.strictEqual(await samples("other"), undefined);
    });

    it("no exporter logs a password: each one's output is free of every generated secret", async () => {
        const { resources } = await renderedStack("dev");
        const secrets = ["postgres-superuser", "database-role-passwords", "postgres-exporter-credentials", "initial-user-passwords"].flatMap((name) =>
            Object.entries(reveal(resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === name)!.inputs.stringData) as Record<string, string>)
                .filter(([key]) => key !== "username").map(([, value]) => value));
        assert.ok(secrets.length >= 8, secrets.join(" "));
        for (const m of managed) for (const s of secrets) assert.ok(!m.output().includes(s), `${m.name} printed ${s}`);
    });

    it("Redis' default user (the services') has the data commands but no scripting and no dangerous command; the exporter logs in as its own user (issue 22 item 7)", async () => {
        const reply = (commands: string[][]) => redisCommands(redisPort, commands);
        assert.match(await reply([["SET", "acl:k", "v"], ["EXPIRE", "acl:k", "60"], ["GET", "acl:k"], ["INCR", "acl:n"], ["DEL", "acl:k", "acl:n"]]), /^\+OK\r\n:1\r\n\$1\r\nv\r\n:1\r\n:2\r\n$/);
        for (const command of [["EVAL", "return 1", "0"], ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"], ["SCRIPT", "LOAD", "return 1"], ["FUNCTION", "LIST"],
            ["CONFIG", "SET", "maxmemory", "0"], ["CONFIG", "GET", "*"], ["FLUSHALL"], ["KEYS", "*"], ["DEBUG", "SLEEP", "0"], ["MONITOR"], ["ACL", "LIST"], ["SHUTDOWN"], ["MODULE", "LIST"], ["CLIENT", "KILL", "ID", "1"]]) {
            // Redis 7 also refuses DEBUG and MODULE on its own (enable-debug-command no): either refusal, never a result.
            assert.match(await reply([command]), /^-(NOPERM |ERR .*not allowed)/, command.join(" "));
        }
        // Only with its Secret's password: a client cannot become the exporter's user without it.
        assert.match(await reply([["AUTH", "metrics", "guess"]]), /^-WRONGPASS/);
        const password = secretValue(renderedResources, "redis-acl", "password");
        assert.match(await reply([["AUTH", "metrics", password], ["INFO", "memory"], ["GET", "acl:k"]]), /^\+OK\r\n\$\d+\r\n# Memory[\s\S]*-NOPERM /);
        assert.doesNotMatch(managed.find((m) => m.name === "redis-metrics")?.output() ?? "", /NOPERM|WRONGPASS|error/i, "redis_exporter had every command it needs");
    });

    it("the cache's hits and misses arrive (redis_keyspace_hits_total, redis_keyspace_misses_total)", async () => {
        await waitFor("a hit and a miss", async () => {
            const hits = await scalar(`redis_keyspace_hits_total{namespace="${NAMESPACE}"}`);
            const misses = await scalar(`redis_keyspace_misses_total{namespace="${NAMESPACE}"}`);
            return hits! >= 1 && misses! >= 1 ? true : undefined;
        }, 30_000);
    });

    it("the shipped alert rules evaluate on these series: the 5xx ratio is pending, the database is not down", async () => {
        // rate() sees only increases after a series' first sample: more 503s once Prometheus has the series.
        for (let i = 0; i < sent.requests503; i++) await httpRequest({ port: gateway!.ports.http, path: "/requests/__status?code=503" });
        const states = await waitFor("rules evaluated", async () => {
            const r = JSON.parse((await get(promPort, "/api/v1/rules")).body);
            const list = r.data.groups.flatMap((g: any) => g.rules);
            if (list.some((x: any) => x.health !== "ok")) throw new Error(JSON.stringify(list.filter((x: any) => x.health !== "ok")));
            const byName = Object.fromEntries(list.map((x: any) => [x.name, x.state]));
            return byName.AskyGateway5xxRatioHigh === "pending" ? byName : undefined;
        }, 30_000);
        assert.strictEqual(states.AskyDatabaseDown, "inactive");
        assert.strictEqual(states.AskyDatabaseUnmonitored, "inactive");
    });
});

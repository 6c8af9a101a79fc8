// Harness for the observability tests: what Prometheus would scrape, derived from the rendered
// objects (prometheus.io annotations or ServiceMonitor endpoints), the binaries behind the exporter
// images (built by scripts/toolchain.sh at the images' versions), and managed child processes.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import type { K8sManifest } from "../../scripts/render";

type Obj = K8sManifest & Record<string, any>;

/** One scrape target: a metrics Service and the container behind its port. */
export interface ScrapeTarget {
    /** Prometheus' job: the Service's name (what both the annotations job and a ServiceMonitor use). */
    job: string;
    path: string;
    /** The exporter's container port. */
    containerPort: number;
    /** The container serving it, as rendered. */
    container: Record<string, any>;
    /** The pod spec it runs in. */
    pod: Record<string, any>;
    /** The workload owning the pod template. */
    owner: Obj;
    /** ServiceMonitor only: the scrape interval. */
    interval?: string;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
    !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function workloadsOf(objects: readonly Obj[]): Obj[] {
    return objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind)) as Obj[];
}

/** The container and port a Service port reaches (a targetPort by name or number). */
function backendOf(objects: readonly Obj[], svc: Obj, target: string | number): Omit<ScrapeTarget, "job" | "path"> {
    const owners = workloadsOf(objects).filter((w) => matches(svc.spec.selector, w.spec.template.metadata.labels));
    if (owners.length !== 1) throw new Error(`Service/${svc.metadata.name} selects ${owners.length} workloads`);
    const owner = owners[0];
    const pod = owner.spec.template.spec;
    for (const container of pod.containers) {
        const port = (container.ports ?? []).find((p: any) => (typeof target === "number" ? p.containerPort === target : p.name === target));
        if (port) return { containerPort: port.containerPort, container, pod, owner };
    }
    throw new Error(`Service/${svc.metadata.name}: no container of ${owner.kind}/${owner.metadata.name} declares port ${target}`);
}

/** What the community chart's kubernetes-service-endpoints job scrapes: Services annotated prometheus.io/scrape "true". */
export function annotatedTargets(objects: readonly Obj[]): ScrapeTarget[] {
    return (objects as Obj[])
        .filter((o) => o.kind === "Service" && o.metadata.annotations?.["prometheus.io/scrape"] === "true")
        .map((svc) => {
            const a: Record<string, string> = svc.metadata.annotations ?? {};
            // The job replaces each endpoint's port with the annotated one: a port of the pod.
            return { job: svc.metadata.name, path: a["prometheus.io/path"] ?? "/metrics", ...backendOf(objects, svc, Number(a["prometheus.io/port"])) };
        })
        .sort((x, y) => x.job.localeCompare(y.job));
}

/** What the Prometheus Operator scrapes for the ServiceMonitors: every endpoint of every selected Service. */
export function serviceMonitorTargets(objects: readonly Obj[]): ScrapeTarget[] {
    const out: ScrapeTarget[] = [];
    for (const sm of (objects as Obj[]).filter((o) => o.kind === "ServiceMonitor")) {
        const namespaces: string[] = sm.spec.namespaceSelector?.matchNames ?? [sm.metadata.namespace];
        const services = (objects as Obj[]).filter((o) => o.kind === "Service" && namespaces.includes(o.metadata.namespace ?? "") && matches(sm.spec.selector.matchLabels, o.metadata.labels));
        for (const svc of services) {
            for (const ep of sm.spec.endpoints) {
                const port = svc.spec.ports.find((p: any) => p.name === ep.port);
                if (!port) continue;
                out.push({ job: svc.metadata.name, path: ep.path ?? "/metrics", interval: ep.interval, ...backendOf(objects, svc, port.targetPort) });
            }
        }
    }
    return out.sort((x, y) => x.job.localeCompare(y.job));
}

/**
 * The program behind each exporter image (its entrypoint; the container's `args` are passed as they are), named by the
 * image's repository: the binary scripts/toolchain.sh builds from the exporter's Go module at the version
 * scripts/toolchain/versions.sh sets for the image, or, for mtail, whose Go modules the proxy does not serve, Debian's.
 */
export const EXPORTER_PROGRAMS: Record<string, { binary: string; versionKey: string; debianPackage?: string }> = {
    "nginx-prometheus-exporter": { binary: "nginx-prometheus-exporter", versionKey: "NGINX_EXPORTER_VERSION" },
    mtail: { binary: "mtail", versionKey: "MTAIL_VERSION", debianPackage: "mtail" },
    "postgres-exporter": { binary: "postgres_exporter", versionKey: "POSTGRES_EXPORTER_VERSION" },
    redis_exporter: { binary: "redis_exporter", versionKey: "REDIS_EXPORTER_VERSION" },
};

const ROOT = path.join(__dirname, "..", "..");

/** The `NAME=value` settings of scripts/toolchain/versions.sh: the one place the exporter versions are set. */
export function toolchainVersions(): Record<string, string> {
    const text = fs.readFileSync(path.join(ROOT, "scripts", "toolchain", "versions.sh"), "utf8");
    return Object.fromEntries([...text.matchAll(/^([A-Z][A-Z0-9_]*)=([^\s#]+)/gm)].map((m) => [m[1], m[2]]));
}

/** Where scripts/toolchain.sh links what it built (ASKY_TOOLCHAIN_DIR, as the script reads it). */
export function toolchainBin(): string {
    return path.join(process.env.ASKY_TOOLCHAIN_DIR ?? path.join(ROOT, ".toolchain"), "bin");
}

/**
 * The exporter an image runs, at the version the image pins: the toolchain's build of it, checked with `--version`.
 * Throws, naming what to do, when it is missing or another version; mtail is Debian's program (see EXPORTER_PROGRAMS).
 */
export function exporterBinary(imageName: string): string {
    const program = EXPORTER_PROGRAMS[imageName];
    if (!program) throw new Error(`no exporter program known for image ${imageName}`);
    if (program.debianPackage) return requireBinary(program.binary, program.debianPackage);
    const version = toolchainVersions()[program.versionKey];
    const binary = path.join(toolchainBin(), program.binary);
    if (!fs.existsSync(binary))
        throw new Error(`${binary} is missing: these tests run ${program.binary} ${version}, the version its image pins, built by ` +
            "`bash scripts/toolchain.sh` (npm test builds it first; set ASKY_TOOLCHAIN_DIR for a toolchain elsewhere). They never skip.");
    const r = spawnSync(binary, ["--version"], { encoding: "utf8" });
    const reported = `${r.stdout}${r.stderr}`;
    if (!reported.includes(version.replace(/^v/, "")))
        throw new Error(`${binary} reports ${JSON.stringify(reported.split("\n")[0])}, but the image pins ${version}: run bash scripts/toolchain.sh`);
    return binary;
}

/** `repo/name:tag` → { name, tag }. */
export function imageParts(image: string): { name: string; tag: string } {
    const noDigest = image.split("@")[0];
    const last = noDigest.slice(noDigest.lastIndexOf("/") + 1);
    const [name, tag = ""] = last.split(":");
    return { name, tag };
}

/** The upstream version of an installed Debian package (`0.11.0-1+b4` → `0.11.0`), or throws naming the package to install. */
export function debianUpstreamVersion(pkg: string): string {
    const r = spawnSync("dpkg-query", ["-W", "-f", "${Version}", pkg], { encoding: "utf8" });
    if (r.status !== 0 || !r.stdout) throw new Error(`Debian package ${pkg} is not installed (apt-get install ${pkg}); these tests never skip`);
    return r.stdout.replace(/^\d+:/, "").replace(/-[^-]*$/, "");
}

/** The binary on PATH, or an error naming its package. */
export function requireBinary(binary: string, pkg = binary): string {
    for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":").concat(["/usr/bin", "/usr/sbin"])) {
        const p = `${dir}/${binary}`;
        if (fs.existsSync(p)) return p;
    }
    throw new Error(`${binary} not found: apt-get install ${pkg} (these tests use the real program and never skip)`);
}

/** A child process whose output is kept for failure messages; stop() kills its process group. */
export interface Managed {
    name: string;
    child: ChildProcess;
    output(): string;
    stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
    for (const c of running) if (c.pid !== undefined && c.exitCode === null) try { process.kill(-c.pid, "SIGKILL"); } catch { /* gone */ }
});

export function startManaged(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Managed {
    const child = spawn(command, args, { env, cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let out = "";
    const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.once("error", (e) => { out += `\nspawn error: ${e.message}`; });
    return {
        name,
        child,
        output: () => out,
        stop: async () => {
            if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
                try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
                const timer = setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } }, 3000);
                await exited;
                clearTimeout(timer);
            }
            running.delete(child);
        },
    };
}

/** GET on 127.0.0.1; resolves with status and body, rejects on a connection error. */
export function get(port: number, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    });
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes; the error says what was last seen. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, describe: () => string = () => ""): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await check();
            if (v !== undefined) return v;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}\n${describe()}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** Replaces `:PORT` / `=PORT` of the container's ports in an arg or env value with the local ones. */
export function remapPorts(value: string, ports: Record<number, number>): string {
    return value.replace(/([:=])(\d{2,5})\b/g, (m, sep: string, p: string) => (ports[Number(p)] !== undefined ? `${sep}${ports[Number(p)]}` : m));
}

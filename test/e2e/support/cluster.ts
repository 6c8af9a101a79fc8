import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** A throwaway Kubernetes control plane with KWOK's simulated nodes, run by kwokctl's binary runtime. */
export interface Cluster {
    readonly name: string;
    /** kubeconfig file of the cluster (admin credentials). */
    readonly kubeconfig: string;
    /** Its context in that file. */
    readonly context: string;
    /** Runs kubectl against the cluster; throws with kubectl's stderr on failure. */
    kubectl(args: string[], input?: string): string;
    /** `kubectl get ... -o json`, parsed; undefined when the object does not exist. */
    get<T = any>(args: string[]): T | undefined;
    /** Stops the cluster and removes its files. */
    delete(): void;
}

export interface ClusterOptions {
    name: string;
    /** Folder holding the built toolchain binaries (scripts/toolchain.sh). */
    bin: string;
    /** Where kwokctl keeps the cluster's files, and where the kubeconfig is written. */
    workdir: string;
    /** KWOK's simulated nodes (0: none, for a cluster whose node is real). */
    nodes: number;
    /** Extra kwokctl configuration documents (e.g. Stages with a pod start delay). */
    config?: string;
}

function kwokEnv(opts: Pick<ClusterOptions, "bin" | "workdir">): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${opts.bin}:${process.env.PATH}`, KWOK_WORKDIR: path.join(opts.workdir, "kwok") };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): string {
    const r = spawnSync(cmd, args, { env, input, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) {
        throw new Error(`${path.basename(cmd)} ${args.join(" ")} failed (${r.status}):\n${r.stderr || r.stdout}`);
    }
    return r.stdout;
}

function handle(opts: ClusterOptions, kubeconfig: string): Cluster {
    const env = kwokEnv(opts);
    const context = `kwok-${opts.name}`;
    const kubectl = (args: string[], input?: string) =>
        run(path.join(opts.bin, "kubectl"), ["--kubeconfig", kubeconfig, "--context", context, ...args], env, input);
    return {
        name: opts.name,
        kubeconfig,
        context,
        kubectl,
        get(args) {
            const r = spawnSync(path.join(opts.bin, "kubectl"), ["--kubeconfig", kubeconfig, "--context", context, "get", ...args, "-o", "json"], {
                env, encoding: "utf8", maxBuffer: 64 << 20,
            });
            if (r.status !== 0) {
                if (/NotFound|not found/.test(r.stderr)) return undefined;
                throw new Error(`kubectl get ${args.join(" ")}: ${r.stderr}`);
            }
            return JSON.parse(r.stdout);
        },
        delete() {
            deleteCluster(opts);
        },
    };
}

/** Stops and removes the cluster `opts.name` if it exists. */
export function deleteCluster(opts: Pick<ClusterOptions, "name" | "bin" | "workdir">): void {
    const kwokctl = path.join(opts.bin, "kwokctl");
    if (!fs.existsSync(kwokctl)) return;
    spawnSync(kwokctl, ["delete", "cluster", "--name", opts.name, "--kubeconfig", path.join(opts.workdir, "kubeconfig")], {
        env: kwokEnv(opts), stdio: "ignore",
    });
}

/** Starts a fresh cluster: etcd, kube-apiserver (with admission, Pod Security included, and RBAC),
 * kube-controller-manager, kube-scheduler and kwok-controller, then `nodes` simulated nodes. */
export function startCluster(opts: ClusterOptions): Cluster {
    fs.mkdirSync(opts.workdir, { recursive: true });
    const kubeconfig = path.join(opts.workdir, "kubeconfig");
    deleteCluster(opts);
    const env = kwokEnv(opts);
    const b = (name: string) => path.join(opts.bin, name);
    const args = [
        "create", "cluster", "--name", opts.name, "--runtime", "binary",
        "--kube-apiserver-binary", b("kube-apiserver"),
        "--kube-controller-manager-binary", b("kube-controller-manager"),
        "--kube-scheduler-binary", b("kube-scheduler"),
        "--kwok-controller-binary", b("kwok"),
        "--etcd-binary", b("etcd"),
        // kwokctl turns admission off unless asked: Pod Security admission is one of the judges here.
        "--kube-admission", "--kube-authorization",
        "--kubeconfig", kubeconfig,
        "--wait", "3m",
    ];
    if (opts.config) {
        const file = path.join(opts.workdir, "kwokctl.yaml");
        fs.writeFileSync(file, opts.config);
        args.push("--config", file);
    }
    run(b("kwokctl"), args, env);
    const cluster = handle(opts, kubeconfig);
    if (opts.nodes > 0) {
        // Our pods request ephemeral-storage; kwokctl's node template has none in allocatable.
        run(b("kwokctl"), [
            "scale", "node", "--name", opts.name, "--replicas", String(opts.nodes),
            "--param", '.allocatable.cpu="8"', "--param", '.allocatable.memory="32Gi"',
            "--param", '.allocatable["ephemeral-storage"]="100Gi"',
        ], env);
        cluster.kubectl(["wait", "--for=condition=Ready", "node", "--all", "--timeout=120s"]);
    }
    return cluster;
}

/** The version the API server reports, e.g. v1.36.3. */
export function serverVersion(cluster: Cluster): string {
    return JSON.parse(cluster.kubectl(["version", "-o", "json"])).serverVersion.gitVersion;
}


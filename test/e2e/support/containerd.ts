import * as fs from "fs";
import * as path from "path";
import { NODE_NETWORK } from "./network";
import { assertRunning, daemonPid, run, startDaemon, stopDaemon, succeeds, until } from "./processes";

/**
 * containerd (Debian's, with runc and the CNI plugins from Debian too) for the real node, with
 * everything it keeps under `.e2e/node/containerd` and its socket there, so it touches nothing else
 * on the machine. Its CRI plugin pulls through the local registry (registry host config) and
 * wires pods to the node's bridge.
 */
export interface ContainerdPaths {
    dir: string;
    socket: string;
    /** containerd's registry host configuration folder (registry.ts writes it). */
    registryConfig: string;
}

export function containerdPaths(workdir: string): ContainerdPaths {
    const dir = path.join(workdir, "node", "containerd");
    return { dir, socket: path.join(dir, "containerd.sock"), registryConfig: path.join(dir, "certs.d") };
}

/** The CNI configuration: the bridge with no uplink, host-local addresses, a route to Services only. */
function cniConfig(workdir: string): string {
    const { bridge, podCidr, nodeIp, serviceCidr } = NODE_NETWORK;
    return JSON.stringify({
        cniVersion: "1.0.0",
        name: "asky-e2e",
        plugins: [{
            type: "bridge",
            bridge,
            isGateway: true,
            // No default route and no masquerade: pods reach pods and Services, nothing beyond this machine.
            isDefaultGateway: false,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
                type: "host-local",
                ranges: [[{ subnet: podCidr, gateway: nodeIp }]],
                routes: [{ dst: serviceCidr }],
                dataDir: path.join(workdir, "node", "cni-ipam"),
            },
        }, { type: "portmap", capabilities: { portMappings: true } }],
    }, null, 2);
}

/** containerd's config.toml: private root, state and socket; the CRI settings this machine needs. */
function config(workdir: string, sandboxImage: string): string {
    const p = containerdPaths(workdir);
    const q = JSON.stringify;
    return `version = 2
root = ${q(path.join(p.dir, "root"))}
state = ${q(path.join(p.dir, "state"))}
# Snapshotters this machine cannot use: keep containerd from probing them.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(p.socket)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(path.join(p.dir, "opt"))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(sandboxImage)}
  # The sandbox lacks CAP_SYS_RESOURCE: without this every pod sandbox fails (runc cannot set oom_score_adj -998).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = ${q(path.join(p.dir, "runc"))}
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(path.join(p.dir, "net.d"))}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${q(p.registryConfig)}
`;
}

/** Starts containerd; the registry host configuration must already be written. */
export async function startContainerd(workdir: string, sandboxImage: string): Promise<ContainerdPaths> {
    const p = containerdPaths(workdir);
    fs.mkdirSync(path.join(p.dir, "net.d"), { recursive: true });
    fs.writeFileSync(path.join(p.dir, "net.d", "10-asky-e2e.conflist"), cniConfig(workdir));
    fs.writeFileSync(path.join(p.dir, "config.toml"), config(workdir, sandboxImage));
    startDaemon(workdir, "containerd", "/usr/bin/containerd", ["--config", path.join(p.dir, "config.toml")]);
    await until("containerd's socket", () => {
        assertRunning(workdir, "containerd");
        return succeeds("ctr", ["--address", p.socket, "version"]);
    }, 60_000);
    return p;
}

/** Removes every pod of the node through the CRI (sandboxes, their network and netns), then stops containerd and its shims. */
export async function stopContainerd(workdir: string, bin: string): Promise<void> {
    const p = containerdPaths(workdir);
    if (daemonPid(workdir, "containerd") !== undefined) {
        // crictl's pod removal is the kubelet's: CNI DEL (the veth and its address), then the netns.
        succeeds(path.join(bin, "crictl"), ["--runtime-endpoint", `unix://${p.socket}`, "--timeout", "60s", "rmp", "--all", "--force"], { timeout: 180_000 });
        const ctr = (...args: string[]) => run("ctr", ["--address", p.socket, "--namespace", "k8s.io", ...args], { timeout: 60_000 });
        try {
            for (const id of ctr("tasks", "list", "-q").trim().split("\n").filter(Boolean)) {
                succeeds("ctr", ["--address", p.socket, "--namespace", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id]);
            }
        } catch {
            /* containerd is not answering: its shims are killed below */
        }
    }
    await stopDaemon(workdir, "containerd", 20_000);
    // Shims outlive containerd on purpose; ours name our socket on their command line.
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        try {
            const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
            if (cmdline.startsWith("/usr/bin/containerd-shim") && cmdline.includes(p.socket)) process.kill(Number(pid), "SIGKILL");
        } catch {
            /* gone */
        }
    }
}

/** Unmounts everything mounted under `dir` (deepest first). */
export function unmountUnder(dir: string): void {
    const prefix = path.resolve(dir) + "/";
    for (let round = 0; round < 5; round++) {
        const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")
            .map((l) => l.split(" ")[4]?.replace(/\\040/g, " "))
            .filter((m): m is string => !!m && m.startsWith(prefix))
            .sort((a, b) => b.length - a.length);
        if (!mounts.length) return;
        for (const m of mounts) succeeds("umount", ["-l", m]);
    }
}

import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { Cluster } from "./cluster";
import { containerdPaths } from "./containerd";
import { NODE_NETWORK } from "./network";
import { assertRunning, daemonPid, startDaemon, stopDaemon, succeeds, until } from "./processes";

/**
 * The real node: kubelet and kube-proxy built from the control plane's own release, running pods
 * through containerd on this machine. kubelet serves on the node's bridge address only, with
 * client certificates of the cluster's CA and authorization by the API server; kube-proxy (iptables
 * mode) serves NodePorts on the node address only.
 */
export const NODE_NAME = "asky-e2e-node";
/** The cgroup under which the kubelet puts every pod (one per hierarchy), removed at teardown. */
export const CGROUP_ROOT = "/asky-e2e";

const nodeDir = (workdir: string) => path.join(workdir, "node");

/** The kwokctl cluster's PKI: its CA signs the admin certificate every component uses. */
export interface ClusterPki {
    caCert: string;
    adminCert: string;
    adminKey: string;
}

function kubeletConfig(workdir: string, pki: ClusterPki): string {
    const { nodeIp, dnsIp } = NODE_NETWORK;
    const resolv = path.join(nodeDir(workdir), "resolv.conf");
    // Pods' resolver: cluster DNS only (the kubelet adds it); nothing of this machine's resolvers.
    fs.writeFileSync(resolv, "");
    return YAML.stringify({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        address: nodeIp,
        port: 10250,
        readOnlyPort: 0,
        healthzBindAddress: "127.0.0.1",
        healthzPort: 10248,
        authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki.caCert } },
        authorization: { mode: "Webhook" },
        // This machine kind: cgroup v1 (allowed again by failCgroupV1), cgroupfs, no CAP_SYS_RESOURCE (ENGINE.md).
        cgroupDriver: "cgroupfs",
        failCgroupV1: false,
        cgroupRoot: CGROUP_ROOT,
        failSwapOn: false,
        containerRuntimeEndpoint: `unix://${containerdPaths(workdir).socket}`,
        clusterDNS: [dnsIp],
        clusterDomain: "cluster.local",
        resolvConf: resolv,
        hairpinMode: "hairpin-veth",
        serializeImagePulls: false,
        // A test machine's disk is what it is: evict only when it is really full.
        evictionHard: { "memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%", "nodefs.inodesFree": "2%" },
        imageGCHighThresholdPercent: 99,
        imageGCLowThresholdPercent: 98,
        // Secret and ConfigMap volumes follow their objects within seconds (day-2 checks).
        syncFrequency: "10s",
        nodeStatusUpdateFrequency: "5s",
        rotateCertificates: false,
        serverTLSBootstrap: false,
        protectKernelDefaults: false,
        makeIPTablesUtilChains: true,
    });
}

/** The cgroup hierarchies the kubelet's root must exist in: each v1 controller's, or the one unified v2 tree. */
function cgroupHierarchies(): string[] {
    const base = "/sys/fs/cgroup";
    if (!fs.existsSync(base)) return [];
    if (fs.existsSync(path.join(base, "cgroup.controllers"))) return [base]; // cgroup v2
    return fs.readdirSync(base).map((h) => path.join(base, h)).filter((d) => fs.lstatSync(d).isDirectory());
}

/** Creates the kubelet's cgroup root in every hierarchy (the kubelet refuses a missing one). */
function createCgroupRoot(): void {
    for (const h of cgroupHierarchies()) fs.mkdirSync(path.join(h, CGROUP_ROOT), { recursive: true });
}

/** Removes the (empty, once the pods are gone) cgroups under the kubelet's root, deepest first. */
export function removeCgroupRoot(): void {
    for (const h of cgroupHierarchies()) {
        const root = path.join(h, CGROUP_ROOT);
        if (!fs.existsSync(root)) continue;
        const dirs: string[] = [];
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
            dirs.push(d);
        };
        walk(root);
        for (const d of dirs) {
            try {
                fs.rmdirSync(d);
            } catch {
                /* still has a process: it is killed with its container */
            }
        }
    }
}

/** Starts kubelet and kube-proxy and waits until the node is Ready. */
export async function startNode(workdir: string, bin: string, cluster: Cluster, pki: ClusterPki): Promise<void> {
    const dir = nodeDir(workdir);
    fs.mkdirSync(dir, { recursive: true });
    createCgroupRoot();
    fs.writeFileSync(path.join(dir, "kubelet.yaml"), kubeletConfig(workdir, pki));
    startDaemon(workdir, "kubelet", path.join(bin, "kubelet"), [
        `--config=${path.join(dir, "kubelet.yaml")}`,
        `--kubeconfig=${cluster.kubeconfig}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_NETWORK.nodeIp}`,
        `--root-dir=${path.join(dir, "kubelet")}`,
        `--cert-dir=${path.join(dir, "kubelet", "pki")}`,
        "--v=1",
    ]);
    startDaemon(workdir, "kube-proxy", path.join(bin, "kube-proxy"), [
        `--kubeconfig=${cluster.kubeconfig}`,
        `--hostname-override=${NODE_NAME}`,
        "--proxy-mode=iptables",
        `--cluster-cidr=${NODE_NETWORK.podCidr}`,
        `--nodeport-addresses=${NODE_NETWORK.nodeIp}/32`,
        "--bind-address=127.0.0.1",
        "--healthz-bind-address=127.0.0.1:10256",
        "--metrics-bind-address=127.0.0.1:10249",
        // Leave this machine's conntrack table size alone.
        "--conntrack-max-per-core=0",
        "--v=1",
    ]);
    await until(`node ${NODE_NAME} Ready`, () => {
        assertRunning(workdir, "kubelet");
        assertRunning(workdir, "kube-proxy");
        const node = cluster.get<any>(["node", NODE_NAME]);
        return node?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") ?? false;
    }, 180_000, 1000);
}

/** Stops kubelet and kube-proxy and removes kube-proxy's rules (kube-proxy --cleanup). */
export async function stopNode(workdir: string, bin: string): Promise<void> {
    await stopDaemon(workdir, "kubelet");
    const wasRunning = daemonPid(workdir, "kube-proxy") !== undefined;
    await stopDaemon(workdir, "kube-proxy");
    if (wasRunning || fs.existsSync(path.join(bin, "kube-proxy"))) {
        succeeds(path.join(bin, "kube-proxy"), ["--cleanup", "--proxy-mode=iptables"], { timeout: 60_000 });
    }
}

import * as fs from "fs";
import * as path from "path";
import { run, succeeds } from "./processes";

/**
 * The real node's network: a Linux bridge with no uplink that the pods' veths join (the CNI bridge
 * plugin), the node's address on it, and the Service range routed to it. Nothing here is
 * masqueraded, pods get no default route, and a guard chain drops whatever would cross between the
 * bridge and any other interface, so pod and Service traffic stays on this machine.
 */
export const NODE_NETWORK = {
    bridge: "askye2e0",
    /** The pods' addresses (the CNI's host-local range). */
    podCidr: "10.244.0.0/24",
    /** The node's address: kubelet, kube-proxy's NodePorts, and the API server's advertised address. */
    nodeIp: "10.244.0.1",
    /** The API server's Service range; the `kubernetes` Service takes its first address. */
    serviceCidr: "10.96.0.0/16",
    apiServiceIp: "10.96.0.1",
    /** The `kube-dns` Service (kubelet's clusterDNS). */
    dnsIp: "10.96.0.10",
} as const;

/** The chain in iptables' filter FORWARD that keeps the bridge's traffic on the bridge. */
export const GUARD_CHAIN = "ASKY-E2E-GUARD";
/**
 * The chain in iptables' raw PREROUTING that drops packets for the pod and Service ranges arriving
 * on any interface but the bridge and loopback, before any NAT: a host of this machine's network
 * that routes those ranges here reaches nothing (kube-proxy's and the enforcer's own FORWARD rules,
 * which come before the guard, never see such a packet).
 */
export const INBOUND_CHAIN = "ASKY-E2E-INBOUND";

/** Chains the kubelet creates in iptables and ip6tables and leaves behind (ENGINE.md "A real node"). */
const KUBELET_CHAINS: Record<string, string[]> = {
    filter: ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY"],
    nat: ["KUBE-KUBELET-CANARY"],
    mangle: ["KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"],
};

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
const BRIDGE_ACCEPT = ["-i", NODE_NETWORK.bridge, "-o", NODE_NETWORK.bridge, "-m", "comment", "--comment", "asky-e2e: pod to pod", "-j", "ACCEPT"];
/** Present while a run of ours has a kubelet on this machine (its chains are ours to remove). */
const stateFileMarker = "/run/asky-e2e-node";
const stateFile = (workdir: string) => path.join(workdir, "node", "network.json");

/** The e2e folder of the run that has (or had, before a crash) a real node on this machine, if any. */
export function realNodeOwner(): string | undefined {
    return fs.existsSync(stateFileMarker) ? fs.readFileSync(stateFileMarker, "utf8").trim() : undefined;
}

/** Refuses to start on a machine that is already a Kubernetes node: teardown removes the kubelet's chains. */
export function assertNotAKubernetesNode(): void {
    if (succeeds("iptables", ["-w", "-t", "filter", "-n", "-L", "KUBE-FIREWALL"]) && !fs.existsSync(stateFileMarker)) {
        throw new Error("this machine's iptables already has the kubelet's KUBE-FIREWALL chain: it looks like a Kubernetes node. " +
            "The real-node e2e adds and later removes those chains; run it on a machine (or VM) that is not a node, or run npm run e2e:down first.");
    }
}

/** Creates the bridge, its address and routes, turns forwarding on and installs the guard chain. */
export function setUpNetwork(workdir: string): void {
    const { bridge, nodeIp, podCidr, serviceCidr } = NODE_NETWORK;
    fs.mkdirSync(path.dirname(stateFile(workdir)), { recursive: true });
    const previous = fs.existsSync(stateFile(workdir)) ? JSON.parse(fs.readFileSync(stateFile(workdir), "utf8")) : undefined;
    fs.writeFileSync(stateFile(workdir), JSON.stringify({ ipForward: previous?.ipForward ?? fs.readFileSync(IP_FORWARD, "utf8").trim() }));
    fs.writeFileSync(stateFileMarker, workdir);

    if (!succeeds("ip", ["link", "show", bridge])) run("ip", ["link", "add", "name", bridge, "type", "bridge"]);
    run("ip", ["addr", "replace", `${nodeIp}/${podCidr.split("/")[1]}`, "dev", bridge]);
    run("ip", ["link", "set", bridge, "up"]);
    // The host reaches ClusterIPs through the bridge (kube-proxy rewrites them), never through its uplink.
    run("ip", ["route", "replace", serviceCidr, "dev", bridge, "src", nodeIp]);

    // Pods reach Services through the node (kube-proxy's DNAT): the node must forward between pods.
    // The guard allows that and nothing else: bridge to bridge only.
    if (!succeeds("iptables", ["-w", "-n", "-L", GUARD_CHAIN])) run("iptables", ["-w", "-N", GUARD_CHAIN]);
    run("iptables", ["-w", "-F", GUARD_CHAIN]);
    run("iptables", ["-w", "-A", GUARD_CHAIN, "-i", bridge, "-o", bridge, "-j", "RETURN"]);
    run("iptables", ["-w", "-A", GUARD_CHAIN, "-i", bridge, "-j", "DROP"]);
    run("iptables", ["-w", "-A", GUARD_CHAIN, "-o", bridge, "-j", "DROP"]);
    if (!succeeds("iptables", ["-w", "-C", "FORWARD", "-j", GUARD_CHAIN])) run("iptables", ["-w", "-I", "FORWARD", "1", "-j", GUARD_CHAIN]);
    // Where FORWARD's policy is DROP (a machine running Docker), what the enforcer and kube-proxy let
    // through between pods still needs accepting: last, after every rule that may refuse it.
    if (!succeeds("iptables", ["-w", "-C", "FORWARD", ...BRIDGE_ACCEPT])) run("iptables", ["-w", "-A", "FORWARD", ...BRIDGE_ACCEPT]);
    if (!succeeds("iptables", ["-w", "-t", "raw", "-n", "-L", INBOUND_CHAIN])) run("iptables", ["-w", "-t", "raw", "-N", INBOUND_CHAIN]);
    run("iptables", ["-w", "-t", "raw", "-F", INBOUND_CHAIN]);
    run("iptables", ["-w", "-t", "raw", "-A", INBOUND_CHAIN, "-i", bridge, "-j", "RETURN"]);
    run("iptables", ["-w", "-t", "raw", "-A", INBOUND_CHAIN, "-i", "lo", "-j", "RETURN"]);
    for (const cidr of [podCidr, serviceCidr]) run("iptables", ["-w", "-t", "raw", "-A", INBOUND_CHAIN, "-d", cidr, "-j", "DROP"]);
    if (!succeeds("iptables", ["-w", "-t", "raw", "-C", "PREROUTING", "-j", INBOUND_CHAIN])) run("iptables", ["-w", "-t", "raw", "-I", "PREROUTING", "1", "-j", INBOUND_CHAIN]);
    fs.writeFileSync(IP_FORWARD, "1");
}

/** Deletes chains of one table of iptables or ip6tables: unhooks every jump to them, flushes all, then deletes them. */
export function deleteChains(tool: string, table: string, chains: string[]): void {
    const existing = chains.filter((c) => succeeds(tool, ["-w", "-t", table, "-n", "-L", c]));
    if (!existing.length) return;
    const rules = run(tool, ["-w", "-t", table, "-S"]).split("\n")
        .filter((l) => l.startsWith("-A ") && existing.some((c) => l.endsWith(`-j ${c}`) || l.includes(`-j ${c} `)));
    for (const rule of rules) succeeds(tool, ["-w", "-t", table, ...(rule.replace(/^-A /, "-D ").match(/"[^"]*"|\S+/g) ?? []).map((w) => w.replace(/^"|"$/g, ""))]);
    for (const c of existing) succeeds(tool, ["-w", "-t", table, "-F", c]);
    for (const c of existing) succeeds(tool, ["-w", "-t", table, "-X", c]);
}

/** The chains of a table whose names start with one of `prefixes`. */
export function chainsNamed(tool: string, table: string, prefixes: string[]): string[] {
    return run(tool, ["-w", "-t", table, "-S"]).split("\n").filter((l) => l.startsWith("-N ")).map((l) => l.slice(3))
        .filter((c) => prefixes.some((p) => c.startsWith(p)));
}

/** Removes what setUpNetwork and the kubelet added: the guard chain, the kubelet's chains, the bridge; restores forwarding. */
export function tearDownNetwork(workdir: string): void {
    deleteChains("iptables", "filter", [GUARD_CHAIN]);
    while (succeeds("iptables", ["-w", "-D", "FORWARD", ...BRIDGE_ACCEPT]));
    deleteChains("iptables", "raw", [INBOUND_CHAIN]);
    // Only when a run of ours put a kubelet on this machine: never a real node's own chains.
    if (fs.existsSync(stateFileMarker)) {
        for (const tool of ["iptables", "ip6tables"]) {
            for (const [table, chains] of Object.entries(KUBELET_CHAINS)) deleteChains(tool, table, chains);
        }
    }
    if (succeeds("ip", ["link", "show", NODE_NETWORK.bridge])) run("ip", ["link", "delete", NODE_NETWORK.bridge]);
    if (fs.existsSync(stateFile(workdir))) {
        const { ipForward } = JSON.parse(fs.readFileSync(stateFile(workdir), "utf8"));
        fs.writeFileSync(IP_FORWARD, String(ipForward));
        fs.rmSync(stateFile(workdir));
    }
    fs.rmSync(stateFileMarker, { force: true });
}

/** Network namespaces the CRI created for our pods (cni-*, holding an address of the pod range). */
export function podNetworkNamespaces(): string[] {
    const names = run("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith("cni-"));
    const prefix = NODE_NETWORK.podCidr.split(".").slice(0, 3).join(".") + ".";
    return names.filter((ns) => {
        try {
            return run("ip", ["-n", ns, "-o", "-4", "addr"]).includes(` ${prefix}`);
        } catch {
            return false;
        }
    });
}

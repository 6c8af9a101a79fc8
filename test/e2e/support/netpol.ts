import * as YAML from "yaml";
import { Cluster } from "./cluster";
import { chainsNamed, deleteChains, NODE_NETWORK } from "./network";
import { run, succeeds } from "./processes";

/**
 * NetworkPolicy enforcement by kube-router's firewall controller (iptables and ipsets; k3s's default
 * NetworkPolicy enforcement), installed as upstream's kube-router-firewall-daemonset.yaml does it:
 * a privileged host-network DaemonSet in kube-system with the router and the service proxy off.
 * Why not kube-network-policies (what kind ships): it needs nftables' `queue` expression, which
 * this machine kind's kernel does not have (CONFIG_NFT_QUEUE is not set; its rules fail with
 * ENOENT); kube-router needs only iptables, ipset and conntrack matches, all built in here.
 */
export const ENFORCER = "kube-router";
const labels = { "k8s-app": ENFORCER };

export function netpolManifests(image: string): string {
    const docs = [
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: ENFORCER, namespace: "kube-system" } },
        {
            kind: "ClusterRole", apiVersion: "rbac.authorization.k8s.io/v1", metadata: { name: ENFORCER },
            rules: [
                { apiGroups: [""], resources: ["namespaces", "pods", "services", "nodes", "endpoints"], verbs: ["list", "get", "watch"] },
                { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["list", "get", "watch"] },
                { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
            ],
        },
        {
            kind: "ClusterRoleBinding", apiVersion: "rbac.authorization.k8s.io/v1", metadata: { name: ENFORCER },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: ENFORCER },
            subjects: [{ kind: "ServiceAccount", name: ENFORCER, namespace: "kube-system" }],
        },
        {
            apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: ENFORCER, namespace: "kube-system", labels },
            spec: {
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        hostNetwork: true,
                        serviceAccountName: ENFORCER,
                        priorityClassName: "system-node-critical",
                        tolerations: [{ operator: "Exists", effect: "NoSchedule" }],
                        containers: [{
                            name: ENFORCER,
                            image,
                            imagePullPolicy: "IfNotPresent",
                            args: [
                                "--run-router=false", "--run-firewall=true", "--run-service-proxy=false",
                                "--hostname-override=$(NODE_NAME)",
                                `--service-cluster-ip-range=${NODE_NETWORK.serviceCidr}`,
                                "--enable-ipv6=false",
                                "--health-port=20244", "--metrics-port=0",
                            ],
                            env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                            securityContext: { privileged: true },
                            livenessProbe: { httpGet: { path: "/healthz", port: 20244 }, initialDelaySeconds: 10, periodSeconds: 3 },
                            resources: { requests: { cpu: "50m", memory: "64Mi" } },
                            // iptables takes this lock; kube-proxy, on the node, takes the same one.
                            volumeMounts: [{ name: "xtables-lock", mountPath: "/run/xtables.lock" }],
                        }],
                        volumes: [{ name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } }],
                    },
                },
            },
        },
    ];
    return docs.map((d) => YAML.stringify(d)).join("---\n");
}

/** Installs the enforcer and waits until its pod runs and has synced the policies. */
export function installNetworkPolicies(cluster: Cluster, image: string): void {
    cluster.kubectl(["apply", "-f", "-"], netpolManifests(image));
    cluster.kubectl(["-n", "kube-system", "rollout", "status", `daemonset/${ENFORCER}`, "--timeout=180s"]);
}

/**
 * Removes the enforcer's iptables chains and ipsets from this machine, by kube-router's names
 * (`kube-router --cleanup-config` of v2.1.0 leaves the policy chains in place, then crashes in its
 * service-proxy cleanup).
 */
export function removeEnforcerRules(): void {
    deleteChains("iptables", "filter", chainsNamed("iptables", "filter", ["KUBE-ROUTER-", "KUBE-NWPLCY-", "KUBE-POD-FW-"]));
    if (!succeeds("ipset", ["-v"])) return;
    for (const set of run("ipset", ["list", "-n"]).split("\n").filter((n) => /^(KUBE-SRC-|KUBE-DST-|kube-router-)/.test(n))) succeeds("ipset", ["destroy", set]);
}

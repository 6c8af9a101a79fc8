import * as YAML from "yaml";
import { Cluster } from "./cluster";
import { NODE_NETWORK } from "./network";

/**
 * Cluster DNS as kubeadm installs it: CoreDNS pods in kube-system labelled `k8s-app: kube-dns`
 * behind the `kube-dns` Service at the kubelet's clusterDNS address, which is exactly what the
 * program's DNS policy admits. There is no `forward` plugin: names outside the cluster are not
 * resolved (nothing leaves this machine).
 */
export const COREFILE = `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    cache 30
    loop
    reload
    loadbalance
}
`;

export function corednsManifests(image: string): string {
    const labels = { "k8s-app": "kube-dns" };
    const docs = [
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace: "kube-system" } },
        {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "system:coredns" },
            rules: [
                { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
                { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
            ],
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "system:coredns" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
            subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: "kube-system" }],
        },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "coredns", namespace: "kube-system" }, data: { Corefile: COREFILE } },
        {
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "coredns", namespace: "kube-system", labels },
            spec: {
                replicas: 1,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        serviceAccountName: "coredns",
                        dnsPolicy: "Default",
                        priorityClassName: "system-cluster-critical",
                        securityContext: {
                            runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" },
                            // Port 53 without a capability (a namespaced, safe sysctl).
                            sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "53" }],
                        },
                        containers: [{
                            name: "coredns",
                            image,
                            imagePullPolicy: "IfNotPresent",
                            args: ["-conf", "/etc/coredns/Corefile"],
                            ports: [
                                { name: "dns", containerPort: 53, protocol: "UDP" },
                                { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                                { name: "metrics", containerPort: 9153, protocol: "TCP" },
                            ],
                            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "170Mi" } },
                            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                            readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
                            livenessProbe: { httpGet: { path: "/health", port: 8080 }, initialDelaySeconds: 30, periodSeconds: 10 },
                            volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
                        }],
                        volumes: [{ name: "config", configMap: { name: "coredns" } }],
                    },
                },
            },
        },
        {
            apiVersion: "v1", kind: "Service", metadata: { name: "kube-dns", namespace: "kube-system", labels: { ...labels, "kubernetes.io/name": "CoreDNS" } },
            spec: {
                selector: labels,
                clusterIP: NODE_NETWORK.dnsIp,
                ports: [
                    { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
                    { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
                    { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
                ],
            },
        },
    ];
    return docs.map((d) => YAML.stringify(d)).join("---\n");
}

/** Installs CoreDNS and waits until it answers (Deployment available). */
export function installCoreDNS(cluster: Cluster, image: string): void {
    cluster.kubectl(["apply", "-f", "-"], corednsManifests(image));
    cluster.kubectl(["-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s"]);
}

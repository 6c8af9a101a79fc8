import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { WorkloadIdentity, objectMeta } from "./podHardening";

/** One allowed connection inside the namespace: from pods named `from` to pods named `to` on a container port. */
export interface Flow {
    /** `app.kubernetes.io/name` of the client pods, or `*` for any source (in or outside the cluster). */
    from: string;
    /** `app.kubernetes.io/name` of the server pods. */
    to: string;
    /** The server's container port (policies see pod ports, after the Service's translation). */
    port: number;
}

export interface AskyNetworkPoliciesArgs {
    /** Namespace of the policies and of every pod they select. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Exactly the connections to allow (NET-2); everything else is denied (NET-1). */
    flows: readonly Flow[];
    /**
     * DNS egress (port 53 to kube-dns) for exactly the pods that resolve names, by `app.kubernetes.io/name`;
     * no other pod may send a DNS query. The node resolvers are opt-in, each named for where it exists.
     */
    dns: {
        /** `app.kubernetes.io/name` of every pod that resolves a name; left empty, no `allow-dns` policy. */
        clients: readonly string[];
        /** Also NodeLocal DNSCache's link-local address on every node (169.254.20.10). */
        nodeLocalDnsCache: boolean;
        /** Also the node's metadata server (169.254.169.254), where GKE answers pods' DNS (Cloud DNS); elsewhere it is the cloud's instance metadata. */
        gkeMetadataServer: boolean;
    };
    /** Connections out of the cluster: pods named `from` to these address ranges on one TCP port (the backup's bucket); left out, none. */
    externalEgress?: readonly { from: string; cidrs: readonly string[]; port: number }[];
    /** The monitoring pods (in their own namespace) that may reach the exporters' ports; left out, nobody. */
    scrapers?: {
        /** Namespace of the scraping Prometheus. */
        namespace: string;
        /** Labels of its pods. */
        podLabels: Readonly<Record<string, string>>;
        /** The metrics container ports, by `app.kubernetes.io/name` of the pods. */
        targets: readonly { to: string; port: number }[];
    };
}

/** NodeLocal DNSCache's link-local address on every node. */
export const NODE_LOCAL_DNS_CACHE = "169.254.20.10/32";
/** GKE's metadata server, the pods' resolver with Cloud DNS; on other clouds the instance metadata (credentials): opt-in only. */
export const GKE_METADATA_SERVER = "169.254.169.254/32";

const byName = (name: string) => ({ podSelector: { matchLabels: { "app.kubernetes.io/name": name } } });

/**
 * Default deny for ingress and egress in the namespace, then one policy per workload that opens
 * exactly its flows on both ends (the client's egress and the server's ingress), plus DNS.
 */
export class AskyNetworkPolicies extends pulumi.ComponentResource {
    /** Names of the NetworkPolicy objects. */
    public readonly policyNames: pulumi.Output<string>[] = [];

    constructor(name: string, args: AskyNetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:NetworkPolicies", name, {}, opts);
        const id = (policy: string): WorkloadIdentity => ({ name: policy, component: "network-policy", instance: args.instance });
        const policy = (role: string, objName: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec) => {
            const p = new k8s.networking.v1.NetworkPolicy(`${name}-${role}`, { metadata: objectMeta(id(objName), args.namespace, objName), spec }, { parent: this });
            this.policyNames.push(p.metadata.name);
        };

        policy("default-deny", "default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const dns = args.dns;
        if (dns.clients.length > 0) {
            policy("dns", "allow-dns", {
                // Only the pods that resolve names: postgres, redis and the loopback exporters send no query.
                podSelector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: [...new Set(dns.clients)].sort() }] },
                policyTypes: ["Egress"],
                egress: [{
                    to: [
                        {
                            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                        },
                        ...(dns.nodeLocalDnsCache ? [{ ipBlock: { cidr: NODE_LOCAL_DNS_CACHE } }] : []),
                        ...(dns.gkeMetadataServer ? [{ ipBlock: { cidr: GKE_METADATA_SERVER } }] : []),
                    ],
                    ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
                }],
            });
        }

        const scrapers = args.scrapers;
        const scraperPeer = scrapers && {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": scrapers.namespace } },
            podSelector: { matchLabels: { ...scrapers.podLabels } },
        };
        const scraped = scrapers?.targets ?? [];
        const workloads = [...new Set([...args.flows.flatMap((f) => [f.from, f.to]), ...scraped.map((t) => t.to)])].filter((w) => w !== "*").sort();
        for (const w of workloads) {
            const inbound = args.flows.filter((f) => f.to === w);
            const outbound = args.flows.filter((f) => f.from === w);
            const ingress = [
                ...inbound.map((f) => ({
                    ...(f.from === "*" ? {} : { from: [byName(f.from)] }),
                    ports: [{ protocol: "TCP", port: f.port }],
                })),
                ...scraped.filter((t) => t.to === w).map((t) => ({ from: [scraperPeer!], ports: [{ protocol: "TCP", port: t.port }] })),
            ];
            const egress = [
                ...outbound.map((f) => ({ to: [byName(f.to)], ports: [{ protocol: "TCP", port: f.port }] })),
                ...(args.externalEgress ?? []).filter((e) => e.from === w).map((e) => ({ to: e.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: e.port }] })),
            ];
            policy(w, `allow-${w}`, {
                podSelector: byName(w).podSelector,
                policyTypes: [...(ingress.length ? ["Ingress"] : []), ...(egress.length ? ["Egress"] : [])],
                ...(ingress.length ? { ingress } : {}),
                ...(egress.length ? { egress } : {}),
            });
        }
        this.registerOutputs({ policyNames: this.policyNames });
    }
}

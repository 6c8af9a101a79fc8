import * as assert from "assert";
import { AskyNetworkPolicies } from "../components";
import { find, namesOf, renderComponent } from "./support/render";

/** components/networkPolicies.ts on its own (the whole stack's flow graph is checked by the policy test, NET-2). */
describe("AskyNetworkPolicies (components/networkPolicies.ts)", () => {
    const flows = [
        { from: "*", to: "gateway", port: 8080 },
        { from: "gateway", to: "auth", port: 8003 },
        { from: "auth", to: "postgres", port: 5432 },
    ];
    const dnsDefaults = { clients: ["gateway", "auth"], nodeLocalDnsCache: true, gkeMetadataServer: false };
    const build = (dns = dnsDefaults) => renderComponent(() => { new AskyNetworkPolicies("np", { namespace: "asky", instance: "asky-test", flows, dns }); });

    it("NET-1 denies all ingress and egress by default, and allows DNS to kube-dns for the pods that resolve names only", async () => {
        const { objects } = await build();
        assert.deepStrictEqual(find(objects, "NetworkPolicy", "default-deny").spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const dns = find(objects, "NetworkPolicy", "allow-dns").spec;
        assert.deepStrictEqual(dns.podSelector, { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["auth", "gateway"] }] }, "not every pod: postgres here sends no query");
        assert.deepStrictEqual(dns.egress[0].ports, [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
        assert.deepStrictEqual(dns.egress[0].to[0].podSelector, { matchLabels: { "k8s-app": "kube-dns" } });
        // NodeLocal DNSCache by default; the metadata address never unless asked for.
        assert.deepStrictEqual(dns.egress[0].to.slice(1), [{ ipBlock: { cidr: "169.254.20.10/32" } }]);
    });

    it("opens the node's metadata server (169.254.169.254) for DNS only with dnsEgress.gkeMetadataServer, and NodeLocal DNSCache only with its switch", async () => {
        const gke = find((await build({ ...dnsDefaults, gkeMetadataServer: true, nodeLocalDnsCache: false })).objects, "NetworkPolicy", "allow-dns").spec;
        assert.deepStrictEqual(gke.egress[0].to.slice(1), [{ ipBlock: { cidr: "169.254.169.254/32" } }]);
        const none = await build({ ...dnsDefaults, clients: [] });
        assert.ok(!namesOf(none.objects, "NetworkPolicy").includes("allow-dns"), "no client, no DNS policy");
    });

    it("NET-2 opens each flow on both ends: the client's egress and the server's ingress", async () => {
        const { objects } = await build();
        assert.deepStrictEqual(namesOf(objects, "NetworkPolicy"), ["allow-auth", "allow-dns", "allow-gateway", "allow-postgres", "default-deny"]);
        const auth = find(objects, "NetworkPolicy", "allow-auth").spec;
        assert.deepStrictEqual(auth.policyTypes, ["Ingress", "Egress"]);
        assert.deepStrictEqual(auth.ingress, [{ from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "gateway" } } }], ports: [{ protocol: "TCP", port: 8003 }] }]);
        assert.deepStrictEqual(auth.egress, [{ to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "postgres" } } }], ports: [{ protocol: "TCP", port: 5432 }] }]);
        const gateway = find(objects, "NetworkPolicy", "allow-gateway").spec;
        assert.deepStrictEqual(gateway.ingress, [{ ports: [{ protocol: "TCP", port: 8080 }] }], "anyone may reach the gateway");
        assert.deepStrictEqual(find(objects, "NetworkPolicy", "allow-postgres").spec.policyTypes, ["Ingress"], "postgres opens no egress");
    });
});

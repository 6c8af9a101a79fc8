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
    const build = () => renderComponent(() => { new AskyNetworkPolicies("np", { namespace: "asky", instance: "asky-test", flows }); });

    it("NET-1 denies all ingress and egress by default, and allows DNS to kube-dns", async () => {
        const { objects } = await build();
        assert.deepStrictEqual(find(objects, "NetworkPolicy", "default-deny").spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const dns = find(objects, "NetworkPolicy", "allow-dns").spec;
        assert.deepStrictEqual(dns.egress[0].ports, [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }]);
        assert.deepStrictEqual(dns.egress[0].to[0].podSelector, { matchLabels: { "k8s-app": "kube-dns" } });
        // Node-local resolvers (NodeLocal DNSCache, GKE Cloud DNS), link-local /32s only.
        assert.deepStrictEqual(dns.egress[0].to.slice(1), [{ ipBlock: { cidr: "169.254.20.10/32" } }, { ipBlock: { cidr: "169.254.169.254/32" } }]);
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

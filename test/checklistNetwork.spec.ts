// NET-1..3 (checklist/network.ts) at their edges: how a NetworkPolicy's peers, ports and policy types
// decide who reaches whom (networking.k8s.io/v1 semantics), the port arithmetic the messages print, and
// each rule's failing case per branch. The mutation run over the file
// (npm run test:mutation -- checklist-network) showed which of them no spec asserted.
import assert from "node:assert/strict";
import { Check, K8sObject, PolicyContext, effectiveFlows, formatPorts } from "../checklist";
import { Interval, net1, net2, net3 } from "../checklist/network";
import { reasons as checkReasons } from "./support/checklist";

const dev: PolicyContext = { stack: "dev", namespace: "asky" };
const prod: PolicyContext = { stack: "prod", namespace: "asky" };
const reasons = (check: Check, objects: K8sObject[], ctx: PolicyContext = dev) => checkReasons(check, objects, ctx);
const name = (app: string) => ({ "app.kubernetes.io/name": app });
/** A Deployment of `app` whose one container declares `ports` ([name, port, protocol?]). */
const pods = (app: string, ports: [string, number, string?][], namespace = "asky", containers: string[] = ["app"]): K8sObject => ({
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: app, namespace },
    spec: { template: { metadata: { labels: name(app) }, spec: { containers: containers.map((c, i) => ({ name: c, ports: i === 0 ? ports.map(([n, containerPort, protocol]) => ({ name: n, containerPort, ...(protocol ? { protocol } : {}) })) : [] })) } } },
} as unknown as K8sObject);
const policy = (policyName: string, spec: Record<string, unknown>, namespace = "asky"): K8sObject =>
    ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: policyName, namespace }, spec } as unknown as K8sObject);
const sameSet = (actual: string[], expected: string[], message?: string) => assert.deepEqual(actual, [...expected].sort(), message);
const iv = (proto: "TCP" | "UDP" | "SCTP", lo: number, hi = lo): Interval => ({ proto, lo, hi });

const gateway = pods("gateway", [["http", 8080], ["internal", 8090]]);
const pyxis = pods("pyxis", [["http", 8001], ["alt", 8005], ["stats", 8125, "UDP"]]);
const postgres = pods("postgres", [["postgres", 5432]]);
const world = [gateway, pyxis, postgres];

/** Where pyxis may go when one egress rule with these peers and ports is its only restriction: "dst ports" per destination. */
function egressOfPyxis(to: unknown[] | undefined, ports?: unknown[], extra: K8sObject[] = []): string[] {
    const rule = { ...(to ? { to } : {}), ...(ports ? { ports } : {}) };
    const objects = [...world, ...extra, policy("pyxis-egress", { podSelector: { matchLabels: name("pyxis") }, policyTypes: ["Egress"], egress: [rule] })];
    return effectiveFlows(objects, dev).filter((f) => f.from === "pyxis").map((f) => `${f.to} ${formatPorts(f.ports)}`).sort();
}

describe("NET-1..3 at their edges (checklist/network.ts)", () => {
    it("port sets print merged, sorted by protocol and port, ranges and whole protocols named", () => {
        assert.equal(formatPorts([iv("TCP", 8080)]), "TCP/8080");
        assert.equal(formatPorts([iv("TCP", 6, 10), iv("TCP", 1, 5)]), "TCP/1-10", "adjacent ranges merge");
        assert.equal(formatPorts([iv("TCP", 1, 10), iv("TCP", 2, 3)]), "TCP/1-10", "a contained range adds nothing");
        assert.equal(formatPorts([iv("TCP", 3, 8), iv("TCP", 1, 5)]), "TCP/1-8", "overlapping ranges merge");
        assert.equal(formatPorts([iv("TCP", 10, 20), iv("TCP", 1, 5), iv("TCP", 7)]), "TCP/1-5, TCP/7, TCP/10-20");
        assert.equal(formatPorts([iv("UDP", 53), iv("TCP", 53), iv("SCTP", 9)]), "TCP/53, UDP/53, SCTP/9");
        assert.equal(formatPorts([iv("TCP", 1, 65535), iv("UDP", 1, 100)]), "TCP/any, UDP/1-100");
        assert.equal(formatPorts([iv("TCP", 2, 65535), iv("UDP", 1, 65534)]), "TCP/2-65535, UDP/1-65534");
        assert.equal(formatPorts([iv("TCP", 1, 65535), iv("UDP", 1, 65535), iv("SCTP", 1, 65535)]), "any port");
        assert.equal(formatPorts([iv("TCP", 1, 65535), iv("UDP", 1, 65535), iv("SCTP", 1, 65534)]), "TCP/any, UDP/any, SCTP/1-65534");
        assert.equal(formatPorts([iv("TCP", 9, 5), iv("TCP", 80)]), "TCP/80", "an empty range is nothing");
        assert.equal(formatPorts([]), "");
    });

    it("an egress rule's peers: a pod selector stays in the namespace; namespace selectors reach DNS, the scraper or any namespace as written", () => {
        const others = ["external any port", "kube-dns any port", "other-namespaces any port", "monitoring any port"];
        sameSet(egressOfPyxis(undefined), ["gateway any port", "postgres any port", "pyxis any port", ...others], "no peers: anywhere");
        sameSet(egressOfPyxis([{ podSelector: { matchLabels: name("postgres") } }]), ["postgres any port"]);
        sameSet(egressOfPyxis([{ podSelector: {} }]), ["gateway any port", "postgres any port", "pyxis any port"], "every pod of the namespace, nothing else");
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "asky" } }, podSelector: { matchLabels: name("gateway") } }]), ["gateway any port"]);
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "other" } }, podSelector: { matchLabels: name("gateway") } }]), ["other-namespaces any port"],
            "a pod of that name in another namespace");
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }]), ["kube-dns any port"]);
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchExpressions: [{ key: "k8s-app", operator: "In", values: ["kube-dns"] }] } }]), ["kube-dns any port"]);
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchExpressions: [{ key: "k8s-app", operator: "In", values: ["kube-dns", "metrics-server"] }] } }]),
            ["kube-dns any port", "other-namespaces any port"], "kube-system pods that are not DNS");
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }]), ["kube-dns any port", "other-namespaces any port"]);
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "coredns" } } }]), ["other-namespaces any port"]);
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: name("prometheus") } }]), ["monitoring any port"]);
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]), ["other-namespaces any port", "monitoring any port"], "every pod of monitoring");
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: name("grafana") } }]), ["other-namespaces any port"]);
        sameSet(egressOfPyxis([{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["asky"] }] } }]),
            ["gateway any port", "postgres any port", "pyxis any port"], "pinned by an expression to its own namespace");
        sameSet(egressOfPyxis([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "asky" }, matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["asky", "other"] }] } }]),
            ["gateway any port", "postgres any port", "pyxis any port"], "both pins must hold");
        sameSet(egressOfPyxis([{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["asky"] }] } }]),
            ["kube-dns any port", "monitoring any port", "other-namespaces any port"], "NotIn pins nothing: kube-system and monitoring too");
        sameSet(egressOfPyxis([{ namespaceSelector: {} }]), ["gateway any port", "postgres any port", "pyxis any port", "kube-dns any port", "other-namespaces any port", "monitoring any port"]);
        sameSet(egressOfPyxis([{}, null]), [], "a peer without selectors matches nothing");
        const ns = (sel: Record<string, unknown>, podSelector?: Record<string, unknown>) => [{ namespaceSelector: sel, ...(podSelector ? { podSelector } : {}) }];
        const pinnedTo = (...values: string[]) => ({ matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values }] });
        sameSet(egressOfPyxis(ns(pinnedTo("asky", "other"))), ["gateway any port", "postgres any port", "pyxis any port", "other-namespaces any port"], "one of the pinned namespaces is another");
        sameSet(egressOfPyxis(ns({ matchLabels: { "kubernetes.io/metadata.name": "other" }, ...pinnedTo("asky") })), [], "pins no namespace satisfies");
        sameSet(egressOfPyxis(ns({ matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In" }] })), [], "In without values");
        sameSet(egressOfPyxis(ns({ matchLabels: { "kubernetes.io/metadata.name": "other" }, ...pinnedTo("other", "x") })), ["other-namespaces any port"], "two pins that agree");
        sameSet(egressOfPyxis(ns({ matchLabels: { "kubernetes.io/metadata.name": "other" }, matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In" }] })), [], "a pin and an In without values");
        sameSet(egressOfPyxis(ns({ matchExpressions: [{ key: "team", operator: "In", values: ["asky"] }] })), ["other-namespaces any port"], "a label that only looks like a namespace's name");
        const kubeSystem = { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } };
        sameSet(egressOfPyxis(ns(kubeSystem, { matchExpressions: [{ key: "app", operator: "In", values: ["kube-dns"] }] })), ["other-namespaces any port"], "not CoreDNS's label");
        sameSet(egressOfPyxis(ns(kubeSystem, { matchExpressions: [{ key: "k8s-app", operator: "NotIn", values: ["kube-dns"] }] })), ["other-namespaces any port"], "every kube-system pod but DNS");
        sameSet(egressOfPyxis(ns(kubeSystem, { matchExpressions: [{ key: "k8s-app", operator: "In" }] })), [], "k8s-app In nothing selects no pod");
        const prometheus = { "app.kubernetes.io/name": "prometheus" };
        sameSet(egressOfPyxis(ns({ matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["prometheus"] }] })),
            ["monitoring any port", "other-namespaces any port"], "the scraper by an expression may be other monitoring pods too");
        sameSet(egressOfPyxis(ns({ matchLabels: { "kubernetes.io/metadata.name": "other" } }, { matchLabels: prometheus })), ["other-namespaces any port"], "a Prometheus elsewhere is not the scraper");
    });

    it("ipBlock peers are outside the cluster, except link-local ones: a node's own DNS cache", () => {
        for (const cidr of ["169.254.20.10/32", "169.254.0.0/16"]) sameSet(egressOfPyxis([{ ipBlock: { cidr } }]), ["kube-dns any port"], cidr);
        for (const cidr of ["10.0.0.0/8", "169.254.0.0/15", "0.0.0.0/0", "1169.254.1.1/32", "169.254.1.1/32x", "169.254.1.1"])
            sameSet(egressOfPyxis([{ ipBlock: { cidr } }]), ["external any port"], cidr);
    });

    it("an egress rule's ports: numbers, ranges, names resolved on the destination, a protocol alone meaning all its ports", () => {
        const toPyxisAndPostgres = [{ podSelector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["pyxis", "postgres"] }] } }];
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{ port: 5432 }]), ["postgres TCP/5432", "pyxis TCP/5432"]);
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{ port: 8000, endPort: 8010 }]), ["postgres TCP/8000-8010", "pyxis TCP/8000-8010"]);
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{ port: 8000, endPort: "8010" }]), ["postgres TCP/8000", "pyxis TCP/8000"], "an endPort that is no number is no range");
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{ port: "postgres" }, { port: "http" }]), ["postgres TCP/5432", "pyxis TCP/8001"], "each destination's own port of that name");
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{ port: "stats" }]), [], "a named UDP port is not the TCP one");
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{ port: "stats", protocol: "UDP" }]), ["pyxis UDP/8125"]);
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{ protocol: "UDP" }]), ["postgres UDP/any", "pyxis UDP/any"]);
        sameSet(egressOfPyxis(toPyxisAndPostgres, [{}]), ["postgres TCP/any", "pyxis TCP/any"]);
        sameSet(egressOfPyxis(toPyxisAndPostgres, [null]), ["postgres TCP/any", "pyxis TCP/any"]);
        sameSet(egressOfPyxis([{ namespaceSelector: {} }], [{ port: "dns", protocol: "UDP" }]), ["kube-dns UDP/53"], "CoreDNS's port names");
    });

    it("a flow needs the source's egress and the destination's ingress: the narrower wins, and policies of other namespaces count for nothing", () => {
        const flows = (objects: K8sObject[]) => effectiveFlows(objects, dev).filter((f) => f.from === "pyxis" && f.to === "postgres").map((f) => formatPorts(f.ports));
        const egress = policy("e", { podSelector: { matchLabels: name("pyxis") }, policyTypes: ["Egress"], egress: [{ ports: [{ port: 5000, endPort: 6000 }] }] });
        const ingress = policy("i", { podSelector: { matchLabels: name("postgres") }, ingress: [{ from: [{ podSelector: { matchLabels: name("pyxis") } }], ports: [{ port: 5400, endPort: 7000 }] }] });
        assert.deepEqual(flows([...world, egress, ingress]), ["TCP/5400-6000"]);
        assert.deepEqual(flows([...world, ingress]), ["TCP/5400-7000"]);
        assert.deepEqual(flows([...world, egress, policy("elsewhere", { podSelector: {}, policyTypes: ["Ingress"] }, "other")]), ["TCP/5000-6000"]);
        // Without policyTypes a policy is about ingress, and about egress only when it has egress rules.
        assert.deepEqual(flows([...world, policy("x", { podSelector: { matchLabels: name("pyxis") }, ingress: [] })]), ["any port"]);
        assert.deepEqual(flows([...world, policy("x", { podSelector: { matchLabels: name("pyxis") }, egress: [{ ports: [{ port: 5432 }] }] })]), ["TCP/5432"]);
        assert.deepEqual(flows([...world, policy("x", { podSelector: { matchLabels: name("postgres") } })]), [], "an ingress deny");
        // Two workloads of one app are one endpoint: the ports of both.
        const worker = { ...pods("pyxis-worker", [["worker", 9000]]), spec: { template: { metadata: { labels: name("pyxis") }, spec: { containers: [{ name: "w", ports: [{ name: "worker", containerPort: 9000 }] }] } } } } as K8sObject;
        const toPyxis = (objects: K8sObject[]) => effectiveFlows([...objects, policy("g", { podSelector: { matchLabels: name("gateway") }, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: name("pyxis") } }], ports: [{ port: "http" }, { port: "worker" }] }] })], dev)
            .filter((f) => f.from === "gateway" && f.to === "pyxis").map((f) => formatPorts(f.ports));
        assert.deepEqual(toPyxis([...world, worker]), ["TCP/8001, TCP/9000"]);
        assert.deepEqual(toPyxis(world), ["TCP/8001"]);
        // Pods of another namespace are not ours to judge.
        assert.deepEqual(effectiveFlows([pods("elsewhere", [["http", 1]], "other")], dev).filter((f) => f.from === "elsewhere" || f.to === "elsewhere"), []);
    });

    it("NET-1: a default deny for each direction, in the stack's namespace, with no rules and selecting every pod", () => {
        const deny = (spec: Record<string, unknown>, namespace = "asky") => policy("deny", spec, namespace);
        const noIngress = "Namespace/asky: no default-deny NetworkPolicy for ingress (podSelector {}, policyTypes [Ingress], no rules)";
        const noEgress = "Namespace/asky: no default-deny NetworkPolicy for egress (podSelector {}, policyTypes [Egress], no rules)";
        assert.deepEqual(reasons(net1, [deny({ podSelector: {}, policyTypes: ["Ingress", "Egress"] })]), []);
        assert.deepEqual(reasons(net1, [deny({ podSelector: {}, policyTypes: ["Ingress"] }), deny({ podSelector: { matchLabels: {} }, policyTypes: ["Egress"] })]), []);
        assert.deepEqual(reasons(net1, [deny({ podSelector: {} })]), [noEgress], "no policyTypes: ingress only");
        assert.deepEqual(reasons(net1, [deny({ podSelector: {}, policyTypes: ["Ingress", "Egress"] }, "other")]), [noIngress, noEgress]);
        assert.deepEqual(reasons(net1, [deny({ podSelector: { matchLabels: name("pyxis") }, policyTypes: ["Ingress", "Egress"] })]), [noIngress, noEgress]);
        assert.deepEqual(reasons(net1, [deny({ podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}], egress: [{ to: [] }] })]), [noIngress, noEgress]);
        assert.deepEqual(reasons(net1, []), [noIngress, noEgress]);
    });

    describe("NET-2: the effective graph is the expected one; each extra or missing flow is blamed where it can be fixed", () => {
        const denyAll = policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const dnsEgress = (apps: string[]) => policy("dns", {
            podSelector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: apps }] }, policyTypes: ["Egress"],
            egress: [{ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }], ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }] }],
        });
        const allow = (policyName: string, from: string, to: string, port: number) => [
            policy(`${policyName}-egress`, { podSelector: { matchLabels: name(from) }, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: name(to) } }], ports: [{ port }] }] }),
            policy(`${policyName}-ingress`, { podSelector: { matchLabels: name(to) }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: name(from) } }], ports: [{ port }] }] }),
        ];
        const publicGateway = policy("gateway-public", { podSelector: { matchLabels: name("gateway") }, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: 8080 }] }] });
        const sound = [...world, denyAll, dnsEgress(["gateway", "pyxis"]), publicGateway, ...allow("gw-pyxis", "gateway", "pyxis", 8001), ...allow("pyxis-db", "pyxis", "postgres", 5432)];

        it("the sound graph: nothing reported", () => {
            assert.deepEqual(reasons(net2, sound), []);
            assert.deepEqual(reasons(net2, sound, prod), []);
        });

        it("an extra flow names its ports and the policy granting it on each side, blamed at the source's policy first", () => {
            const pyxisWide = policy("pyxis-wide", { podSelector: { matchLabels: name("pyxis") }, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: name("postgres") } }], ports: [{ port: 5430, endPort: 5434 }] }] });
            const dbWide = policy("db-wide", { podSelector: { matchLabels: name("postgres") }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 5430, endPort: 5433 }] }] });
            assert.deepEqual(reasons(net2, [...sound, pyxisWide, dbWide]), [
                "NetworkPolicy/pyxis-wide: extra flow pyxis → postgres TCP/5430-5431, TCP/5433 (egress allowed by NetworkPolicy/pyxis-wide; ingress allowed by NetworkPolicy/db-wide)",
            ]);
            assert.deepEqual(reasons(net2, [...sound, pyxisWide]), [], "the database's ingress still holds the line");
            const both = (lo: number, hi: number) => [
                policy("pyxis-range", { podSelector: { matchLabels: name("pyxis") }, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: name("postgres") } }], ports: [{ port: lo, endPort: hi }] }] }),
                policy("db-range", { podSelector: { matchLabels: name("postgres") }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: name("pyxis") } }], ports: [{ port: lo, endPort: hi }] }] }),
            ];
            for (const [lo, hi] of [[5000, 5100], [6000, 6100]])
                assert.deepEqual(reasons(net2, [...sound, ...both(lo, hi)]), [`NetworkPolicy/pyxis-range: extra flow pyxis → postgres TCP/${lo}-${hi} (egress allowed by NetworkPolicy/pyxis-range; ingress allowed by NetworkPolicy/db-range)`], `${lo}-${hi}`);
            const dbPublic = policy("db-public", { podSelector: { matchLabels: name("postgres") }, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: 5432 }] }] });
            assert.deepEqual(reasons(net2, [...sound, dbPublic]), [
                "NetworkPolicy/db-public: extra flow external → postgres TCP/5432 (external has no egress isolation; ingress allowed by NetworkPolicy/db-public)",
                "NetworkPolicy/db-public: extra flow other-namespaces → postgres TCP/5432 (other-namespaces has no egress isolation; ingress allowed by NetworkPolicy/db-public)",
                "NetworkPolicy/db-public: extra flow monitoring → postgres TCP/5432 (monitoring has no egress isolation; ingress allowed by NetworkPolicy/db-public)",
            ]);
            assert.deepEqual(reasons(net2, [...sound.filter((o) => o.metadata.name !== "dns"), dnsEgress(["gateway", "pyxis", "postgres"])]), [
                "NetworkPolicy/dns: extra flow postgres → kube-dns TCP/53, UDP/53 (egress allowed by NetworkPolicy/dns; kube-dns has no ingress isolation)",
            ], "the database resolves no name");
            // Nobody isolated: each flow is blamed on the workload that sends it, or receives it from outside.
            const open = reasons(net2, world);
            assert.ok(open.includes("Deployment/pyxis: extra flow pyxis → postgres TCP/1-5431, TCP/5433-65535, UDP/any, SCTP/any (pyxis has no egress isolation; postgres has no ingress isolation)"), open.join("\n"));
            assert.ok(open.includes("Deployment/gateway: extra flow external → gateway TCP/1-8079, TCP/8081-65535, UDP/any, SCTP/any (external has no egress isolation; gateway has no ingress isolation)"), open.join("\n"));
            assert.ok(open.includes("Deployment/postgres: extra flow other-namespaces → postgres any port (other-namespaces has no egress isolation; postgres has no ingress isolation)"), open.join("\n"));
            assert.equal(open.length, 30);
        });

        it("a missing flow names the side that blocks it and is blamed on the workload that must change", () => {
            const without = (...names: string[]) => sound.filter((o) => !names.includes(o.metadata.name));
            assert.deepEqual(reasons(net2, without("pyxis-db-ingress")), ["Deployment/postgres: missing flow pyxis → postgres TCP/5432 (blocked by ingress of postgres)"]);
            assert.deepEqual(reasons(net2, without("pyxis-db-egress")), ["Deployment/pyxis: missing flow pyxis → postgres TCP/5432 (blocked by egress of pyxis)"]);
            assert.deepEqual(reasons(net2, without("pyxis-db-egress", "pyxis-db-ingress")), ["Deployment/pyxis: missing flow pyxis → postgres TCP/5432 (blocked by egress of pyxis and ingress of postgres)"]);
            const publicMissing = (port: number) => ["external", "other-namespaces", "monitoring"].map((src) => `Deployment/gateway: missing flow ${src} → gateway TCP/${port} (blocked by ingress of gateway)`);
            assert.deepEqual(reasons(net2, without("gateway-public")), publicMissing(8080));
            assert.deepEqual(reasons(net2, [...without("gateway"), pods("gateway", [["http", 8080], ["https", 8443]])]), publicMissing(8443), "HTTPS only once the gateway declares it");
            assert.deepEqual(reasons(net2, [...without("gateway"), pods("gateway", [["http", 8080], ["quic", 8443, "UDP"]])]), [], "a UDP 8443 is not the HTTPS listener");
            assert.ok(!reasons(net2, [...sound, pods("postgres-exporter", [["web", 8080]])]).some((r) => r.includes("monitoring → postgres-exporter")), "no scrape where no exporter port is declared");
            const backup = (containers: string[]) => reasons(net2, [...sound, pods("postgres-backup", [], "asky", containers)]);
            const backupBase = [
                "Deployment/postgres-backup: missing flow postgres-backup → postgres TCP/5432 (blocked by egress of postgres-backup and ingress of postgres)",
                "Deployment/postgres-backup: missing flow postgres-backup → kube-dns TCP/53, UDP/53 (blocked by egress of postgres-backup)",
            ];
            assert.deepEqual(backup(["dump"]), backupBase);
            assert.deepEqual(backup(["dump", "upload"]), [...backupBase, "Deployment/postgres-backup: missing flow postgres-backup → external TCP/443 (blocked by egress of postgres-backup)"],
                "the off-cluster copy only from a pod with the upload container");
        });
    });

    it("NET-3: only the gateway Service is exposed, NodePort 30000 in dev and a LoadBalancer in prod; no route leads elsewhere", () => {
        const svc = (svcName: string, spec: Record<string, unknown>) => ({ apiVersion: "v1", kind: "Service", metadata: { name: svcName, namespace: "asky" }, spec } as unknown as K8sObject);
        const nodePort = svc("gateway", { type: "NodePort", ports: [{ port: 80, nodePort: 30000 }] });
        assert.deepEqual(reasons(net3, [nodePort, svc("pyxis", {}), svc("auth", { type: "ClusterIP" })]), []);
        assert.deepEqual(reasons(net3, [svc("gateway", { type: "NodePort", ports: [{ port: 80, nodePort: 30001 }, { port: 443 }] })]), ["Service/gateway: must use nodePort 30000 in dev"]);
        assert.deepEqual(reasons(net3, [svc("gateway", { type: "NodePort", ports: [{ port: 80, nodePort: 30000 }, { port: 443, nodePort: 30443 }] })]), [], "30000 among its ports");
        assert.deepEqual(reasons(net3, [svc("gateway", {})]), ["Service/gateway: must be NodePort in dev (is ClusterIP)"]);
        assert.deepEqual(reasons(net3, [nodePort], prod), ["Service/gateway: must be LoadBalancer in prod (is NodePort)"]);
        assert.deepEqual(reasons(net3, [svc("gateway", { type: "LoadBalancer" })], prod), []);
        assert.deepEqual(reasons(net3, [svc("gateway", { type: "LoadBalancer", externalIPs: ["192.0.2.1"] }), svc("pyxis", { type: "NodePort" }), svc("redis", { externalIPs: ["192.0.2.2"] })], prod), [
            "Service/gateway: sets externalIPs",
            "Service/pyxis: type NodePort exposes it outside the cluster; only gateway may be exposed",
            "Service/redis: sets externalIPs",
        ]);
        const ingress = { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name: "web", namespace: "asky" }, spec: {
            defaultBackend: { service: { name: "pyxis" } },
            rules: [{ http: { paths: [{ backend: { service: { name: "gateway" } } }, { backend: { service: { name: "auth" } } }, { backend: { resource: { kind: "Bucket" } } }] } }, {}],
        } } as unknown as K8sObject;
        assert.deepEqual(reasons(net3, [nodePort, ingress]), ["Ingress/web: routes to Service pyxis; only gateway may be exposed", "Ingress/web: routes to Service auth; only gateway may be exposed"]);
        const routes = ["HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"].map((kind) => ({ apiVersion: "gateway.networking.k8s.io/v1", kind, metadata: { name: "r", namespace: "asky" },
            spec: { rules: [{ backendRefs: [{ name: "gateway" }, { kind: "Service", name: "redis" }, { kind: "ServiceImport", name: "elsewhere" }] }] } } as unknown as K8sObject));
        assert.deepEqual(reasons(net3, [nodePort, ...routes]), routes.map((r) => `${r.kind}/r: routes to Service redis; only gateway may be exposed`));
    });
});

import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { contract, ContractService, exporters, nginx, nodeImages, postgres, redis } from "../images";
import { Cluster, deleteCluster, startCluster } from "./cluster";
import { containerdPaths, startContainerd, stopContainerd, unmountUnder } from "./containerd";
import { installCoreDNS } from "./dns";
import { buildImage, BuiltImage, ImageSpec, retag } from "./images";
import { assertNotAKubernetesNode, NODE_NETWORK, podNetworkNamespaces, realNodeOwner, setUpNetwork, tearDownNetwork } from "./network";
import { installNetworkPolicies, removeEnforcerRules } from "./netpol";
import { ClusterPki, removeCgroupRoot, startNode, stopNode } from "./node";
import { daemonPid, run, stopDaemon, succeeds } from "./processes";
import { E2E_REGISTRY_HOST, Registry, registryHost, removeRegistryFiles, startRegistry, writeMirrorConfig } from "./registry";
import { ROOT } from "./stack";

/**
 * A control plane (kwokctl's binary runtime) with one real node: kubelet and kube-proxy, containerd
 * and runc, a bridge with no uplink, CoreDNS, kube-router's NetworkPolicy controller, and a local registry holding
 * images built here. Started and removed by the e2e like the KWOK clusters; `npm run e2e:down`
 * removes everything of it, whichever process started it.
 */
export interface RealNodeCluster {
    cluster: Cluster;
    registry: Registry;
    /** The dev stack's images, by stack config key. */
    images: StackImages;
    /** How the platform is reached from this machine: the gateway's NodePort on the node address. */
    nodeIp: string;
    /** The toolchain's bin folder. */
    bin: string;
}

/** An image reference for every image the dev stack deploys, keyed as in the stack config. */
export interface StackImages {
    database: string;
    cache: string;
    gateway: string;
    services: Record<ContractService, string>;
    monitoring: Record<"postgresExporter" | "redisExporter" | "nginxExporter" | "logExporter", string>;
}

/** Where the dev stack's hostPath volume lives on this machine during the e2e (under an allowed prefix). */
export const E2E_HOST_PATH = "/srv/asky-e2e/postgres";

/** The versions of scripts/toolchain/versions.sh. */
export function toolchainVersions(): Record<string, string> {
    const text = fs.readFileSync(path.join(ROOT, "scripts", "toolchain", "versions.sh"), "utf8");
    return Object.fromEntries([...text.matchAll(/^([A-Z_]+)=("[^"]*"|\S+)/gm)].map((m) => [m[1], m[2].replace(/^"|"$/g, "")]));
}

/** Programs of this machine the real node needs (Debian packages that scripts/test.sh installs). */
const HOST_PROGRAMS = ["/usr/bin/containerd", "/usr/sbin/runc", "/usr/bin/ctr", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap",
    "/usr/bin/mmdebstrap", "/usr/sbin/iptables", "/usr/sbin/ipset", "/usr/bin/curl", "/bin/busybox"];

/** The daemons a real node runs (their PID files are under its e2e folder). */
const NODE_DAEMONS = ["kubelet", "kube-proxy", "containerd", "registry"];

function checkHost(workdir: string): void {
    const owner = realNodeOwner();
    // A marker whose run left no daemon alive (the machine or that run was killed) holds nothing: this
    // run takes the machine over, and its setup replaces the marker and the rules.
    const ownerAlive = owner !== undefined && NODE_DAEMONS.some((d) => daemonPid(owner, d) !== undefined);
    if (owner !== undefined && owner !== workdir && !ownerAlive) {
        console.log(`e2e: the real node of ${owner} left no process running: taking the machine over`);
    } else if (owner !== undefined && owner !== workdir) {
        throw new Error(`the real node of another e2e (${owner}) holds this machine (one bridge, one set of rules): ` +
            `wait for it, or run npm run e2e:down in ${path.dirname(owner)}`);
    }
    if (process.getuid?.() !== 0) throw new Error("the real-node e2e runs kubelet, containerd and iptables: run it as root (sudo npm test)");
    const missing = HOST_PROGRAMS.filter((p) => !fs.existsSync(p));
    if (missing.length) throw new Error(`the real node needs ${missing.join(", ")} (scripts/test.sh installs them with apt-get)`);
    assertNotAKubernetesNode();
}

/** The kwokctl configuration: the API server advertised on the node address, the Service range, kubelet access by certificate. */
function controlPlaneConfig(pki: ClusterPki): string {
    const { nodeIp, serviceCidr, apiServiceIp } = NODE_NETWORK;
    // Appended: kwokctl sets none of these (its `override` only replaces an argument it already has).
    const arg = (key: string, value: string) => ({ key, value });
    return YAML.stringify({
        apiVersion: "config.kwok.x-k8s.io/v1alpha1",
        kind: "KwokctlConfiguration",
        options: {
            kubeApiserverCertSANs: [apiServiceIp, nodeIp],
            // KWOK's controller would take every node, this real one too, and fake its pods' status.
            disable: ["kwok-controller"],
        },
        componentsPatches: [{
            name: "kube-apiserver",
            extraArgs: [
                // Pods reach the API server through the `kubernetes` Service, whose endpoint is this address.
                arg("advertise-address", nodeIp),
                arg("service-cluster-ip-range", serviceCidr),
                // exec, logs and port-forward go to the kubelet at its InternalIP, with a client certificate.
                arg("kubelet-preferred-address-types", "InternalIP"),
                arg("kubelet-client-certificate", pki.adminCert),
                arg("kubelet-client-key", pki.adminKey),
            ],
        }],
    });
}

function pkiOf(workdir: string, name: string): ClusterPki {
    const dir = path.join(workdir, "kwok", "clusters", name, "pki");
    return { caCert: path.join(dir, "ca.crt"), adminCert: path.join(dir, "admin.crt"), adminKey: path.join(dir, "admin.key") };
}

/** Logs how long each step took (the README's cold and warm figures come from these lines). */
function timed<T>(workdir: string, what: string, f: () => T): T {
    const start = Date.now();
    const out = f();
    fs.appendFileSync(path.join(workdir, "logs", "real-node-times.log"), `${what}\t${((Date.now() - start) / 1000).toFixed(1)} s\n`);
    return out;
}

/** Builds and pushes every image the node and the dev stack need. */
export function buildStackImages(registry: Registry, bin: string, workdir: string): { node: Record<"pause" | "coredns" | "kubeRouter", BuiltImage>; stack: StackImages } {
    const v = toolchainVersions();
    const build = (spec: ImageSpec) => timed(workdir, `image ${spec.name}`, () => buildImage(spec, registry, bin));
    const nodeSpecs = nodeImages(bin, { kubernetes: v.KUBERNETES_VERSION, coredns: v.COREDNS_VERSION, kubeRouter: v.KUBE_ROUTER_VERSION });
    const node = { pause: build(nodeSpecs.pause), coredns: build(nodeSpecs.coredns), kubeRouter: build(nodeSpecs.kubeRouter) };
    const ex = exporters(bin, v);
    const stack: StackImages = {
        database: build(postgres).ref,
        cache: build(redis).ref,
        gateway: build(nginx).ref,
        services: { auth: build(contract("auth")).ref, pyxis: build(contract("pyxis")).ref, "request-management": build(contract("request-management")).ref },
        monitoring: {
            postgresExporter: build(ex.postgresExporter).ref,
            redisExporter: build(ex.redisExporter).ref,
            nginxExporter: build(ex.nginxExporter).ref,
            logExporter: build(ex.logExporter).ref,
        },
    };
    return { node, stack };
}

/** Pushes an image of the stack under another tag (same content: a "new version" to roll to); returns its reference. */
export function retagStackImage(node: RealNodeCluster, ref: string, tag: string): string {
    const pushed = ref.replace(E2E_REGISTRY_HOST, node.registry.address);
    return retag({ ref, pushed }, tag, node.bin).ref;
}

/** The same images pinned by digest (`<ref>@sha256:…`), as prod requires. */
export function pinnedImages(node: RealNodeCluster): StackImages {
    const pin = (ref: string) => `${ref}@${run(path.join(node.bin, "crane"), ["--insecure", "digest", ref.replace(E2E_REGISTRY_HOST, node.registry.address)]).trim()}`;
    const i = node.images;
    return {
        database: pin(i.database), cache: pin(i.cache), gateway: pin(i.gateway),
        services: { auth: pin(i.services.auth), pyxis: pin(i.services.pyxis), "request-management": pin(i.services["request-management"]) },
        monitoring: {
            postgresExporter: pin(i.monitoring.postgresExporter), redisExporter: pin(i.monitoring.redisExporter),
            nginxExporter: pin(i.monitoring.nginxExporter), logExporter: pin(i.monitoring.logExporter),
        },
    };
}

/** Every image reference of a stack's images, database first. */
export function stackImageRefs(images: StackImages): string[] {
    return [images.database, images.cache, images.gateway, ...Object.values(images.services), ...Object.values(images.monitoring)];
}

/**
 * Pulls the dev stack's images onto the node, through the CRI as the kubelet does (from the local registry): what a
 * node that has run the stack before holds. Returns the seconds it took.
 */
export function pullStackImages(node: RealNodeCluster, workdir: string): number {
    const endpoint = `unix://${containerdPaths(workdir).socket}`;
    const start = Date.now();
    for (const ref of stackImageRefs(node.images)) {
        run(path.join(node.bin, "crictl"), ["--image-endpoint", endpoint, "--timeout", "120s", "pull", ref], { timeout: 180_000 });
    }
    return (Date.now() - start) / 1000;
}

/** Points a stack's config at the images built here (the only change the e2e makes to what is deployed). */
export function useStackImages(config: Record<string, any>, images: StackImages): void {
    config["asky:database"].image = images.database;
    config["asky:cache"].image = images.cache;
    config["asky:gateway"].image = images.gateway;
    for (const [service, image] of Object.entries(images.services)) config["asky:services"][service].image = image;
    Object.assign(config["asky:monitoring"].images, images.monitoring);
}

/** The committed dev stack's config pointed at this cluster, this machine's hostPath volume and the images built here: the e2e's only changes. */
export function configureDevStack(config: Record<string, any>, node: RealNodeCluster): void {
    config["asky:kubeconfig"] = node.cluster.kubeconfig;
    config["asky:kubeContext"] = node.cluster.context;
    config["asky:storage"].hostPath = E2E_HOST_PATH;
    useStackImages(config, node.images);
}

/** README "Deploy to minikube": the hostPath volume belongs to the postgres UID before the first up; `empty` removes what a deploy left in it. */
export function hostPathVolume(opts: { empty?: boolean } = {}): void {
    if (opts.empty) fs.rmSync(E2E_HOST_PATH, { recursive: true, force: true });
    run("install", ["-d", "-o", "999", "-g", "999", E2E_HOST_PATH]);
}

/** Every `image` value and image map entry in a stack's config. */
function imagesIn(value: unknown, key = ""): string[] {
    if (typeof value === "string") return key === "image" || /Exporter$/.test(key) ? [value] : [];
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => imagesIn(v, k));
    return [];
}

/** Starts everything, in order; on failure what started stays up for a look (npm run e2e:down). */
export async function startRealNodeCluster(opts: { name: string; bin: string; workdir: string }): Promise<RealNodeCluster> {
    const { name, bin, workdir } = opts;
    checkHost(workdir);
    await tearDownRealNode({ name, bin, workdir });
    fs.mkdirSync(path.join(workdir, "logs"), { recursive: true });
    setUpNetwork(workdir);
    const registry = await startRegistry(workdir, bin);
    const { node, stack } = buildStackImages(registry, bin, workdir);
    // Every registry a manifest names resolves to the local one: ours, and those of the committed
    // stacks' images (a pull of an image the e2e did not build fails at once, by design).
    const committed = ["dev", "prod"].flatMap((s) => imagesIn(YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${s}.yaml`), "utf8")).config));
    const hosts = [E2E_REGISTRY_HOST, "registry.k8s.io", ...committed.map(registryHost)];
    writeMirrorConfig(path.join(workdir, "node", "containerd", "certs.d"), registry, hosts);
    await startContainerd(workdir, node.pause.ref);
    const pki = pkiOf(workdir, name);
    const cluster = timed(workdir, "control plane", () => startCluster({ name, bin, workdir, nodes: 0, config: controlPlaneConfig(pki) }));
    await startNode(workdir, bin, cluster, pki);
    timed(workdir, "CoreDNS", () => installCoreDNS(cluster, node.coredns.ref));
    timed(workdir, "kube-router", () => installNetworkPolicies(cluster, node.kubeRouter.ref));
    return { cluster, registry, images: stack, nodeIp: NODE_NETWORK.nodeIp, bin };
}

let shared: Promise<RealNodeCluster> | undefined;

/** The e2e files' one real node: started by the first file that asks, reused by the next ones. */
export function sharedRealNode(opts: { name: string; bin: string; workdir: string }): Promise<RealNodeCluster> {
    shared ??= startRealNodeCluster(opts);
    return shared;
}

/** Removes the shared real node (the last real-node file, when everything passed). */
export async function releaseRealNode(opts: { name: string; bin: string; workdir: string }): Promise<void> {
    shared = undefined;
    await tearDownRealNode(opts);
}

/**
 * Removes everything a real-node run made, whether or not it is still running: the kubelet (so it
 * restarts nothing), the pods' containers, containerd and its shims, kube-proxy's and the kubelet's
 * rules, the enforcer's chains and ipsets, mounts, the pods' network namespaces, the bridge, the guard
 * chain, the cgroups, the registry, the control plane, and the hostPath data.
 */
export async function tearDownRealNode(opts: { name: string; bin: string; workdir: string }): Promise<void> {
    const { name, bin, workdir } = opts;
    const owner = realNodeOwner();
    if (owner !== undefined && owner !== workdir) {
        // Another checkout's node: its processes, rules and bridge are not ours to remove.
        deleteCluster({ name, bin, workdir });
        return;
    }
    await stopNode(workdir, bin);
    await stopContainerd(workdir, bin);
    if (owner !== undefined) removeEnforcerRules();
    for (const ns of podNetworkNamespaces()) succeeds("ip", ["netns", "delete", ns]);
    unmountUnder(path.join(workdir, "node"));
    tearDownNetwork(workdir);
    removeCgroupRoot();
    await stopDaemon(workdir, "registry");
    removeRegistryFiles(workdir);
    deleteCluster({ name, bin, workdir });
    fs.rmSync(path.join(workdir, "node"), { recursive: true, force: true });
    fs.rmSync(path.dirname(E2E_HOST_PATH), { recursive: true, force: true });
}

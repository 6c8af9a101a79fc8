import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { Cluster } from "./cluster";
import { KObject } from "./kube";
import { ROOT } from "./stack";

/** The storage a managed cluster gives a prod stack, provided by the test around the program (the
 * program is unchanged): a Retain StorageClass without a provisioner, and static volumes of it. */
export const MANAGED_STORAGE_CLASS = "e2e-managed-retain";

/** The example values that fill the committed prod file's `<REQUIRED: …>` placeholders. */
export function prodOverlay(): Record<string, any> {
    return YAML.parse(fs.readFileSync(path.join(ROOT, "scripts", "render-overlays", "prod.yaml"), "utf8")).config;
}

/** Creates the managed StorageClass. */
export function provideStorageClass(cluster: Cluster): void {
    cluster.kubectl(["apply", "-f", "-"], YAML.stringify({
        apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: MANAGED_STORAGE_CLASS },
        provisioner: "kubernetes.io/no-provisioner", reclaimPolicy: "Retain", volumeBindingMode: "Immediate", allowVolumeExpansion: true,
    }));
}

/** Points a prod stack's claims at the managed class and creates a volume of it for each, sized as
 * the stack asks, as a managed cluster's provisioner would; on a real node, in folders under
 * `hostPathBase` that belong to the postgres UID (999). */
export function useManagedStorage(cluster: Cluster, config: Record<string, any>, hostPathBase = "/var/lib/e2e"): void {
    config["asky:storage"].storageClass = MANAGED_STORAGE_CLASS;
    config["asky:backup"].storageClass = MANAGED_STORAGE_CLASS;
    const sizes = { "e2e-database": config["asky:storage"].size, "e2e-backup": config["asky:backup"].storageSize };
    for (const [name, size] of Object.entries(sizes)) {
        cluster.kubectl(["apply", "-f", "-"], YAML.stringify({
            apiVersion: "v1", kind: "PersistentVolume", metadata: { name },
            spec: { capacity: { storage: size }, accessModes: ["ReadWriteOnce"], storageClassName: MANAGED_STORAGE_CLASS,
                persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `${hostPathBase}/${name}` } },
        }));
    }
}

/** The load balancer address a managed cluster's cloud gives the gateway's Service (TEST-NET-3: never routed). */
export const LB_ADDRESS = "203.0.113.10";

/** Deep-merges `overlay` into `target` (objects key by key, everything else replaced). */
export function merge(target: Record<string, any>, overlay: Record<string, any>): void {
    for (const [k, v] of Object.entries(overlay)) {
        if (v && typeof v === "object" && !Array.isArray(v) && target[k] && typeof target[k] === "object") merge(target[k], v);
        else target[k] = v;
    }
}

/** A self-signed certificate for the gateway's TLS Secret, as the organisation would issue one for `hostname`. */
export function tlsSecret(workdir: string, namespace = "asky", hostname = "asky.example.org"): string {
    const dir = fs.mkdtempSync(path.join(workdir, "tls-"));
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
        "-subj", `/CN=${hostname}`, "-addext", `subjectAltName=DNS:${hostname}`, "-keyout", path.join(dir, "tls.key"), "-out", path.join(dir, "tls.crt")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
    const b64 = (f: string) => fs.readFileSync(path.join(dir, f)).toString("base64");
    return YAML.stringify({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: "gateway-tls", namespace },
        data: { "tls.crt": b64("tls.crt"), "tls.key": b64("tls.key") } });
}

/** What the cloud and the organisation do while the engine waits: an address for the LoadBalancer
 * Service, and the TLS Secret the gateway reads (README: TLS setup for prod), once the namespace exists. */
export function managedClusterStandIn(cluster: Cluster, workdir: string, namespace = "asky"): () => void {
    let stopped = false;
    const secret = tlsSecret(workdir, namespace);
    const tick = () => {
        if (stopped) return;
        try {
            if (cluster.get(["namespace", namespace]) && !cluster.get(["-n", namespace, "secret", "gateway-tls"])) cluster.kubectl(["apply", "-f", "-"], secret);
            const svc = cluster.get<KObject>(["-n", namespace, "service", "gateway"]);
            if (svc?.spec.type === "LoadBalancer" && !svc.status?.loadBalancer?.ingress?.length) {
                cluster.kubectl(["-n", namespace, "patch", "service", "gateway", "--subresource=status", "--type=merge",
                    "-p", JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: LB_ADDRESS }] } } })]);
            }
        } catch {
            /* not created yet */
        }
        setTimeout(tick, 1000);
    };
    tick();
    return () => (stopped = true);
}

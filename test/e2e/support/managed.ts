import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { Cluster } from "./cluster";
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
 * the stack asks, as a managed cluster's provisioner would. */
export function useManagedStorage(cluster: Cluster, config: Record<string, any>): void {
    config["asky:storage"].storageClass = MANAGED_STORAGE_CLASS;
    config["asky:backup"].storageClass = MANAGED_STORAGE_CLASS;
    const sizes = { "e2e-database": config["asky:storage"].size, "e2e-backup": config["asky:backup"].storageSize };
    for (const [name, size] of Object.entries(sizes)) {
        cluster.kubectl(["apply", "-f", "-"], YAML.stringify({
            apiVersion: "v1", kind: "PersistentVolume", metadata: { name },
            spec: { capacity: { storage: size }, accessModes: ["ReadWriteOnce"], storageClassName: MANAGED_STORAGE_CLASS,
                persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `/var/lib/e2e/${name}` } },
        }));
    }
}

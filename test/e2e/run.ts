// npm run e2e [-- --real-node] [-- --keep]: builds the toolchain (cached), then runs the real Pulumi
// CLI against local control planes (test/e2e/*.e2e.ts): the dev stack on a real node (kubelet,
// containerd, runc, CoreDNS, kube-router, images built here), prod and the policy pack on
// KWOK nodes. `--real-node` runs only the real-node files (1-*); `--keep` stops after the dev stack's first
// `pulumi up` and leaves everything running: .e2e/kubeconfig, .e2e/registry (host:port) and
// .e2e/gateway-url. `--only FILE` runs the e2e files whose name starts with FILE (e.g. 1-resilience).
// npm run e2e:down: stops whatever a run left (processes by PID, containers, mounts, network
// namespaces, the bridge, every rule the run added, the control plane) and removes .e2e/.
import { spawnSync } from "child_process";
import * as fs from "fs";
import Mocha from "mocha";
import * as path from "path";
import { deleteCluster } from "./support/cluster";
import { tearDownRealNode } from "./support/realNode";

const ROOT = path.resolve(__dirname, "..", "..");
export const WORKDIR = path.join(ROOT, ".e2e");
export const CLUSTER = "asky-e2e";
/** The e2e files that run on the real node start with this (one node for all of them, started by the first). */
const REAL_NODE_FILES = "1-";
/** The one `--keep` runs: the dev stack's first deploy. */
const FIRST_DEPLOY_FILE = "1-dev.e2e.ts";

/** Where scripts/toolchain.sh puts its binaries. */
function toolchainBin(): string {
    return path.join(process.env.ASKY_TOOLCHAIN_DIR ?? path.join(ROOT, ".toolchain"), "bin");
}

/** Builds (or finds) the toolchain; returns its bin folder. */
export function toolchain(): string {
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "toolchain.sh")], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) throw new Error("scripts/toolchain.sh failed: the e2e cannot run without its toolchain (see above)");
    return r.stdout.trim().split("\n").pop()!;
}

/** Removes everything an earlier run left: the real node's pieces, the control plane, .e2e/. */
async function down(): Promise<void> {
    const opts = { name: CLUSTER, bin: toolchainBin(), workdir: WORKDIR };
    if (process.getuid?.() === 0) await tearDownRealNode(opts);
    deleteCluster(opts);
    fs.rmSync(WORKDIR, { recursive: true, force: true });
}

async function main(args: string[]): Promise<void> {
    if (args.includes("--down")) {
        await down();
        console.log(`cluster ${CLUSTER} and its real node stopped, ${path.relative(ROOT, WORKDIR)}/ removed`);
        return;
    }
    const onlyAt = args.indexOf("--only");
    const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
    const unknown = args.filter((a, i) => a !== "--keep" && a !== "--real-node" && !(onlyAt >= 0 && (i === onlyAt || i === onlyAt + 1)));
    if (unknown.length || (onlyAt >= 0 && !only)) {
        console.error(`unknown argument(s) ${unknown.join(" ")}; usage: npm run e2e [-- --real-node] [-- --keep] [-- --only FILE] | npm run e2e:down`);
        process.exit(2);
    }
    // Every run starts from nothing: no cluster, no node, no stack state of an earlier run.
    await down();
    let bin: string;
    try {
        bin = toolchain();
    } catch (e) {
        console.error((e as Error).message);
        console.log("\n0 passed, 1 failed, 0 skipped");
        process.exit(1);
    }
    process.env.ASKY_E2E_BIN = bin;
    process.env.ASKY_E2E_DIR = WORKDIR;
    process.env.ASKY_E2E_CLUSTER = CLUSTER;
    process.env.ASKY_E2E_KEEP = args.includes("--keep") ? "1" : "";
    const mocha = new Mocha({
        reporter: path.join(ROOT, "test", "support", "summary-reporter.js"),
        timeout: 30 * 60_000,
        bail: true, // each step builds on the one before
    });
    const files = fs.readdirSync(path.join(ROOT, "test", "e2e")).filter((f) => f.endsWith(".e2e.ts")).sort();
    const chosen = only ? files.filter((f) => f.startsWith(only)) : args.includes("--keep") ? [FIRST_DEPLOY_FILE]
        : args.includes("--real-node") ? files.filter((f) => f.startsWith(REAL_NODE_FILES)) : files;
    for (const f of chosen) {
        mocha.addFile(path.join(ROOT, "test", "e2e", f));
    }
    mocha.run((failures) => process.exit(failures ? 1 : 0));
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((e) => {
        console.error(e);
        process.exit(1);
    });
}

// npm run e2e [-- --keep]: builds the toolchain (cached), starts a local control plane with KWOK
// nodes and runs the real Pulumi CLI against it (test/e2e/*.e2e.ts). `--keep` stops after the first
// `pulumi up` and leaves the cluster and the stack running (kubeconfig: .e2e/kubeconfig).
// npm run e2e:down: stops the cluster and removes .e2e/.
import { spawnSync } from "child_process";
import * as fs from "fs";
import Mocha from "mocha";
import * as path from "path";
import { deleteCluster } from "./support/cluster";

const ROOT = path.resolve(__dirname, "..", "..");
const WORKDIR = path.join(ROOT, ".e2e");
const CLUSTER = "asky-e2e";

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

function main(args: string[]): void {
    if (args.includes("--down")) {
        deleteCluster({ name: CLUSTER, bin: toolchainBin(), workdir: WORKDIR });
        fs.rmSync(WORKDIR, { recursive: true, force: true });
        console.log(`cluster ${CLUSTER} stopped, ${path.relative(ROOT, WORKDIR)}/ removed`);
        return;
    }
    const unknown = args.filter((a) => a !== "--keep");
    if (unknown.length) {
        console.error(`unknown argument(s) ${unknown.join(" ")}; usage: npm run e2e [-- --keep] | npm run e2e:down`);
        process.exit(2);
    }
    // Every run starts from nothing: no cluster, no stack state of an earlier run.
    deleteCluster({ name: CLUSTER, bin: toolchainBin(), workdir: WORKDIR });
    fs.rmSync(WORKDIR, { recursive: true, force: true });
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
    for (const f of fs.readdirSync(path.join(ROOT, "test", "e2e")).filter((f) => f.endsWith(".e2e.ts")).sort()) {
        mocha.addFile(path.join(ROOT, "test", "e2e", f));
    }
    mocha.run((failures) => process.exit(failures ? 1 : 0));
}

if (require.main === module) main(process.argv.slice(2));

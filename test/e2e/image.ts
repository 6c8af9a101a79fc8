// npm run e2e:image -- --prebuild: builds (or finds cached) every Debian root filesystem the e2e's images
// use, without a registry or the toolchain: npm test runs it beside the toolchain's Go builds.
// npm run e2e:image -- --name NAME --dir DIR [--packages 'deb1 deb2'] --cmd 'CMD ARGS…' [--env K=V]…
// Builds an image of your own code without Docker and pushes it into the registry of a kept real-node
// e2e (npm run e2e -- --real-node --keep): a Debian bookworm root filesystem with the packages
// (cached by content), DIR's files under /app (the working directory), CMD as the command. Prints
// the reference to put in the stack config (e.g. asky:services.pyxis.image); the node pulls it
// from the local registry like any other image.
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { debianImages } from "./images";
import { buildImage, debianRootfs, imageCacheDir } from "./support/images";
import { runningRegistry } from "./support/registry";

const ROOT = path.resolve(__dirname, "..", "..");
const WORKDIR = path.join(ROOT, ".e2e");
const BIN = path.join(process.env.ASKY_TOOLCHAIN_DIR ?? path.join(ROOT, ".toolchain"), "bin");
const USAGE = "usage: npm run e2e:image -- --name NAME --dir DIR [--packages 'deb1 deb2'] --cmd 'CMD ARGS…' [--env K=V]…";

/** Splits a command line into words: whitespace separates, single or double quotes group. */
export function words(line: string): string[] {
    return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Every file under `dir`, as image path (under /app) → host path. */
function filesOf(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const abs = path.join(d, e.name);
            if (e.isDirectory()) walk(abs);
            else if (e.isFile()) out[path.posix.join("/app", path.relative(dir, abs).split(path.sep).join("/"))] = abs;
        }
    };
    walk(dir);
    return out;
}

function main(): void {
    if (process.argv.includes("--prebuild")) {
        for (const spec of debianImages()) {
            const start = Date.now();
            const { tar } = debianRootfs(spec, imageCacheDir(BIN));
            console.log(`${spec.name}: ${path.basename(tar)} (${((Date.now() - start) / 1000).toFixed(0)} s)`);
        }
        return;
    }
    const { values } = parseArgs({
        options: { name: { type: "string" }, dir: { type: "string" }, packages: { type: "string" }, cmd: { type: "string" }, env: { type: "string", multiple: true } },
    });
    const problems = [
        !values.name || !/^[a-z0-9]+([._-][a-z0-9]+)*$/.test(values.name) ? `--name = ${JSON.stringify(values.name ?? "")}: a repository name of lowercase letters, digits, '.', '_' or '-'` : "",
        !values.dir || !fs.existsSync(values.dir) || !fs.statSync(values.dir).isDirectory() ? `--dir = ${JSON.stringify(values.dir ?? "")}: must be a folder with your files` : "",
        !values.cmd ? "--cmd is required: the command the container runs, e.g. 'python main.py'" : "",
        ...(values.env ?? []).filter((e) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)).map((e) => `--env = ${JSON.stringify(e)}: must be NAME=value`),
    ].filter(Boolean);
    if (problems.length) {
        console.error([...problems, USAGE].join("\n"));
        process.exit(2);
    }
    const registry = runningRegistry(WORKDIR);
    if (!registry) {
        console.error("no registry of a kept e2e runs: start one with `npm run e2e -- --real-node --keep` first");
        process.exit(1);
    }
    const packages = words(values.packages ?? "");
    const image = buildImage({
        name: values.name!,
        ...(packages.length ? { debian: { packages } } : { busybox: true }),
        files: filesOf(path.resolve(values.dir!)),
        config: {
            workdir: "/app",
            cmd: words(values.cmd!),
            env: Object.fromEntries((values.env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
        },
    }, registry, BIN);
    console.log(image.ref);
}

if (require.main === module) main();

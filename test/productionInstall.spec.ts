/**
 * A deploy machine installs with `npm ci --omit=dev`: the program must still type-check and run
 * the way the Pulumi language host loads it (its own tsutils choose typescript and ts-node, then
 * ts-node type-checks every module with tsconfig.json). Without typescript/ts-node/@types in
 * `dependencies`, the SDK falls back to its vendored TypeScript 3.8 and the program fails.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

const ROOT = path.join(__dirname, "..");
const run = promisify(execFile);
/** What a checkout has that an install must not copy. */
const NOT_COPIED = new Set(["node_modules", ".git", "rendered", "bin", ".pulumi-state", ".toolchain", ".e2e", ".bench"]);

describe("production install (npm ci --omit=dev)", function () {
    this.timeout(600_000);
    let dir: string;
    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "asky-prod-install-"));
        fs.cpSync(ROOT, dir, { recursive: true, filter: (src) => !NOT_COPIED.has(path.basename(src)) || path.dirname(src) !== ROOT });
        // Offline from the npm cache the test run's own install filled; scripts off, as on a locked-down deploy host.
        await run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: dir, maxBuffer: 16 << 20 });
    });
    after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

    it("installs no devDependency", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        for (const dev of Object.keys(pkg.devDependencies)) {
            assert.ok(!fs.existsSync(path.join(dir, "node_modules", dev)), `${dev} was installed`);
        }
    });

    it("loads and type-checks the program like the Pulumi language host, with the project's TypeScript, and renders both stacks", async () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        const probe = path.join(dir, "type-error-probe.ts");
        fs.writeFileSync(probe, "export const notANumber: number = \"a string\";\n");
        for (const stack of ["dev", "prod"]) {
            const { stdout } = await run("node", ["test/support/pulumi-host-load.js", stack, probe], { cwd: dir, maxBuffer: 16 << 20 });
            const loaded = JSON.parse(stdout.trim().split("\n")[0]);
            // Not the SDK's vendored TypeScript 3.8.3 / ts-node 7.0.1 fallback.
            assert.deepStrictEqual([loaded.typescript.require, loaded.typescript.version], ["typescript", pkg.dependencies.typescript]);
            assert.ok(loaded.typescript.path.startsWith(path.join(dir, "node_modules") + path.sep), loaded.typescript.path);
            assert.deepStrictEqual([loaded.tsNode.require, loaded.tsNode.version], ["ts-node", pkg.dependencies["ts-node"]]);
            assert.strictEqual(loaded.typeCheck, "on", "the host's ts-node must refuse a type error");
            assert.ok(loaded.kubernetesObjects > 30, `${stack}: ${loaded.kubernetesObjects} objects`);
        }
    });

    it("type-checks the program with tsconfig.json alone (no test types needed)", async () => {
        await run(path.join(dir, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", "."], { cwd: dir });
    });

    it("keeps at run time what the program imports: typescript, ts-node and every @types package the program needs are dependencies", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        for (const name of ["typescript", "ts-node", "@types/node", "@types/mustache"]) {
            assert.match(pkg.dependencies[name] ?? "", /^\d+\.\d+\.\d+$/, `${name} pinned exactly in dependencies`);
        }
        const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
        assert.deepStrictEqual(tsconfig.compilerOptions.types, ["node"], "the program's tsconfig names no test-only types");
    });
});

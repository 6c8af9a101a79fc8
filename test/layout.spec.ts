// The repository's one direction of use (README "Layout"): the tests import the program, the checklist,
// the policy pack and the scripts; nothing outside test/ imports from test/.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..");
const SKIP = new Set(["node_modules", "test", ".git", ".toolchain", ".e2e", ".bench", "rendered", ".stryker-tmp", "reports"]);

/** Every TypeScript file of the repository outside test/ (and outside installed or generated folders). */
function sources(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        if (e.isDirectory()) return SKIP.has(e.name) ? [] : sources(path.join(dir, e.name));
        return e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [];
    });
}

describe("layout: one direction of use", () => {
    it("no program, checklist, policy pack or script file imports from test/", () => {
        const files = sources(ROOT);
        assert.ok(files.some((f) => f.endsWith(path.join("checklist", "index.ts"))) && files.some((f) => f.endsWith(path.join("policy", "rules.ts"))), "the scan sees checklist/ and policy/");
        const offending = files.flatMap((file) => {
            const text = fs.readFileSync(file, "utf8");
            return [...text.matchAll(/(?:from\s+|require\(|import\()\s*["']([^"']+)["']/g)]
                .map((m) => m[1])
                .filter((spec) => spec.startsWith(".") && path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep)[0] === "test")
                .map((spec) => `${path.relative(ROOT, file)} imports ${spec}`);
        });
        assert.deepStrictEqual(offending, []);
    });
});

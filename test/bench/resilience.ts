// npm run bench:resilience [-- --print]: runs the real-node e2e (the dev stack's changes under load,
// then 1-resilience's faults), whose scenarios record what the load saw, and prints the table:
// scenario, requests, failed (non-2xx + socket errors), writes acknowledged / present afterwards,
// recovery seconds. --print only prints the last run's .e2e/resilience.json.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { Scenario } from "../e2e/support/load";

const ROOT = path.resolve(__dirname, "..", "..");
const RESULTS = path.join(ROOT, ".e2e", "resilience.json");

function table(rows: Scenario[]): string {
    const head = ["scenario", "requests", "failed", "non-2xx", "socket errors", "writes acknowledged", "rows present", "recovery s", "s"];
    const lines = rows.map((r) => [r.name, r.requests, r.failed, r.non2xx, r.errors, r.acknowledged, r.present ?? "", r.recoverySeconds ?? "", r.seconds].map(String));
    return [head, head.map(() => "---"), ...lines].map((l) => `| ${l.join(" | ")} |`).join("\n");
}

function main(args: string[]): void {
    if (!args.includes("--print")) {
        const r = spawnSync("npm", ["run", "--silent", "e2e", "--", "--real-node"], { cwd: ROOT, stdio: "inherit" });
        if (r.status !== 0) console.error(`the real-node e2e failed (${r.status}); the table shows what was measured`);
    }
    if (!fs.existsSync(RESULTS)) {
        console.error(`no ${path.relative(ROOT, RESULTS)}: run without --print first`);
        process.exit(1);
    }
    console.log(`${new Date().toISOString().slice(0, 10)}, ${require("os").cpus().length} cores\n`);
    console.log(table(JSON.parse(fs.readFileSync(RESULTS, "utf8"))));
}

if (require.main === module) main(process.argv.slice(2));

// npm run test:mutation [-- area...]: Stryker over each area (or group, e.g. checklist) of test/mutation/areas.json (all by
// default), one run per area with only the specs that target it (stryker.config.mjs), incremental.
// Then one line per area from its JSON report:
//   area: NN.N % (killed/total, survived S, no coverage N, timed out T)
// where killed counts killed and timed-out mutants (Stryker's "detected"; on a loaded machine a slow
// restart can time out too, so T is shown), and total leaves out what Stryker could not run
// (compile and runtime errors) and what `// Stryker disable` comments ignore (test/mutation/equivalents.md).
// Exits non-zero when a run fails or any area scores below 90 %.
// `--force` reruns every mutant (see below). `--report-only` prints the lines from the last reports without running Stryker; `--survivors` lists
// every surviving and uncovered mutant as file:line mutator: replacement.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const THRESHOLD = 90;
const areas = JSON.parse(readFileSync(new URL("../test/mutation/areas.json", import.meta.url), "utf8"));
const args = process.argv.slice(2);
const reportOnly = args.includes("--report-only");
const survivors = args.includes("--survivors");
// Stryker reuses a static mutant's result even when new tests would now kill it: --force reruns every mutant.
const force = args.includes("--force");
const chosen = args.filter((a) => !a.startsWith("--"));
// An argument names an area or a group of them: `checklist` is every checklist-* area.
const inGroup = (name, a) => name === a || name.startsWith(`${a}-`);
for (const a of chosen) if (!Object.keys(areas).some((n) => inGroup(n, a))) throw new Error(`unknown area ${a}; areas: ${Object.keys(areas).join(", ")}`);
const names = chosen.length ? Object.keys(areas).filter((n) => chosen.some((a) => inGroup(n, a))) : Object.keys(areas);

let failed = false;
const lines = [];
for (const name of names) {
  if (!reportOnly) {
    const started = Date.now();
    const run = spawnSync("npx", ["stryker", "run", "stryker.config.mjs", ...(force ? ["--force"] : [])], { stdio: "inherit", env: { ...process.env, MUTATION_AREA: name } });
    console.log(`${name}: stryker took ${Math.round((Date.now() - started) / 1000)} s`);
    if (run.status !== 0) {
      lines.push(`${name}: stryker failed (exit ${run.status})`);
      failed = true;
      continue;
    }
  }
  const file = `reports/mutation/${name}/mutation.json`;
  if (!existsSync(file)) {
    lines.push(`${name}: no report (${file})`);
    failed = true;
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  const count = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0 };
  const open = [];
  for (const [path, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (m.status in count) count[m.status]++;
      if (m.status === "Survived" || m.status === "NoCoverage") {
        open.push(`  ${path}:${m.location.start.line} ${m.mutatorName} (${m.status}): ${String(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 100)}`);
      }
    }
  }
  const killed = count.Killed + count.Timeout;
  const total = killed + count.Survived + count.NoCoverage;
  const score = total ? (100 * killed) / total : 100;
  if (score < THRESHOLD) failed = true;
  lines.push(`${name}: ${score.toFixed(1)} % (${killed}/${total}, survived ${count.Survived}, no coverage ${count.NoCoverage}, timed out ${count.Timeout})`);
  if (survivors) lines.push(...open);
}
console.log(lines.join("\n"));
process.exit(failed ? 1 : 0);

// Mutation testing (npm run test:mutation, scripts/mutation.mjs): one Stryker run per area of
// test/mutation/areas.json, chosen by MUTATION_AREA, each with only the specs that target it.
import { readFileSync } from "node:fs";

const areas = JSON.parse(readFileSync(new URL("./test/mutation/areas.json", import.meta.url), "utf8"));
const name = process.env.MUTATION_AREA;
const area = areas[name];
if (!area) throw new Error(`MUTATION_AREA must be one of ${Object.keys(areas).join(", ")}, got ${JSON.stringify(name)}`);
const dir = `reports/mutation/${name}`;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "mocha",
  mochaOptions: {
    spec: area.spec,
    require: ["ts-node/register/transpile-only"],
    extension: ["ts"],
    ...(area.grep ? { grep: area.grep } : {}),
  },
  mutate: area.mutate,
  coverageAnalysis: "perTest",
  buildCommand: undefined,
  checkers: [],
  concurrency: 2,
  // Generous: a static mutant restarts the test process, which on the shared machine can take seconds.
  timeoutMS: 30000,
  incremental: true,
  incrementalFile: `${dir}/incremental.json`,
  reporters: ["html", "json", "progress"],
  htmlReporter: { fileName: `${dir}/index.html` },
  jsonReporter: { fileName: `${dir}/mutation.json` },
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: "always",
  // The specs' own thresholds live in scripts/mutation.mjs (90 % per area).
  thresholds: { high: 90, low: 80, break: null },
  ignorePatterns: ["node_modules", ".toolchain", ".e2e", ".bench", "rendered", "reports", ".pulumi-state"],
};

/**
 * Loads the program the way the Pulumi Node.js language host does (@pulumi/pulumi/cmd/run/run.js
 * with `runtime.options.typescript: true`), from the current directory: the SDK picks typescript
 * and ts-node with its own tsutils (falling back to its vendored TypeScript 3.8 / ts-node 7 when
 * the project has none), registers ts-node with the project's tsconfig.json and type-checking on,
 * then requires the entry point. Here the program then runs under Pulumi's mocks (no engine).
 *
 *   node test/support/pulumi-host-load.js <stack> <probe.ts>
 *
 * <probe.ts> holds a deliberate type error; prints one JSON line: what was loaded and rendered.
 */
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
    const [stack, probe] = process.argv.slice(2);
    const tsutils = require("@pulumi/pulumi/tsutils");
    const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
    const compilerOptions = tsutils.loadTypeScriptCompilerOptions("tsconfig.json");
    const ts = require(typescriptRequire);
    const [major, minor] = ts.version.split(".").map(Number);
    const useNodeNext = major > 4 || (major === 4 && minor >= 7);
    // The options run.js passes (non-ESM branch: this package is CommonJS).
    require(tsnodeRequire).register({
        compiler: typescriptRequire,
        transpileOnly: compilerOptions.noCheck,
        project: "tsconfig.json",
        skipProject: !fs.existsSync("tsconfig.json"),
        compilerOptions: {
            target: "ES2020",
            module: useNodeNext ? "nodenext" : "commonjs",
            moduleResolution: useNodeNext ? "nodenext" : "node",
            sourceMap: "true",
            ...compilerOptions,
        },
    });

    // A deliberate type error must be refused: proof that the registered ts-node type-checks.
    let typeCheck = "off";
    try {
        require(path.resolve(probe));
    } catch (err) {
        if (err && err.name === "TSError") typeCheck = "on";
        else throw err;
    }

    const render = require(path.resolve("scripts/render.ts"));
    const result = await render.renderStack(stack);
    console.log(JSON.stringify({
        typescript: { require: typescriptRequire, version: ts.version, path: require.resolve(typescriptRequire) },
        tsNode: { require: tsnodeRequire, version: require(tsnodeRequire).VERSION },
        typeCheck,
        kubernetesObjects: result.objects.length,
    }));
}

main().then(() => process.exit(0), (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
});

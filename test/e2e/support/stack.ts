import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

/** The repository: the program under test and its committed stack files. */
export const ROOT = path.resolve(__dirname, "..", "..", "..");

/** What test/e2e/run.ts hands the e2e files: the toolchain's bin folder, the work folder, the
 * cluster's name, and whether to stop after the first `pulumi up` (`--keep`). */
export const E2E = {
    // Read when used, not when this module loads: the runner imports the harness before it sets them.
    get bin() {
        return process.env.ASKY_E2E_BIN ?? "";
    },
    get workdir() {
        return process.env.ASKY_E2E_DIR ?? "";
    },
    get clusterName() {
        return process.env.ASKY_E2E_CLUSTER ?? "";
    },
    get keep() {
        return process.env.ASKY_E2E_KEEP === "1";
    },
};

export interface E2eStackOptions {
    /** Stack name, e.g. `e2e-dev`. */
    name: string;
    /** The committed stack file its config starts from. */
    base: "dev" | "prod";
    /** Changes the copied `config:` map (keys like `asky:kubeconfig`) before the stack is used. */
    configure: (config: Record<string, any>) => void;
    /** Folder for the project copy, the file backend, PULUMI_HOME and the logs. */
    workdir: string;
    /** Folder holding the built `pulumi` and plugins (scripts/toolchain.sh). */
    bin: string;
    /** Told, after each run of the program under the engine, when it started (epoch ms) and how long it took until it returned its outputs. */
    onProgramRun?: (startedAt: number, ms: number) => void;
}

/** The environment every CLI run gets: no update check, no plugin download, a file backend. */
export function cliEnv(workdir: string, bin: string): Record<string, string> {
    return {
        PATH: `${bin}:${process.env.PATH}`,
        PULUMI_HOME: path.join(workdir, "pulumi-home"),
        PULUMI_BACKEND_URL: `file://${path.join(workdir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "asky-e2e-throwaway",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "false",
    };
}

/** The program exactly as `pulumi up` runs it from Pulumi.yaml's `main` (index.ts). */
async function program(): Promise<Record<string, unknown>> {
    const run = require(path.join(ROOT, "index.ts")) as () => Promise<Record<string, unknown>>;
    return run();
}

/** The program, timed from its start until it returns its outputs (its resources' registrations go on in the engine). */
function timedProgram(report: NonNullable<E2eStackOptions["onProgramRun"]>): () => Promise<Record<string, unknown>> {
    return async () => {
        const start = Date.now();
        const outputs = await program();
        report(start, Date.now() - start);
        return outputs;
    };
}

/**
 * A file-backend stack of this program in a copy of the project (Pulumi.yaml), its config copied
 * from a committed stack file and changed by `configure` (the committed files are never edited).
 * The official Node.js language host is not served by the Go module proxy here, so the real CLI
 * runs the program through @pulumi/pulumi's own in-process language server (the Automation API's
 * inline program, `pulumi ... --client`): engine, plugins, state and diffs are the CLI's.
 */
export async function e2eStack(opts: E2eStackOptions): Promise<Stack> {
    const projectDir = path.join(opts.workdir, "project");
    fs.mkdirSync(projectDir, { recursive: true });
    fs.mkdirSync(path.join(opts.workdir, "state"), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
    const env = cliEnv(opts.workdir, opts.bin);
    const ws = await LocalWorkspace.create({
        workDir: projectDir,
        program: opts.onProgramRun ? timedProgram(opts.onProgramRun) : program,
        pulumiHome: env.PULUMI_HOME,
        envVars: env,
        pulumiCommand: await PulumiCommand.get({ root: path.dirname(opts.bin) }),
    });
    const stack = await Stack.createOrSelect(opts.name, ws);
    const base = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${opts.base}.yaml`), "utf8"));
    const stackFile = path.join(projectDir, `Pulumi.${opts.name}.yaml`);
    const settings = fs.existsSync(stackFile) ? YAML.parse(fs.readFileSync(stackFile, "utf8")) ?? {} : {};
    const config = structuredClone(base.config);
    opts.configure(config);
    fs.writeFileSync(stackFile, YAML.stringify({ ...settings, config }));
    return stack;
}

/** Rewrites one stack's config in place (a day-2 change an operator makes in the stack file). */
export function editStackConfig(workdir: string, stackName: string, edit: (config: Record<string, any>) => void): void {
    const stackFile = path.join(workdir, "project", `Pulumi.${stackName}.yaml`);
    const settings = YAML.parse(fs.readFileSync(stackFile, "utf8"));
    edit(settings.config);
    fs.writeFileSync(stackFile, YAML.stringify(settings));
}

/** Appends a CLI run's output to the e2e log and returns a sink for `onOutput`. */
export function outputLog(workdir: string, step: string): (out: string) => void {
    const file = path.join(workdir, "logs", `${step}.log`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "");
    return (out) => fs.appendFileSync(file, out);
}

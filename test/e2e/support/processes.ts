import { spawn, spawnSync, SpawnSyncOptions } from "child_process";
import * as fs from "fs";
import * as path from "path";

/**
 * The long-running programs of the real node (containerd, kubelet, kube-proxy, the registry) run
 * detached from the test process, so `npm run e2e -- --keep` can leave them running; each has a PID
 * file and a log under the e2e folder, and `npm run e2e:down` stops them by PID.
 */
export interface DaemonPaths {
    /** The e2e work folder (`.e2e/`). */
    workdir: string;
}

const pidFile = (workdir: string, name: string) => path.join(workdir, "pids", `${name}.pid`);
/** The log of a daemon (stdout and stderr). */
export const daemonLog = (workdir: string, name: string) => path.join(workdir, "logs", `${name}.log`);

/** Runs a command to completion; throws with its output when it fails. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions & { input?: string } = {}): string {
    const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
    if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
    if (r.status !== 0) {
        throw new Error(`${path.basename(cmd)} ${args.join(" ")} failed (${r.status}):\n${(r.stderr || r.stdout || "").toString().slice(-4000)}`);
    }
    return (r.stdout ?? "").toString();
}

/** Runs a command and reports whether it succeeded (for probes and best-effort cleanup). */
export function succeeds(cmd: string, args: string[], opts: SpawnSyncOptions = {}): boolean {
    const r = spawnSync(cmd, args, { stdio: "ignore", ...opts });
    return r.status === 0;
}

/** Starts `cmd args` detached, its output appended to its log; records its PID. */
export function startDaemon(workdir: string, name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
    fs.mkdirSync(path.dirname(pidFile(workdir, name)), { recursive: true });
    fs.mkdirSync(path.dirname(daemonLog(workdir, name)), { recursive: true });
    const log = fs.openSync(daemonLog(workdir, name), "a");
    fs.writeSync(log, `\n# ${new Date().toISOString()} ${cmd} ${args.join(" ")}\n`);
    const child = spawn(cmd, args, { detached: true, stdio: ["ignore", log, log], env });
    fs.closeSync(log);
    if (child.pid === undefined) throw new Error(`${name}: ${cmd} did not start`);
    child.unref();
    fs.writeFileSync(pidFile(workdir, name), String(child.pid));
    return child.pid;
}

/** True while the process runs (a zombie of ours counts as gone). */
export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch {
        return false;
    }
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** The PID a daemon was started with, if it still runs. */
export function daemonPid(workdir: string, name: string): number | undefined {
    const file = pidFile(workdir, name);
    if (!fs.existsSync(file)) return undefined;
    const pid = Number(fs.readFileSync(file, "utf8"));
    return pid > 0 && alive(pid) ? pid : undefined;
}

/** Throws with the tail of its log when the daemon has exited. */
export function assertRunning(workdir: string, name: string): void {
    if (daemonPid(workdir, name) !== undefined) return;
    const log = fs.existsSync(daemonLog(workdir, name)) ? fs.readFileSync(daemonLog(workdir, name), "utf8").slice(-3000) : "(no log)";
    throw new Error(`${name} exited; the end of ${daemonLog(workdir, name)}:\n${log}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; removes the PID file. */
export async function stopDaemon(workdir: string, name: string, graceMs = 10_000): Promise<void> {
    const pid = daemonPid(workdir, name);
    if (pid !== undefined) {
        process.kill(pid, "SIGTERM");
        const deadline = Date.now() + graceMs;
        while (alive(pid) && Date.now() < deadline) await sleep(200);
        if (alive(pid)) process.kill(pid, "SIGKILL");
        while (alive(pid)) await sleep(100);
    }
    fs.rmSync(pidFile(workdir, name), { force: true });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true; throws naming `what` (and the last error) after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs: number, everyMs = 500): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            if (check()) return;
            last = undefined;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? `: ${(last as Error).message ?? last}` : ""}`);
        await sleep(everyMs);
    }
}

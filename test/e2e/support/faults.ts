import * as fs from "fs";
import * as path from "path";
import { Cluster } from "./cluster";
import { run, sleep } from "./processes";

/**
 * Faults the resilience e2e causes on purpose: the Pulumi CLI killed mid-update, the control plane
 * restarted, a pod deleted, and how long the platform takes to answer again.
 */

/** The PIDs of this process's children named `comm` (the Automation API's `pulumi` runs as one). */
export function childPids(comm: string): number[] {
    const me = process.pid;
    return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            return ppid === me && name === comm ? [Number(d)] : [];
        } catch {
            return [];
        }
    });
}

/** SIGKILLs the running `pulumi` CLI of this process (what an OOM kill or a lost CI runner does); returns its PID. */
export function killPulumi(): number {
    const pids = childPids("pulumi");
    if (pids.length !== 1) throw new Error(`expected one pulumi child process, found ${pids.length}`);
    process.kill(pids[0], "SIGKILL");
    return pids[0];
}

/** Stops and starts the whole control plane (etcd, API server, controllers) with kwokctl, as a restart of the API server's machine does. */
export async function restartControlPlane(cluster: Cluster, bin: string, workdir: string, downMs = 5000): Promise<void> {
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, KWOK_WORKDIR: path.join(workdir, "kwok") };
    run(path.join(bin, "kwokctl"), ["stop", "cluster", "--name", cluster.name], { env, timeout: 120_000 });
    await sleep(downMs);
    run(path.join(bin, "kwokctl"), ["start", "cluster", "--name", cluster.name], { env, timeout: 180_000 });
}

/** Polls `ok` every 250 ms; returns the seconds until it first held, or throws after `timeoutMs`. */
export async function secondsUntil(what: string, ok: () => Promise<boolean>, timeoutMs = 180_000): Promise<number> {
    const start = Date.now();
    for (;;) {
        try {
            if (await ok()) return (Date.now() - start) / 1000;
        } catch {
            /* not yet */
        }
        if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
        await sleep(250);
    }
}

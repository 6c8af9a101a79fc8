import { fork } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { LoadConfig, LoadReport } from "./loadgen";

/**
 * Bounded load through the gateway while something happens (a change, a fault): reads
 * (GET /pyxis/dispensers) and writes (POST /requests/medicine_requests) at fixed rates, from a
 * separate process, for as long as the action takes plus a settling time.
 */
export interface Scenario {
    name: string;
    /** Requests sent, answered 2xx, answered otherwise, socket errors and timeouts, reads and writes together. */
    requests: number;
    failed: number;
    non2xx: number;
    errors: number;
    /** Writes answered 201, and how many of those rows are in the database afterwards. */
    acknowledged: number;
    present?: number;
    /** Seconds until the platform answered again (faults), if measured. */
    recoverySeconds?: number;
    seconds: number;
    statuses: Record<string, number>;
    notes?: string;
}

/** Runs `action` under load; returns its result and the load's report. */
export async function underLoad<T>(cfg: LoadConfig, action: () => Promise<T>, settleMs = 5000): Promise<{ result: T; report: LoadReport }> {
    const child = fork(path.join(__dirname, "loadgen.ts"), [JSON.stringify(cfg)], { execArgv: ["-r", "ts-node/register/transpile-only"], stdio: "inherit" });
    const messages: unknown[] = [];
    const next = () => new Promise<unknown>((resolve, reject) => {
        if (messages.length) return resolve(messages.shift());
        const onMessage = (m: unknown) => { child.off("exit", onExit); resolve(m); };
        const onExit = (code: number) => reject(new Error(`the load generator exited (${code})`));
        child.once("message", onMessage);
        child.once("exit", onExit);
    });
    if ((await next()) !== "started") throw new Error("the load generator did not start");
    await new Promise((r) => setTimeout(r, 2000)); // a steady state before the action
    let result: T;
    try {
        result = await action();
        await new Promise((r) => setTimeout(r, settleMs));
    } finally {
        child.send("stop");
    }
    const report = (await next()) as LoadReport;
    return { result: result!, report };
}

/** One line of the resilience table from a load report. */
export function scenarioOf(name: string, r: LoadReport, extra: Partial<Scenario> = {}): Scenario {
    const statuses: Record<string, number> = {};
    for (const s of [r.reads.statuses, r.writes.statuses]) for (const [k, v] of Object.entries(s)) statuses[k] = (statuses[k] ?? 0) + v;
    const non2xx = r.reads.non2xx + r.writes.non2xx;
    const errors = r.reads.errors + r.writes.errors + r.reads.timeouts + r.writes.timeouts;
    return {
        name, requests: r.reads.sent + r.writes.sent, failed: non2xx + errors, non2xx, errors,
        acknowledged: r.acknowledged.length, seconds: Math.round(r.seconds), statuses, ...extra,
    };
}

/** Appends a scenario to the run's results (`.e2e/resilience.json`, what npm run bench:resilience prints). */
export function record(workdir: string, s: Scenario): void {
    const file = path.join(workdir, "resilience.json");
    const all: Scenario[] = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : [];
    all.push(s);
    fs.writeFileSync(file, JSON.stringify(all, null, 1));
}

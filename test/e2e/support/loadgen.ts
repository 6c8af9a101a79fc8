// The e2e's load generator, in its own process so the test's synchronous kubectl calls never stall
// it: autocannon at a fixed rate, reads and writes through the gateway, until the parent sends
// "stop"; then one message with the counts and the ids of the writes answered 2xx.
import { EventEmitter } from "events";

/** What this file uses of autocannon (no type declarations are published). */
interface Result {
    requests: { sent: number };
    "2xx": number;
    non2xx: number;
    errors: number;
    timeouts: number;
    statusCodeStats?: Record<string, { count: number }>;
}
interface Instance extends EventEmitter {
    stop(): void;
}
const autocannon: (opts: Record<string, unknown>) => Instance = require("autocannon");

export interface LoadConfig {
    /** The gateway, e.g. http://10.244.0.1:30000. */
    url: string;
    /** A bearer token of a seeded user. */
    token: string;
    /** Written into each row's batch_number: the rows of this run, counted afterwards. */
    tag: string;
    readRate: number;
    writeRate: number;
    /** For HTTPS: the name the gateway's certificate and server answer to (SNI and Host); the certificate itself is not checked. */
    hostname?: string;
}

export interface LoadCounts {
    sent: number;
    ok: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    statuses: Record<string, number>;
}

export interface LoadReport {
    seconds: number;
    reads: LoadCounts;
    writes: LoadCounts;
    /** ids of the rows the service acknowledged (201). */
    acknowledged: number[];
}

function counts(r: Result): LoadCounts {
    const statuses: Record<string, number> = {};
    for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statuses[code] = v.count;
    return { sent: r.requests.sent, ok: r["2xx"], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, statuses };
}

function main(): void {
    const cfg = JSON.parse(process.argv[2]) as LoadConfig;
    const headers = { authorization: `Bearer ${cfg.token}`, "content-type": "application/json", ...(cfg.hostname ? { host: cfg.hostname } : {}) };
    const acknowledged: number[] = [];
    const start = Date.now();
    const common = { url: cfg.url, duration: 3600, timeout: 10, headers, ...(cfg.hostname ? { servername: cfg.hostname } : {}) };
    const reads = autocannon({ ...common, connections: 4, overallRate: cfg.readRate, requests: [{ method: "GET", path: "/pyxis/dispensers" }] });
    const writes = autocannon({
        ...common, connections: 2, overallRate: cfg.writeRate,
        requests: [{
            method: "POST", path: "/requests/medicine_requests",
            body: JSON.stringify({ dispenser_id: 1, medicine_id: 2, requested_by: 3, batch_number: cfg.tag }),
            onResponse: (status: number, body: string) => {
                if (status === 201) acknowledged.push(JSON.parse(body).id);
            },
        }],
    });
    const done = Promise.all([new Promise<Result>((r) => reads.on("done", r)), new Promise<Result>((r) => writes.on("done", r))]);
    process.on("message", (m) => {
        if (m !== "stop") return;
        reads.stop();
        writes.stop();
    });
    done.then(([r, w]) => {
        const report: LoadReport = { seconds: (Date.now() - start) / 1000, reads: counts(r), writes: counts(w), acknowledged };
        process.send!(report, () => process.exit(0));
    });
    process.send!("started");
}

if (require.main === module) main();

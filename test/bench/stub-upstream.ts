// Stub upstream for `npm run bench:gateway`: a cluster of Node http workers answering a small
// JSON body at once, in its own processes so the load generator and nginx do not share its
// event loop. Started by test/bench/gateway.ts with fork(); talks to it over IPC.
//   argv: <port> <workers> [host, default 127.0.0.1]
//   → parent: { type: "ready", port }      ← parent: { type: "stats" }
//   → parent: { type: "stats", connections, requests } (totals over all workers)
import cluster from "cluster";
import * as http from "http";

const port = Number(process.argv[2]);
const workers = Number(process.argv[3] ?? 2);
const host = process.argv[4] ?? "127.0.0.1";
const BODY = JSON.stringify({ ok: true, service: "stub", items: [1, 2, 3] });

interface Counts {
    connections: number;
    requests: number;
}

if (cluster.isPrimary) {
    // Workers accept from the shared socket themselves: with the default round-robin the
    // primary would accept every connection, a bottleneck for the no-keep-alive baseline.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    let online = 0;
    for (let i = 0; i < workers; i++) {
        cluster.fork().on("listening", () => {
            if (++online === workers) process.send?.({ type: "ready", port });
        });
    }
    cluster.on("exit", (_worker, code, signal) => {
        if (!shuttingDown) {
            console.error(`stub worker died (code ${code}, signal ${signal})`);
            process.exit(1);
        }
    });
    let shuttingDown = false;
    const shutdown = () => {
        shuttingDown = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.kill();
        process.exit(0);
    };
    process.on("disconnect", shutdown); // the bench died or finished
    process.on("SIGTERM", shutdown);
    process.on("SIGINT", shutdown);

    process.on("message", (msg: { type?: string }) => {
        if (msg?.type !== "stats") return;
        const all = Object.values(cluster.workers ?? {}).filter((w): w is NonNullable<typeof w> => !!w);
        let pending = all.length;
        const total: Counts = { connections: 0, requests: 0 };
        for (const w of all) {
            const onReply = (reply: Counts & { type?: string }) => {
                if (reply?.type !== "stats") return;
                w.off("message", onReply);
                total.connections += reply.connections;
                total.requests += reply.requests;
                if (--pending === 0) process.send?.({ type: "stats", ...total });
            };
            w.on("message", onReply);
            w.send({ type: "stats" });
        }
    });
} else {
    const counts: Counts = { connections: 0, requests: 0 };
    const server = http.createServer((req, res) => {
        counts.requests++;
        req.resume();
        req.on("end", () => {
            res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) });
            res.end(BODY);
        });
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.on("connection", () => counts.connections++);
    server.listen(port, host);
    process.on("message", (msg: { type?: string }) => {
        if (msg?.type === "stats") process.send?.({ type: "stats", ...counts });
    });
}

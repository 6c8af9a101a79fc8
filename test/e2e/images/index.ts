import * as fs from "fs";
import * as path from "path";
import { run } from "../support/processes";
import { ImageSpec } from "../support/images";

/**
 * What the real-node e2e runs: the images it builds for the dev stack (pointed at through stack
 * config only) and for the node itself (pause, cluster DNS, NetworkPolicy enforcement). Each says
 * which behaviour of the upstream image it keeps; README "The real node" lists them.
 */
const here = (...p: string[]) => path.join(__dirname, ...p);
const script = (file: string) => ({ content: fs.readFileSync(here(file), "utf8"), mode: 0o755 });

/** `15.20-0+deb12u1` → `15.20`: the upstream version of a Debian package version. */
export const upstream = (debianVersion: string) => debianVersion.replace(/^\d+:/, "").replace(/-[^-]*$/, "").replace(/\+.*$/, "").replace("~", "-");

/** Users the upstream images create with fixed IDs, written before Debian's packages would pick others. */
const fixedUser = (name: string, id: number, home: string) => [
    `echo '${name}:x:${id}:${id}::${home}:/usr/sbin/nologin' >> "$1"/etc/passwd`,
    `echo '${name}:x:${id}:' >> "$1"/etc/group`,
    `echo '${name}:*:19000:0:99999:7:::' >> "$1"/etc/shadow`,
];

/** postgres:<version>-bookworm's contract, from Debian's postgresql-15 (docker-entrypoint.sh says which parts). */
export const postgres: ImageSpec = {
    name: "postgres",
    debian: {
        // gpg: the backup Job encrypts each dump with it (the official image has it too).
        packages: ["postgresql-15", "gpg"],
        essentialHook: [
            ...fixedUser("postgres", 999, "/var/lib/postgresql"),
            // The image starts clusters itself (docker-entrypoint.sh): no Debian "main" cluster.
            'mkdir -p "$1"/etc/postgresql-common/createcluster.d',
            'echo "create_main_cluster = false" > "$1"/etc/postgresql-common/createcluster.d/asky-e2e.conf',
        ],
        customizeHook: [
            // As the official image: every new cluster listens on all addresses.
            `sed -ri "s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!" "$1"/usr/share/postgresql/15/postgresql.conf.sample`,
            // /run, not /var/run: hooks run on this machine, where the root's absolute /var/run link would lead to ours.
            'install -d -o 999 -g 999 -m 3777 "$1"/run/postgresql',
            'install -d -o 999 -g 999 -m 1777 "$1"/var/lib/postgresql/data',
            // LLVM (JIT, 130 MB) is optional: without llvmjit.so PostgreSQL runs every query uncompiled.
            'rm -rf "$1"/usr/lib/postgresql/15/lib/llvmjit* "$1"/usr/lib/postgresql/15/lib/bitcode "$1"/usr/lib/x86_64-linux-gnu/libLLVM-* "$1"/usr/lib/x86_64-linux-gnu/libz3.so*',
        ],
    },
    inline: { "/usr/local/bin/docker-entrypoint.sh": script("postgres/docker-entrypoint.sh") },
    config: {
        entrypoint: ["docker-entrypoint.sh"],
        cmd: ["postgres"],
        env: {
            PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/15/bin",
            PGDATA: "/var/lib/postgresql/data",
            LANG: "C.UTF-8",
        },
        // The official image's: SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
        stopSignal: "SIGINT",
    },
    tag: (v) => `${upstream(v["postgresql-15"])}-bookworm`,
};

/** redis:<version>'s contract, from Debian's redis-server. */
export const redis: ImageSpec = {
    name: "redis",
    debian: {
        packages: ["redis-server"],
        essentialHook: fixedUser("redis", 999, "/data"),
        customizeHook: ['install -d -o 999 -g 999 "$1"/data'],
    },
    inline: { "/usr/local/bin/docker-entrypoint.sh": script("redis/docker-entrypoint.sh") },
    config: { entrypoint: ["docker-entrypoint.sh"], cmd: ["redis-server"], workdir: "/data" },
    tag: (v) => `${upstream(v["redis-server"])}-bookworm`,
};

/** nginxinc/nginx-unprivileged's contract, from Debian's nginx-light: UID 101, logs to the container's output, graceful stop. */
export const nginx: ImageSpec = {
    name: "nginx-unprivileged",
    debian: {
        packages: ["nginx-light"],
        essentialHook: fixedUser("nginx", 101, "/nonexistent"),
        customizeHook: [
            'ln -sf /dev/stdout "$1"/var/log/nginx/access.log',
            'ln -sf /dev/stderr "$1"/var/log/nginx/error.log',
        ],
    },
    config: { cmd: ["nginx", "-g", "daemon off;"], user: "101", stopSignal: "SIGQUIT" },
    tag: (v) => `${upstream(v["nginx-light"])}-bookworm`,
};

export type ContractService = "auth" | "pyxis" | "request-management";

/** The stand-in of one of the team's services (test/e2e/images/contract/main.py). */
export function contract(service: ContractService): ImageSpec {
    return {
        name: `asky-${service}-contract`,
        debian: {
            packages: ["python3", "python-is-python3", "python3-aiohttp", "python3-asyncpg", "python3-jwt", "python3-cryptography", "python3-redis", "python3-bcrypt"],
        },
        inline: { "/app/main.py": { content: fs.readFileSync(here("contract", "main.py"), "utf8") } },
        config: {
            workdir: "/app",
            cmd: ["python", "main.py"],
            env: { ASKY_CONTRACT_SERVICE: service, PYTHONUNBUFFERED: "1", LANG: "C.UTF-8" },
        },
        // A release-shaped tag (pinned, as prod requires), unique to the content.
        tag: (_, hash) => `1.0.0-${hash}`,
    };
}

/** The Debian package version of a program installed on this machine. */
function installedVersion(pkg: string): string {
    return upstream(run("dpkg-query", ["-W", "-f=${Version}", pkg]));
}

/**
 * An exporter image: the program at the upstream image's entrypoint path on busybox (as the
 * upstream images built on busybox; the scratch ones gain a shell for the e2e's probes), tagged
 * with the program's version.
 */
function exporter(name: string, entrypoint: string, binary: string, version: string): ImageSpec {
    return { name, busybox: true, files: { [entrypoint]: binary }, config: { entrypoint: [entrypoint], user: "65534" }, tag: () => `v${version}` };
}

/**
 * The four exporters, keyed like `asky:monitoring.images`: the three the toolchain builds from their
 * Go modules at the versions the stacks pin (scripts/toolchain/versions.sh), and Debian's mtail (no
 * mtail module is served; the closest real program, tagged with its own version).
 */
export function exporters(bin: string, versions: Record<string, string>): Record<"postgresExporter" | "redisExporter" | "nginxExporter" | "logExporter", ImageSpec> {
    return {
        postgresExporter: exporter("postgres-exporter", "/bin/postgres_exporter", path.join(bin, "postgres_exporter"), versions.POSTGRES_EXPORTER_VERSION.replace(/^v/, "")),
        redisExporter: exporter("redis_exporter", "/redis_exporter", path.join(bin, "redis_exporter"), versions.REDIS_EXPORTER_VERSION.replace(/^v/, "")),
        nginxExporter: exporter("nginx-prometheus-exporter", "/usr/bin/nginx-prometheus-exporter", path.join(bin, "nginx-prometheus-exporter"), versions.NGINX_EXPORTER_VERSION.replace(/^v/, "")),
        logExporter: exporter("mtail", "/usr/bin/mtail", "/usr/bin/mtail", installedVersion("mtail")),
    };
}

/** Every Debian root filesystem the e2e's images are made of (one per package set): what a prebuild fills the cache with. */
export function debianImages(): ImageSpec[] {
    return [postgres, redis, nginx, contract("auth"), nodeImages("", { kubernetes: "", coredns: "", kubeRouter: "" }).kubeRouter];
}

/** The node's own images: the toolchain's static binaries, and kube-router with the iptables and ipset it drives. */
export function nodeImages(bin: string, versions: { kubernetes: string; coredns: string; kubeRouter: string }): Record<"pause" | "coredns" | "kubeRouter", ImageSpec> {
    return {
        pause: { name: "pause", files: { "/pause": path.join(bin, "pause") }, config: { entrypoint: ["/pause"], user: "65535:65535" }, tag: () => versions.kubernetes },
        coredns: { name: "coredns", files: { "/coredns": path.join(bin, "coredns") }, config: { entrypoint: ["/coredns"], user: "65532" }, tag: () => versions.coredns },
        kubeRouter: {
            name: "kube-router",
            // Upstream's image is Alpine with iptables, ipset and conntrack-tools; Debian's iptables uses the nf_tables backend, as kube-proxy on the node does.
            debian: { packages: ["iptables", "ipset", "conntrack"] },
            files: { "/usr/local/bin/kube-router": path.join(bin, "kube-router") },
            config: { entrypoint: ["/usr/local/bin/kube-router"] },
            tag: () => versions.kubeRouter,
        },
    };
}

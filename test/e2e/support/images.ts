import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run } from "./processes";
import { E2E_REGISTRY_HOST, Registry } from "./registry";

/**
 * Container images built without Docker: a root filesystem from Debian packages (mmdebstrap) and/or
 * files of ours or the toolchain's, assembled into an OCI image and pushed with go-containerregistry's
 * `crane`. The slow part, the Debian root filesystem, is cached by the hash of what goes into it,
 * so a warm run only pushes (seconds).
 */
export interface ImageSpec {
    /** Repository under the e2e registry host. */
    name: string;
    /** A Debian bookworm root filesystem with these packages (mmdebstrap --variant=essential). */
    debian?: {
        packages: string[];
        /** Shell commands run after the Essential packages, before `packages` ("$1" is the root). */
        essentialHook?: string[];
        /** Shell commands run once everything is installed ("$1" is the root). */
        customizeHook?: string[];
    };
    /** Busybox (Debian's static build) as /bin/busybox with its applets linked: a shell and tools, like the upstream images built on busybox. */
    busybox?: boolean;
    /** Files added on top: image path → host path (a program's shared libraries come along). */
    files?: Record<string, string>;
    /** Files added on top: image path → content. */
    inline?: Record<string, { content: string; mode?: number }>;
    /** Image config, as a Dockerfile would set it. */
    config: { entrypoint?: string[]; cmd?: string[]; env?: Record<string, string>; workdir?: string; user?: string; stopSignal?: string };
    /** The tag, from the Debian package versions of the root filesystem (package → version) and/or the content's hash; the hash alone when left out. */
    tag?: (versions: Record<string, string>, contentHash: string) => string;
}

export interface BuiltImage {
    /** What a manifest names: `registry.e2e.asky.test/<name>:<tag>`. */
    ref: string;
    /** Where it was pushed: `127.0.0.1:PORT/<name>:<tag>`. */
    pushed: string;
}

const DEBIAN_MIRRORS = ["http://deb.debian.org/debian", "deb http://deb.debian.org/debian-security bookworm-security main"];
/** Documentation, manuals and translations are left out of every root filesystem (images stay small). */
const DPKG_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*"];

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

/** Where built root filesystems are kept: beside the toolchain, keyed by content. */
export function imageCacheDir(bin: string): string {
    return path.join(path.dirname(bin), "images");
}

/** The Debian root filesystem of `spec` as a tar (cached), and the versions of its packages. */
export function debianRootfs(spec: ImageSpec, cache: string): { tar: string; versions: Record<string, string> } {
    const d = spec.debian!;
    const key = sha(JSON.stringify({ v: 1, mirrors: DEBIAN_MIRRORS, excludes: DPKG_EXCLUDES, ...d })).slice(0, 16);
    // Keyed by content only: images with the same packages (the three service stand-ins) share one.
    const tar = path.join(cache, `rootfs-${key}.tar`);
    const versionsFile = `${tar}.versions.json`;
    if (!fs.existsSync(tar) || !fs.existsSync(versionsFile)) {
        fs.mkdirSync(cache, { recursive: true });
        const tmp = `${tar}.partial`;
        const versionsTmp = `${versionsFile}.partial`;
        const hooks = (flag: string, cmds: string[] = []) => cmds.flatMap((c) => [flag, c]);
        run("mmdebstrap", [
            "--variant=essential", "--mode=root", "--quiet", "--format=tar",
            // Debian's archive key, also on an Ubuntu machine (package debian-archive-keyring).
            "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg",
            ...DPKG_EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`),
            `--include=${d.packages.join(",")}`,
            ...hooks("--essential-hook", d.essentialHook),
            ...hooks("--customize-hook", [
                ...(d.customizeHook ?? []),
                `chroot "$1" dpkg-query -W -f='\${Package}\\t\${Version}\\n' > ${JSON.stringify(versionsTmp)}`,
                'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old',
            ]),
            "bookworm", tmp, ...DEBIAN_MIRRORS,
        ], { timeout: 20 * 60_000 });
        const versions = Object.fromEntries(fs.readFileSync(versionsTmp, "utf8").trim().split("\n").map((l) => l.split("\t")));
        fs.writeFileSync(versionsFile, JSON.stringify(versions, null, 1));
        fs.rmSync(versionsTmp);
        fs.renameSync(tmp, tar);
    }
    return { tar, versions: JSON.parse(fs.readFileSync(versionsFile, "utf8")) };
}

/** The ELF interpreter and shared libraries a host program needs (none for a static one). */
function sharedLibraries(file: string): string[] {
    const out = run("ldd", [file], { stdio: ["ignore", "pipe", "pipe"] }).toString();
    return [...out.matchAll(/(\/[^\s]+\.so[^\s]*)/g)].map((m) => m[1]);
}

function isStatic(file: string): boolean {
    const r = run("file", ["-L", file]);
    return /statically linked|static-pie linked/.test(r);
}

/** Our files (and busybox) as one layer tar; deterministic: fixed owner and time, sorted. */
function filesLayer(spec: ImageSpec, dir: string): string | undefined {
    if (!spec.busybox && !spec.files && !spec.inline) return undefined;
    const root = path.join(dir, "root");
    fs.mkdirSync(root, { recursive: true });
    const put = (dest: string, write: (abs: string) => void, mode = 0o644) => {
        const abs = path.join(root, dest);
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        write(abs);
        fs.chmodSync(abs, mode);
    };
    if (spec.busybox) {
        put("/bin/busybox", (abs) => fs.copyFileSync("/bin/busybox", abs), 0o755);
        for (const applet of run("/bin/busybox", ["--list-full"]).trim().split("\n")) {
            const abs = path.join(root, applet);
            if (applet === "bin/busybox" || fs.existsSync(abs)) continue;
            fs.mkdirSync(path.dirname(abs), { recursive: true });
            fs.symlinkSync("/bin/busybox", abs);
        }
        fs.mkdirSync(path.join(root, "tmp"), { recursive: true, mode: 0o1777 });
        put("/etc/passwd", (abs) => fs.writeFileSync(abs, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"));
        put("/etc/group", (abs) => fs.writeFileSync(abs, "root:x:0:\nnobody:x:65534:\n"));
    }
    for (const [dest, src] of Object.entries(spec.files ?? {})) {
        put(dest, (abs) => fs.copyFileSync(src, abs), fs.statSync(src).mode & 0o777);
        if (!isStatic(src) && /ELF/.test(run("file", ["-L", src]))) {
            for (const lib of sharedLibraries(src)) put(lib, (abs) => fs.copyFileSync(lib, abs), 0o755);
        }
    }
    for (const [dest, { content, mode }] of Object.entries(spec.inline ?? {})) put(dest, (abs) => fs.writeFileSync(abs, content), mode ?? 0o644);
    const tar = path.join(dir, "files.tar");
    run("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tar, "."]);
    return tar;
}

/** Builds `spec` (the root filesystem from cache when it is there) and pushes it to `registry`. */
export function buildImage(spec: ImageSpec, registry: Registry, bin: string): BuiltImage {
    const crane = (args: string[], input?: string) => run(path.join(bin, "crane"), ["--insecure", ...args], { input, timeout: 10 * 60_000 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `asky-image-${spec.name}-`));
    try {
        const rootfs = spec.debian ? debianRootfs(spec, imageCacheDir(bin)) : undefined;
        const files = filesLayer(spec, dir);
        const layers = [rootfs?.tar, files].filter((l): l is string => l !== undefined);
        const contentHash = sha(layers.map((l) => sha(fs.readFileSync(l))).join() + JSON.stringify(spec.config)).slice(0, 12);
        const tag = spec.tag ? spec.tag(rootfs?.versions ?? {}, contentHash) : contentHash;
        const pushed = `${registry.address}/${spec.name}:${tag}`;
        crane(["append", "--oci-empty-base", ...layers.flatMap((l) => ["-f", l]), "-t", pushed]);
        const config = JSON.parse(crane(["config", pushed]));
        const c = spec.config;
        config.config = {
            ...config.config,
            ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
            ...(c.cmd ? { Cmd: c.cmd } : {}),
            ...(c.workdir ? { WorkingDir: c.workdir } : {}),
            ...(c.user ? { User: c.user } : {}),
            ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
            Env: Object.entries({ PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...c.env }).map(([k, v]) => `${k}=${v}`),
        };
        crane(["edit", "config", pushed, "-t", pushed], JSON.stringify(config));
        return { ref: `${E2E_REGISTRY_HOST}/${spec.name}:${tag}`, pushed };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Pushes an already pushed image under another tag (a "new version" with the same content). */
export function retag(image: BuiltImage, tag: string, bin: string): BuiltImage {
    run(path.join(bin, "crane"), ["--insecure", "tag", image.pushed, tag]);
    const swap = (ref: string) => ref.replace(/:[^:/]+$/, `:${tag}`);
    return { ref: swap(image.ref), pushed: swap(image.pushed) };
}

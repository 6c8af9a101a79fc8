import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as YAML from "yaml";
import { daemonPid, run, startDaemon, until } from "./processes";

/**
 * The local OCI registry (distribution's `registry`, on loopback) that containerd uses as the
 * mirror of every registry the manifests name: the kubelet pulls exactly as on a real cluster
 * (imagePullPolicy unchanged), and images come only from here.
 */
export interface Registry {
    /** `127.0.0.1:PORT`. */
    readonly address: string;
}

/** The registry host the e2e's own images are named under (`<host>/<name>:<tag>`); containerd maps it here. */
export const E2E_REGISTRY_HOST = "registry.e2e.asky.test";

const addressFile = (workdir: string) => path.join(workdir, "registry");

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

/** Starts the registry with its storage under `.e2e/registry-data`; writes `host:port` to `.e2e/registry`. */
export async function startRegistry(workdir: string, bin: string): Promise<Registry> {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const data = path.join(workdir, "registry-data");
    fs.mkdirSync(data, { recursive: true });
    const config = path.join(data, "config.yml");
    fs.writeFileSync(config, YAML.stringify({
        version: 0.1,
        log: { level: "warn", accesslog: { disabled: true } },
        storage: { filesystem: { rootdirectory: path.join(data, "storage") }, delete: { enabled: true } },
        http: { addr: address },
    }));
    startDaemon(workdir, "registry", path.join(bin, "registry"), ["serve", config]);
    await until(`the registry on ${address}`, () => {
        if (daemonPid(workdir, "registry") === undefined) throw new Error("the registry exited (see .e2e/logs/registry.log)");
        return run("curl", ["-fsS", "-o", "/dev/null", `http://${address}/v2/`], { timeout: 2000 }) === "";
    }, 30_000);
    fs.writeFileSync(addressFile(workdir), address + "\n");
    return { address };
}

/** The running registry of a kept e2e (`.e2e/registry`), if any. */
export function runningRegistry(workdir: string): Registry | undefined {
    if (!fs.existsSync(addressFile(workdir)) || fs.statSync(addressFile(workdir)).isDirectory()) return undefined;
    if (daemonPid(workdir, "registry") === undefined) return undefined;
    return { address: fs.readFileSync(addressFile(workdir), "utf8").trim() };
}

/**
 * containerd's registry host configuration (`config_path`, hosts.toml per registry): every
 * registry in `hosts` resolves to the local registry only, so a pull of an image the e2e did not
 * build fails at once instead of reaching for the network.
 */
export function writeMirrorConfig(dir: string, registry: Registry, hosts: Iterable<string>): void {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const host of new Set(hosts)) {
        fs.mkdirSync(path.join(dir, host), { recursive: true });
        fs.writeFileSync(path.join(dir, host, "hosts.toml"), [
            `server = "http://${registry.address}"`,
            "",
            `[host."http://${registry.address}"]`,
            `  capabilities = ["pull", "resolve"]`,
            "",
        ].join("\n"));
    }
}

/** The registry host of an image reference, as containerd resolves it (Docker Hub for a bare name). */
export function registryHost(image: string): string {
    const first = image.split("/")[0];
    return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

/** Removes the registry's storage and address file (the daemon is stopped by PID). */
export function removeRegistryFiles(workdir: string): void {
    fs.rmSync(path.join(workdir, "registry-data"), { recursive: true, force: true });
    if (fs.existsSync(addressFile(workdir)) && !fs.statSync(addressFile(workdir)).isDirectory()) fs.rmSync(addressFile(workdir));
}

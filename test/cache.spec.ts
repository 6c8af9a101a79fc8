import * as assert from "assert";
import { AskyCache } from "../components";
import { find, renderComponent, stackSettings } from "./support/render";

/** components/cache.ts on its own. */
describe("AskyCache (components/cache.ts)", () => {
    it("serves Redis as host `redis` on 6379, the name and port hard-coded in the images", async () => {
        const { objects } = await renderComponent(() => { new AskyCache("cache", { namespace: "asky", instance: "asky-test", cache: stackSettings("dev").cache, monitoring: stackSettings("dev").monitoring }); });
        const svc = find(objects, "Service", "redis");
        assert.deepStrictEqual([svc.spec.type, svc.spec.ports[0].port, svc.spec.ports[0].targetPort], ["ClusterIP", 6379, "redis"]);
        const pod = find(objects, "Deployment", "redis").spec.template.spec;
        const c = pod.containers[0];
        assert.strictEqual(pod.securityContext.runAsUser, 999);
        // dev limit 128Mi: Redis keeps 75% of it (100663296 bytes) and evicts least-recently-used keys beyond.
        assert.deepStrictEqual(c.args, ["redis-server", "--save", "", "--appendonly", "no", "--dir", "/data", "--maxmemory", "100663296", "--maxmemory-policy", "allkeys-lru", "--aclfile", "/etc/redis/acl/users.acl"], "a cache: nothing persisted, bounded, its users from the ACL Secret");
        assert.ok(pod.volumes.find((v: any) => v.name === "data").emptyDir);
        assert.deepStrictEqual(c.readinessProbe.exec.command, ["redis-cli", "-p", "6379", "ping"]);
        assert.deepStrictEqual(c.livenessProbe.tcpSocket, { port: "redis" });
    });
});

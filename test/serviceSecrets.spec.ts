import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { AskyServiceSecrets } from "../components";
import { isSecretEnvelope, namesOf, renderComponent, reveal } from "./support/render";

/** components/serviceSecrets.ts on its own. */
describe("AskyServiceSecrets (components/serviceSecrets.ts)", () => {
    const build = (firebase?: string) => renderComponent(() => {
        const s = new AskyServiceSecrets("s", { namespace: "asky", instance: "asky-test", firebaseServiceAccount: firebase === undefined ? undefined : pulumi.secret(firebase) });
        return { privateKeyPem: s.privateKeyPem };
    });

    it("SEC-2 generates an RSA key pair with @pulumi/tls; the private key is a secret output and lives only in its Secret", async () => {
        const { objects, resources, outputs } = await build();
        const key = resources.find((r) => r.type === "tls:index/privateKey:PrivateKey")!;
        assert.deepStrictEqual([key.inputs.algorithm, key.inputs.rsaBits], ["RSA", 2048]);
        assert.deepStrictEqual(namesOf(objects, "Secret"), ["jwt-private-key", "jwt-public-key"]);
        const priv = resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === "jwt-private-key")!;
        assert.ok(isSecretEnvelope(priv.inputs.stringData));
        assert.deepStrictEqual(reveal(priv.inputs.stringData), { "private_key.pem": "mock-private-key-s-key" });
        assert.strictEqual(outputs.privateKeyPem.secret, true);
        assert.deepStrictEqual(namesOf(objects, "ConfigMap"), [], "SEC-1: no key in a ConfigMap");
    });

    it("makes the Firebase Secret only when the service account is configured, and keeps it secret", async () => {
        assert.ok(!namesOf((await build()).objects, "Secret").includes("firebase-service-account"));
        const { resources } = await build('{"type":"service_account"}');
        const fb = resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === "firebase-service-account")!;
        assert.ok(isSecretEnvelope(fb.inputs.stringData));
        assert.deepStrictEqual(reveal(fb.inputs.stringData), { "serviceAccountKey.json": '{"type":"service_account"}' });
    });
});

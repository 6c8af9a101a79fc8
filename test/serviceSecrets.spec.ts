import * as assert from "assert";
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { AskyServiceSecrets, ServiceTokenClaims, serviceTokenClaims, signServiceToken } from "../components";
import { mockKeyPair } from "../scripts/render";
import { isSecretEnvelope, namesOf, renderComponent, reveal } from "./support/render";

const HOUR = 3600;
const DEFAULTS = { lifetimeHours: 48, rotationHours: 24 };

/**
 * What pyxis and request-management do with a bearer token (`jwt.decode(token, public_key,
 * algorithms=["RS256"])`): refuse any other algorithm, check the RSA signature and `exp`.
 */
function verifyRs256(token: string, publicKeyPem: string, nowSeconds: number): Record<string, unknown> {
    const [header, payload, signature, ...rest] = token.split(".");
    assert.strictEqual(rest.length, 0, "a compact JWS has three parts");
    const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    const alg = decode(header).alg;
    if (alg !== "RS256") throw new Error(`algorithm ${alg} is not allowed`);
    const ok = crypto.verify("sha256", Buffer.from(`${header}.${payload}`), { key: publicKeyPem, padding: crypto.constants.RSA_PKCS1_PADDING }, Buffer.from(signature, "base64url"));
    if (!ok) throw new Error("signature verification failed");
    const claims = decode(payload);
    if (typeof claims.exp !== "number" || claims.exp <= nowSeconds) throw new Error("token expired");
    return claims;
}

/** components/serviceSecrets.ts on its own. */
describe("AskyServiceSecrets (components/serviceSecrets.ts)", () => {
    const build = (options: { firebase?: string; now?: Date; settings?: typeof DEFAULTS } = {}) => renderComponent(() => {
        const s = new AskyServiceSecrets("s", {
            namespace: "asky", instance: "asky-test",
            firebaseServiceAccount: options.firebase === undefined ? undefined : pulumi.secret(options.firebase),
            serviceToken: options.settings ?? DEFAULTS,
            clock: options.now ? () => options.now! : undefined,
        });
        return { privateKeyPem: s.privateKeyPem, serviceTokenJson: s.serviceToken.json, serviceTokenExpiresAt: s.serviceTokenExpiresAt };
    });
    const secretData = (render: Awaited<ReturnType<typeof build>>, name: string) =>
        reveal(render.resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === name)!.inputs.stringData) as Record<string, string>;
    const tokenOf = (render: Awaited<ReturnType<typeof build>>) => JSON.parse(secretData(render, "service-token")["token.json"]).token as string;
    const NOW = new Date("2026-03-10T12:00:00Z");

    it("SEC-2 generates an RSA key pair with @pulumi/tls; the private key is a secret output and lives only in its Secret", async () => {
        const render = await build();
        const { objects, resources, outputs } = render;
        const key = resources.find((r) => r.type === "tls:index/privateKey:PrivateKey")!;
        assert.deepStrictEqual([key.inputs.algorithm, key.inputs.rsaBits], ["RSA", 2048]);
        assert.deepStrictEqual(namesOf(objects, "Secret"), ["jwt-private-key", "jwt-public-key", "service-token"]);
        const priv = resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === "jwt-private-key")!;
        assert.ok(isSecretEnvelope(priv.inputs.stringData));
        assert.deepStrictEqual(secretData(render, "jwt-private-key"), { "private_key.pem": mockKeyPair("s-key").privateKeyPem });
        assert.strictEqual(outputs.privateKeyPem.secret, true);
        assert.deepStrictEqual(namesOf(objects, "ConfigMap"), [], "SEC-1: no key in a ConfigMap");
    });

    it("SEC-2 mints the service token from the generated key into the Secret service-token as {\"token\": JWT}, a secret output", async () => {
        const render = await build({ now: NOW });
        const token = render.resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === "service-token")!;
        assert.ok(isSecretEnvelope(token.inputs.stringData));
        assert.deepStrictEqual(Object.keys(secretData(render, "service-token")), ["token.json"]);
        assert.match(tokenOf(render), /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        assert.strictEqual(render.outputs.serviceTokenJson.secret, true);
    });

    it("the token verifies with the generated public key under RS256, and only so", async () => {
        const render = await build({ now: NOW });
        const token = tokenOf(render);
        const { publicKeyPem } = mockKeyPair("s-key");
        const now = NOW.getTime() / 1000;
        verifyRs256(token, publicKeyPem, now);

        const [header, payload, signature] = token.split(".");
        assert.deepStrictEqual(JSON.parse(Buffer.from(header, "base64url").toString()), { alg: "RS256", typ: "JWT" });
        // Algorithm confusion: HS256 keyed with the public key must not reproduce the signature.
        const hs256 = crypto.createHmac("sha256", publicKeyPem).update(`${header}.${payload}`).digest("base64url");
        assert.notStrictEqual(hs256, signature);
        const relabelled = `${Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url")}.${payload}.${signature}`;
        assert.throws(() => verifyRs256(relabelled, publicKeyPem, now), /algorithm HS256 is not allowed/);
        // Another key pair (e.g. the image's committed one) refuses it.
        const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
        assert.throws(() => verifyRs256(token, other, now), /signature verification failed/);
        // A tampered payload (role escalation is moot, but any change) breaks the signature.
        const forged = `${header}.${Buffer.from(JSON.stringify({ sub: "pyxis_service", role: "admin", iat: 0, exp: 9999999999 })).toString("base64url")}.${signature}`;
        assert.throws(() => verifyRs256(forged, publicKeyPem, now), /signature verification failed/);
    });

    it("claims are exactly sub pyxis_service, role admin, iat and exp; exp is in the future and within the lifetime", async () => {
        const render = await build({ now: NOW });
        const claims = verifyRs256(tokenOf(render), mockKeyPair("s-key").publicKeyPem, NOW.getTime() / 1000) as unknown as ServiceTokenClaims;
        assert.deepStrictEqual(Object.keys(claims), ["sub", "role", "iat", "exp"]);
        assert.strictEqual(claims.sub, "pyxis_service");
        assert.strictEqual(claims.role, "admin");
        const now = NOW.getTime() / 1000;
        assert.ok(claims.iat <= now && now < claims.iat + 24 * HOUR, "iat is the start of the current 24-hour window");
        assert.strictEqual(claims.exp - claims.iat, 48 * HOUR);
        assert.ok(claims.exp - now >= 24 * HOUR, "at least lifetime - rotation left after a deploy");
        assert.ok(claims.exp - now <= 48 * HOUR);
        assert.strictEqual(render.outputs.serviceTokenExpiresAt.value, new Date(claims.exp * 1000).toISOString());
    });

    it("is deterministic: two runs with the same key and clock mint the identical token (a second `pulumi up` changes nothing)", async () => {
        const first = tokenOf(await build({ now: NOW }));
        const later = tokenOf(await build({ now: new Date(NOW.getTime() + 3 * HOUR * 1000) }));
        const again = tokenOf(await build({ now: NOW }));
        assert.strictEqual(again, first);
        assert.strictEqual(later, first, "a deploy later in the same window keeps the token");
    });

    it("rotates at the window boundary: the last second of a window keeps the token, the first of the next mints a new one", async () => {
        const window = 24 * HOUR;
        const start = Math.ceil(NOW.getTime() / 1000 / window) * window;
        const before = await build({ now: new Date((start - 1) * 1000) });
        const after = await build({ now: new Date(start * 1000) });
        const key = mockKeyPair("s-key").publicKeyPem;
        const a = verifyRs256(tokenOf(before), key, start - 1);
        const b = verifyRs256(tokenOf(after), key, start);
        assert.notStrictEqual(tokenOf(after), tokenOf(before));
        assert.strictEqual(b.iat, start);
        assert.strictEqual(a.iat, start - window);
        assert.strictEqual(b.exp, start + 48 * HOUR);
        // The token deployed just before the boundary still has lifetime - window left.
        assert.strictEqual((a.exp as number) - (start - 1), 24 * HOUR + 1);
    });

    it("honours asky:serviceToken: a 6-hour lifetime renewed hourly", () => {
        const c = serviceTokenClaims(NOW, { lifetimeHours: 6, rotationHours: 1 });
        assert.strictEqual(c.iat, Date.UTC(2026, 2, 10, 12) / 1000);
        assert.strictEqual(c.exp - c.iat, 6 * HOUR);
    });

    it("refuses to sign with a key that is not RSA", () => {
        const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        assert.throws(() => signServiceToken(ec, serviceTokenClaims(NOW, DEFAULTS)), /RS256 needs RSA/);
    });

    it("makes the Firebase Secret only when the service account is configured, and keeps it secret", async () => {
        assert.ok(!namesOf((await build()).objects, "Secret").includes("firebase-service-account"));
        const { resources } = await build({ firebase: '{"type":"service_account"}' });
        const fb = resources.find((r) => r.inputs.kind === "Secret" && (r.inputs.metadata as any).name === "firebase-service-account")!;
        assert.ok(isSecretEnvelope(fb.inputs.stringData));
        assert.deepStrictEqual(reveal(fb.inputs.stringData), { "serviceAccountKey.json": '{"type":"service_account"}' });
    });
});

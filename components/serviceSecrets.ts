import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { ServiceTokenSettings } from "../config";
import { SERVICE_TOKEN_SUBJECTS } from "../nginx/render";
import { WorkloadIdentity, objectMeta } from "./podHardening";

/** The subject of the token the program mints: one the gateway refuses on its public listener. */
export const SERVICE_TOKEN_SUBJECT = SERVICE_TOKEN_SUBJECTS[0];

/** File names the images read: auth signs with the private key, pyxis and request-management verify. */
export const JWT_PRIVATE_KEY_FILE = "private_key.pem";
export const JWT_PUBLIC_KEY_FILE = "public_key.pem";

export const FIREBASE_FILE = "serviceAccountKey.json";

/** request-management reads `{"token": "<JWT>"}` from /app/services/token.json at import. */
export const SERVICE_TOKEN_FILE = "token.json";

const HOUR_SECONDS = 3600;

/** The claims pyxis and request-management check: an admin token for the service itself. */
export interface ServiceTokenClaims {
    /** The gateway's public listener refuses any bearer token of this subject (nginx/render.ts SERVICE_TOKEN_SUBJECTS). */
    sub: typeof SERVICE_TOKEN_SUBJECT;
    role: "admin";
    /** Start of the rotation window the token was minted in (seconds since the epoch). */
    iat: number;
    /** `iat` + the configured lifetime. */
    exp: number;
}

/**
 * The claims for a deploy at `now`: `iat` is the start of the current rotation window (whole
 * windows since the Unix epoch), so every deploy inside one window mints the same token, and a
 * deployed token always has at least `lifetimeHours - rotationHours` left.
 */
export function serviceTokenClaims(now: Date, settings: ServiceTokenSettings): ServiceTokenClaims {
    const window = settings.rotationHours * HOUR_SECONDS;
    const iat = Math.floor(Math.floor(now.getTime() / 1000) / window) * window;
    return { sub: SERVICE_TOKEN_SUBJECT, role: "admin", iat, exp: iat + settings.lifetimeHours * HOUR_SECONDS };
}

/** A compact RS256 JWS: RSASSA-PKCS1-v1_5 with SHA-256 is deterministic, so the same key and claims give the same token. */
export function signServiceToken(privateKeyPem: string, claims: ServiceTokenClaims): string {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const signingInput = `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}`;
    const key = crypto.createPrivateKey(privateKeyPem);
    if (key.asymmetricKeyType !== "rsa") throw new Error(`the JWT signing key is ${key.asymmetricKeyType}, RS256 needs RSA`);
    const signature = crypto.sign("sha256", Buffer.from(signingInput), { key, padding: crypto.constants.RSA_PKCS1_PADDING });
    return `${signingInput}.${signature.toString("base64url")}`;
}

export interface AskyServiceSecretsArgs {
    /** Namespace of the Secrets. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** The Firebase service-account JSON (secret config); left out, no Firebase Secret is made. */
    firebaseServiceAccount?: pulumi.Input<string>;
    /** Lifetime and rotation window of request-management's service token (`asky:serviceToken`). */
    serviceToken: ServiceTokenSettings;
    /** The deploy's clock, read once; left out, the current time. Tests inject it. */
    clock?: () => Date;
}

/**
 * The secrets the API services share: a generated RS256 key pair replacing the keys the images
 * ship committed (the private key stays a Pulumi secret and lives only in the Secret
 * `jwt-private-key`, mounted into auth), the service token request-management sends to the
 * other services (minted from that key, Secret `service-token`), and the optional Firebase
 * service account.
 */
export class AskyServiceSecrets extends pulumi.ComponentResource {
    /** Name of the Secret holding `private_key.pem`. */
    public readonly privateKeySecretName: pulumi.Output<string>;
    /** Name of the Secret holding `public_key.pem`. */
    public readonly publicKeySecretName: pulumi.Output<string>;
    /** The PEMs, for the pod-template checksums that roll the services on a key rotation. */
    public readonly privateKeyPem: pulumi.Output<string>;
    public readonly publicKeyPem: pulumi.Output<string>;
    /** The Secret holding `token.json` and its content (secret), for request-management's mount and checksum. */
    public readonly serviceToken: { secretName: pulumi.Output<string>; json: pulumi.Output<string> };
    /** When the deployed service token expires (ISO 8601): run `pulumi up` before then. */
    public readonly serviceTokenExpiresAt: string;
    /** The Firebase Secret's name and content, when configured. */
    public readonly firebase?: { secretName: pulumi.Output<string>; json: pulumi.Output<string> };

    constructor(name: string, args: AskyServiceSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:ServiceSecrets", name, {}, opts);
        const id: WorkloadIdentity = { name: "jwt-keys", component: "auth", instance: args.instance };
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 2048 }, { parent: this });
        this.privateKeyPem = pulumi.secret(key.privateKeyPem);
        this.publicKeyPem = key.publicKeyPem;

        const privateSecret = new k8s.core.v1.Secret(`${name}-private`, {
            metadata: objectMeta(id, args.namespace, "jwt-private-key"),
            type: "Opaque",
            stringData: { [JWT_PRIVATE_KEY_FILE]: this.privateKeyPem },
        }, { parent: this });
        // A public key is no secret, but SEC-1 keeps every PEM out of ConfigMaps.
        const publicSecret = new k8s.core.v1.Secret(`${name}-public`, {
            metadata: objectMeta(id, args.namespace, "jwt-public-key"),
            type: "Opaque",
            stringData: { [JWT_PUBLIC_KEY_FILE]: this.publicKeyPem },
        }, { parent: this });

        const claims = serviceTokenClaims((args.clock ?? (() => new Date(Date.now())))(), args.serviceToken);
        const tokenJson = pulumi.secret(this.privateKeyPem.apply((pem) => JSON.stringify({ token: signServiceToken(pem, claims) })));
        const tokenSecret = new k8s.core.v1.Secret(`${name}-service-token`, {
            metadata: objectMeta({ name: "service-token", component: "api", instance: args.instance }, args.namespace, "service-token"),
            type: "Opaque",
            stringData: { [SERVICE_TOKEN_FILE]: tokenJson },
        }, { parent: this });
        this.serviceToken = { secretName: tokenSecret.metadata.name, json: tokenJson };
        this.serviceTokenExpiresAt = new Date(claims.exp * 1000).toISOString();

        if (args.firebaseServiceAccount !== undefined) {
            const json = pulumi.secret(args.firebaseServiceAccount);
            const firebase = new k8s.core.v1.Secret(`${name}-firebase`, {
                metadata: objectMeta({ name: "firebase", component: "api", instance: args.instance }, args.namespace, "firebase-service-account"),
                type: "Opaque",
                stringData: { [FIREBASE_FILE]: json },
            }, { parent: this });
            this.firebase = { secretName: firebase.metadata.name, json };
        }

        this.privateKeySecretName = privateSecret.metadata.name;
        this.publicKeySecretName = publicSecret.metadata.name;
        this.registerOutputs({
            privateKeySecretName: this.privateKeySecretName,
            publicKeySecretName: this.publicKeySecretName,
            serviceTokenSecretName: this.serviceToken.secretName,
            serviceTokenExpiresAt: this.serviceTokenExpiresAt,
        });
    }
}

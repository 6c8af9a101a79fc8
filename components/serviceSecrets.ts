import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { WorkloadIdentity, objectMeta } from "./podHardening";

/** File names the images read: auth signs with the private key, pyxis and request-management verify. */
export const JWT_PRIVATE_KEY_FILE = "private_key.pem";
export const JWT_PUBLIC_KEY_FILE = "public_key.pem";

export const FIREBASE_FILE = "serviceAccountKey.json";

export interface AskyServiceSecretsArgs {
    /** Namespace of the Secrets. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** The Firebase service-account JSON (secret config); left out, no Firebase Secret is made. */
    firebaseServiceAccount?: pulumi.Input<string>;
}

/**
 * The secrets the API services share: a generated RS256 key pair replacing the keys the images
 * ship committed (the private key stays a Pulumi secret and lives only in the Secret
 * `jwt-private-key`, mounted into auth), and the optional Firebase service account.
 */
export class AskyServiceSecrets extends pulumi.ComponentResource {
    /** Name of the Secret holding `private_key.pem`. */
    public readonly privateKeySecretName: pulumi.Output<string>;
    /** Name of the Secret holding `public_key.pem`. */
    public readonly publicKeySecretName: pulumi.Output<string>;
    /** The PEMs, for the pod-template checksums that roll the services on a key rotation. */
    public readonly privateKeyPem: pulumi.Output<string>;
    public readonly publicKeyPem: pulumi.Output<string>;
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
        });
    }
}

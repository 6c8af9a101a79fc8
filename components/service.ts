import * as pulumi from "@pulumi/pulumi";
import type { AskyConfig, ServiceName } from "../config";
import { FIREBASE_FILE, JWT_PRIVATE_KEY_FILE, JWT_PUBLIC_KEY_FILE, SERVICE_TOKEN_FILE } from "./serviceSecrets";
import { contentChecksum, probes, scratchVolume } from "./podHardening";
import { AskyWorkload, AutoscalingArgs } from "./workload";

/** The images start as root; they only need to read /app, so they run as this UID (POD-2). */
export const SERVICE_UID = 10001;

/** Where each image reads its JWT key: auth signs, the others verify (ARCHITECTURE.md). */
const JWT_MOUNTS: Record<ServiceName, { file: string; mountPath: string }> = {
    auth: { file: JWT_PRIVATE_KEY_FILE, mountPath: "/app/services/private_key.pem" },
    pyxis: { file: JWT_PUBLIC_KEY_FILE, mountPath: "/app/public_key.pem" },
    "request-management": { file: JWT_PUBLIC_KEY_FILE, mountPath: "/app/public_key.pem" },
};

export interface AskyServiceArgs {
    /** Which Asky API this is: auth, pyxis or request-management (also the object names). */
    serviceName: ServiceName;
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the stack. */
    instance: string;
    /** Image, port, replicas, resources and probe kind (`asky:services.<name>`). */
    settings: AskyConfig["services"][ServiceName];
    /** Secret with this service's `DATABASE_URL` (its own database role). */
    databaseUrlSecretName: pulumi.Input<string>;
    /** The URL itself (secret); only its digest reaches the pod template, to roll pods on rotation. */
    databaseUrl: pulumi.Input<string>;
    /** In-cluster URL of the gateway (`GATEWAY_URL`): request-management calls the others through it. */
    gatewayUrl: pulumi.Input<string>;
    /** The JWT key this service reads: the private key for auth, the public key for the others. */
    jwtKey: { secretName: pulumi.Input<string>; pem: pulumi.Input<string> };
    /**
     * request-management only, and required there: the Secret with its service token, mounted at
     * /app/services/token.json (that one file: the rest of /app/services stays the image's).
     */
    serviceToken?: { secretName: pulumi.Input<string>; json: pulumi.Input<string> };
    /** Optional Firebase service-account Secret mounted at /app/serviceAccountKey.json; left out, nothing is mounted. */
    firebase?: { secretName: pulumi.Input<string>; json: pulumi.Input<string> };
    /** Set in prod when `autoscale` is on: an HPA replaces the fixed replica count. */
    autoscaling?: AutoscalingArgs;
    /** Create a PDB when the service runs more than one pod. */
    disruptionBudget: boolean;
    /** Spread pods across nodes. */
    spreadAcrossNodes: boolean;
    /** Seconds a stopping pod keeps serving before it is signalled (`asky:availability.drainSeconds`). */
    drainSeconds: number;
}

/** One of the three Asky FastAPI services: hardened Deployment + ClusterIP Service (+ HPA/PDB in prod). */
export class AskyService extends pulumi.ComponentResource {
    /** In-cluster host name (the Service name). */
    public readonly host: pulumi.Output<string>;
    /** Port of the Service. */
    public readonly port: number;
    public readonly workload: AskyWorkload;

    constructor(name: string, args: AskyServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("asky:index:Service", name, {}, opts);
        const s = args.settings;
        const jwt = JWT_MOUNTS[args.serviceName];
        // Without a health route, readiness asks for an HTTP answer of any status (a 404 too) with the image's own
        // Python: an open port alone would also pass while the app cannot serve, and be the liveness check again (POD-10).
        const httpAnswer = `import http.client as h; c = h.HTTPConnection('127.0.0.1', ${s.port}, timeout=2); c.request('GET', '/'); c.getresponse()`;
        const readiness = s.probe.kind === "http" ? { httpPort: "http", path: s.probe.path } : { command: ["python", "-c", httpAnswer] };
        const token = args.serviceToken;
        if ((args.serviceName === "request-management") !== (token !== undefined)) {
            throw new Error(`AskyService ${name}: serviceToken is required for request-management and only for it (serviceName is ${args.serviceName})`);
        }

        this.workload = new AskyWorkload(`${name}-workload`, {
            identity: { name: args.serviceName, component: "api", instance: args.instance },
            namespace: args.namespace,
            runAsUser: SERVICE_UID,
            resources: s.resources,
            replicas: s.replicas,
            autoscaling: args.autoscaling,
            disruptionBudget: args.disruptionBudget,
            spreadAcrossNodes: args.spreadAcrossNodes,
            drainSeconds: args.drainSeconds,
            podAnnotations: {
                "checksum/secrets": contentChecksum(args.databaseUrl, args.jwtKey.pem, ...(args.firebase ? [args.firebase.json] : []), ...(token ? [token.json] : [])),
            },
            container: {
                name: args.serviceName,
                image: s.image,
                ports: [{ name: "http", containerPort: s.port, protocol: "TCP" }],
                env: [
                    { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: args.databaseUrlSecretName, key: "DATABASE_URL" } } },
                    { name: "GATEWAY_URL", value: args.gatewayUrl },
                    // Read-only root: no bytecode cache under /app, and a writable HOME.
                    { name: "PYTHONDONTWRITEBYTECODE", value: "1" },
                    { name: "HOME", value: "/tmp" },
                ],
                volumeMounts: [
                    { name: "tmp", mountPath: "/tmp" },
                    { name: "jwt", mountPath: jwt.mountPath, subPath: jwt.file, readOnly: true },
                    ...(args.firebase ? [{ name: "firebase", mountPath: `/app/${FIREBASE_FILE}`, subPath: FIREBASE_FILE, readOnly: true }] : []),
                    ...(token ? [{ name: "service-token", mountPath: `/app/services/${SERVICE_TOKEN_FILE}`, subPath: SERVICE_TOKEN_FILE, readOnly: true }] : []),
                ],
                // An open health endpoint where the image has one; otherwise TCP (POD-10).
                ...probes(readiness, { tcpPort: "http" }),
            },
            volumes: [
                scratchVolume("tmp", "64Mi"),
                { name: "jwt", secret: { secretName: args.jwtKey.secretName, items: [{ key: jwt.file, path: jwt.file }], defaultMode: 0o440 } },
                ...(args.firebase
                    ? [{ name: "firebase", secret: { secretName: args.firebase.secretName, items: [{ key: FIREBASE_FILE, path: FIREBASE_FILE }], defaultMode: 0o440 } }]
                    : []),
                ...(token
                    ? [{ name: "service-token", secret: { secretName: token.secretName, items: [{ key: SERVICE_TOKEN_FILE, path: SERVICE_TOKEN_FILE }], defaultMode: 0o440 } }]
                    : []),
            ],
            service: { port: s.port, targetPort: "http" },
        }, { parent: this, dependsOn: opts?.dependsOn });

        this.host = this.workload.serviceName;
        this.port = s.port;
        this.registerOutputs({ host: this.host });
    }
}

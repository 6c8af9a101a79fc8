import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    AskyBackup,
    AskyCache,
    AskyDatabase,
    AskyDatabaseExporter,
    AskyGateway,
    AskyMonitoring,
    AskyNamespace,
    AskyNetworkPolicies,
    AskyPriorityClasses,
    AskyService,
    AskyServiceSecrets,
    BACKUP_CRONJOB,
    EXPORTER_PORTS,
    Flow,
    GATEWAY_INTERNAL_PORT,
    POSTGRES_PORT,
    REDIS_PORT,
    gatewayClusterUrl,
    gatewayPublicPorts,
} from "./components";
import { AskyConfig, ServiceName, awaitsLoadBalancer, loadConfig, prodGuardrails } from "./config";
import { refuseStorageChanges, storageRecord } from "./config/storage";

/** Composes the Asky platform from the validated config; the deploy order replaces run.sh. */
function deployAsky(config: AskyConfig) {
    const instance = `asky-${config.environment}`;
    // An explicit provider per stack: a dev run can only ever talk to the dev context.
    const provider = new k8s.Provider("kubernetes", {
        context: config.kubeContext,
        ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
        enableServerSideApply: true,
        // Fixed-name Secrets and ConfigMaps are updated in place, never deleted and re-created
        // (a pod starting in that gap fails); the pods roll on their checksum annotations.
        enableSecretMutable: true,
        enableConfigMapMutable: true,
    });
    const opts: pulumi.ComponentResourceOptions = { providers: { kubernetes: provider } };
    const { availability } = config;
    const autoscalingFor = (autoscale: boolean) => (autoscale ? availability.autoscaling : undefined);

    const ns = new AskyNamespace("asky", { name: config.namespace, instance, protect: config.protectData }, opts);
    const namespace = ns.name;

    // Every component that runs pods waits for the policies (children wait for their parent's dependencies).
    const afterPolicies: pulumi.Resource[] = [];
    if (config.networkPolicies) {
        const services = config.services;
        const flows: Flow[] = [
            ...gatewayPublicPorts(config.gateway).map((port) => ({ from: "*", to: "gateway", port })),
            { from: "gateway", to: "auth", port: services.auth.port },
            { from: "gateway", to: "pyxis", port: services.pyxis.port },
            { from: "gateway", to: "request-management", port: services["request-management"].port },
            // Only request-management calls through GATEWAY_URL (ARCHITECTURE.md), on the internal listener.
            { from: "request-management", to: "gateway", port: GATEWAY_INTERNAL_PORT },
            ...(["auth", "pyxis", "request-management", "postgres-bootstrap"].map((from) => ({ from, to: "postgres", port: POSTGRES_PORT }))),
            ...(config.backup.enabled ? [{ from: "postgres-backup", to: "postgres", port: POSTGRES_PORT }] : []),
            { from: "pyxis", to: "redis", port: REDIS_PORT },
            { from: "request-management", to: "redis", port: REDIS_PORT },
            { from: "postgres-exporter", to: "postgres", port: POSTGRES_PORT },
        ];
        // Only the configured Prometheus reaches the exporters.
        const scrapers = {
            ...config.monitoring.scraper,
            targets: [
                { to: "gateway", port: EXPORTER_PORTS.nginx },
                { to: "gateway", port: EXPORTER_PORTS.accessLog },
                { to: "redis", port: EXPORTER_PORTS.redis },
                { to: "postgres-exporter", port: EXPORTER_PORTS.postgres },
            ],
        };
        // DNS for the pods that resolve names, and none else (postgres and redis resolve nothing; the gateway's
        // and redis' exporters read their neighbour on the pod's loopback): the gateway (the services' names,
        // at start), the services (postgres.<ns>, redis, gateway-internal), postgres-exporter and the Jobs (postgres).
        const dns = {
            clients: ["gateway", "auth", "pyxis", "request-management", "postgres-exporter", "postgres-bootstrap",
                ...(config.backup.enabled ? ["postgres-backup"] : [])],
            ...config.dnsEgress,
        };
        // Policies first: no pod ever runs without them.
        // The backup's copy off the cluster: its bucket's addresses on HTTPS, nothing else outside.
        const offsite = config.backup.enabled ? config.backup.offsite : undefined;
        const externalEgress = offsite ? [{ from: "postgres-backup", cidrs: offsite.cidrs, port: 443 }] : [];
        afterPolicies.push(new AskyNetworkPolicies("asky", { namespace, instance, flows, scrapers, dns, externalEgress }, opts));
    }
    const podOpts: pulumi.ComponentResourceOptions = { ...opts, dependsOn: afterPolicies };
    const priority = availability.priorityClasses ? new AskyPriorityClasses("asky", { instance }, opts) : undefined;

    // 1. The database, ready and with the current schema applied.
    const database = new AskyDatabase("asky", {
        namespace, instance, database: config.database, storage: config.storage, protect: config.protectData,
        priorityClassName: priority?.database,
    }, podOpts);
    const backup = config.backup.enabled
        ? new AskyBackup("asky", {
            namespace, instance, backup: config.backup, image: config.database.image, databaseName: config.database.name,
            backupPassword: database.backupPassword, protect: config.protectData,
        }, podOpts)
        : undefined;

    // 2. The cache and the services, once the schema Job has finished (ARCHITECTURE's order: the cache needs
    // no schema, but starting it earlier shortens nothing, since the services' wait is the longer one).
    const secrets = new AskyServiceSecrets("asky", { namespace, instance, firebaseServiceAccount: config.firebaseServiceAccount, serviceToken: config.serviceToken }, opts);
    const afterSchema = [...afterPolicies, database.bootstrap];
    new AskyCache("asky", { namespace, instance, cache: config.cache, monitoring: config.monitoring }, { ...opts, dependsOn: afterSchema });
    new AskyDatabaseExporter("asky", {
        namespace, instance, databaseName: config.database.name, monitorPassword: database.monitorPassword, monitoring: config.monitoring,
    }, { ...opts, dependsOn: afterSchema });
    const services = (Object.keys(config.services) as ServiceName[]).map((name) => new AskyService(name, {
        serviceName: name,
        namespace,
        instance,
        settings: config.services[name],
        databaseUrlSecretName: database.databaseUrlSecretNames[name],
        databaseUrl: database.databaseUrls[name],
        gatewayUrl: gatewayClusterUrl(config.namespace),
        jwtKey: name === "auth"
            ? { secretName: secrets.privateKeySecretName, pem: secrets.privateKeyPem }
            : { secretName: secrets.publicKeySecretName, pem: secrets.publicKeyPem },
        firebase: name === "auth" ? undefined : secrets.firebase,
        serviceToken: name === "request-management" ? secrets.serviceToken : undefined,
        autoscaling: autoscalingFor(config.services[name].autoscale),
        disruptionBudget: availability.disruptionBudgets,
        spreadAcrossNodes: availability.spreadAcrossNodes,
        drainSeconds: availability.drainSeconds,
    }, { ...opts, dependsOn: afterSchema }));

    // 3. The gateway, after the Services it proxies: NGINX resolves their names at start (GW-9). Their
    // names, not their pods: it starts beside the services (answering 502 until they are ready, as it
    // would for any upstream that is down), and `pulumi up` still ends only when every Deployment is ready.
    const gateway = new AskyGateway("asky", {
        namespace,
        namespaceName: config.namespace,
        instance,
        gateway: config.gateway,
        awaitLoadBalancer: awaitsLoadBalancer(config),
        upstreamPorts: {
            auth: config.services.auth.port,
            pyxis: config.services.pyxis.port,
            requestManagement: config.services["request-management"].port,
        },
        autoscaling: autoscalingFor(config.gateway.autoscale),
        disruptionBudget: availability.disruptionBudgets,
        spreadAcrossNodes: availability.spreadAcrossNodes,
        drainSeconds: availability.drainSeconds,
        monitoring: config.monitoring,
        priorityClassName: priority?.gateway,
    }, { ...opts, dependsOn: [...afterPolicies, ...services.map((s) => s.workload.service)] });
    new AskyMonitoring("asky", {
        namespace, namespaceName: config.namespace, instance, environment: config.environment, monitoring: config.monitoring,
        claims: [config.storage.claimName, ...(config.backup.enabled ? [config.backup.claimName] : [])],
        backupCronJob: backup ? BACKUP_CRONJOB : undefined,
    }, opts);

    return {
        namespace,
        gatewayUrl: gateway.externalUrl,
        gatewayClusterUrl: gateway.clusterUrl,
        databaseHost: database.host,
        /** Initial passwords of the seeded users, by e-mail: `pulumi stack output --show-secrets initialUserPasswords`. */
        initialUserPasswords: database.userPasswords,
        /** When request-management's service token expires; any `pulumi up` in the next rotation window renews it. */
        serviceTokenExpiresAt: secrets.serviceTokenExpiresAt,
        /** The environment the stack was deployed as: the next run refuses another one. */
        environment: database.claim.id.apply(() => config.environment),
        /** The prod guardrails lifted with asky:breakGlass (empty: none). */
        breakGlass: prodGuardrails(config).lifted,
        /** What the claims were created with, once they exist: the next run refuses changes a claim cannot take in place. */
        storage: pulumi.all([database.claim.id, backup?.claimName]).apply(() => storageRecord(config)),
    };
}

export = async () => {
    const config = loadConfig();
    await refuseStorageChanges(config);
    return deployAsky(config);
};

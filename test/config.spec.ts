import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseAskyConfig, parseImage, parseQuantity, prodGuardrails, readConfig } from "../config";
import { renderStack, stackConfig } from "../scripts/render";
import { configProblems, rawStackConfig } from "./support/render";
import { DeployedStorage, environmentChangeProblems, storageChangeProblems, storageRecord } from "../config/storage";

const rawConfig = rawStackConfig;
const problemsOf = configProblems;

type Mutation = (c: Record<string, any>) => void;

/** Bad inputs: each must fail with a message naming the key path, the value and what is allowed. */
const badInputs: [title: string, stack: "dev" | "prod", mutate: Mutation, expected: RegExp[]][] = [
    ["negative replicas", "dev", (c) => { c.services.auth.replicas = -1; }, [/asky:services\.auth\.replicas = -1/, /≥ 0/]],
    ["an unknown service", "dev", (c) => { c.services.billing = c.services.auth; }, [/asky:services\.billing: unknown key/, /allowed here: auth, pyxis, request-management/]],
    ["an image without tag in prod", "prod", (c) => { c.services.pyxis.image = "elisaflemer/asky-pyxis"; }, [/asky:services\.pyxis\.image = "elisaflemer\/asky-pyxis"/, /pinned image: a tag that starts with a full version/, /@sha256 digest/]],
    ["'latest' in prod", "prod", (c) => { c.gateway.image = "nginxinc/nginx-unprivileged:latest"; }, [/asky:gateway\.image = "nginxinc\/nginx-unprivileged:latest"/, /moving tags such as latest/]],
    ["an invalid namespace name", "dev", (c) => { c.namespace = "Asky_Prod"; }, [/asky:namespace = "Asky_Prod"/, /DNS label/]],
    ["a malformed storage size", "dev", (c) => { c.storage.size = "5GB"; }, [/asky:storage\.size = "5GB"/, /quantity of bytes such as/]],
    ["memory in thousandths of a byte", "dev", (c) => { c.cache.resources.limits.memory = "512m"; }, [/asky:cache\.resources\.limits\.memory = "512m"/, /512Mi/]],
    ["a CPU quantity with a byte suffix", "dev", (c) => { c.services.auth.resources.requests.cpu = "1Gi"; }, [/asky:services\.auth\.resources\.requests\.cpu = "1Gi"/, /250m or 1/]],
    ["requests above limits", "dev", (c) => { c.gateway.resources.requests.memory = "1Gi"; }, [/asky:gateway\.resources\.requests\.memory = "1Gi": must not exceed asky:gateway\.resources\.limits\.memory \(128Mi\)/]],
    ["a cron schedule with junk after a macro", "dev", (c) => { c.backup.schedule = "@daily junk"; }, [/asky:backup\.schedule = "@daily junk"/, /five fields/]],
    ["a six-field cron schedule", "dev", (c) => { c.backup.schedule = "0 15 2 * * *"; }, [/asky:backup\.schedule/, /five fields/]],
    ["a PostgreSQL older than 15", "dev", (c) => { c.database.image = "postgres:14.10-bookworm"; }, [/asky:database\.image = "postgres:14\.10-bookworm"/, /PostgreSQL 15 or newer/]],
    ["a port out of range", "dev", (c) => { c.services["request-management"].port = 70000; }, [/asky:services\.request-management\.port = 70000/, /1 to 65535/]],
    ["an unknown nested key", "dev", (c) => { c.gateway.replica = 2; }, [/asky:gateway\.replica: unknown key/, /replicas/]],
    ["an unknown exposure", "dev", (c) => { c.gateway.exposure = "Ingress"; }, [/asky:gateway\.exposure = "Ingress"/, /NodePort.*LoadBalancer/]],
    ["a node port with a LoadBalancer", "prod", (c) => { c.gateway.nodePort = 30000; }, [/asky:gateway\.nodePort = 30000/, /asky:gateway\.exposure "NodePort"/]],
    ["a node port out of the node-port range", "dev", (c) => { c.gateway.nodePort = 8080; }, [/asky:gateway\.nodePort = 8080/, /30000 to 32767/]],
    ["a hostPath in prod", "prod", (c) => { c.storage.hostPath = "/mnt/data"; }, [/asky:storage\.hostPath = "\/mnt\/data"/, /asky:environment is "prod"/]],
    ["maxReplicas not above minReplicas", "prod", (c) => { c.availability.autoscaling.maxReplicas = 2; }, [/maxReplicas = 2/, /asky:availability\.autoscaling\.minReplicas/]],
    ["one replica without autoscaling in prod (HA-1)", "prod", (c) => { c.services.auth.replicas = 1; }, [/asky:services\.auth\.replicas = 1/, /asky:services\.auth\.autoscale/]],
    ["a bcrypt cost below 10 (SEC-5)", "dev", (c) => { c.database.bcryptCost = 8; }, [/asky:database\.bcryptCost = 8/, /≥ 10/]],
    ["a bcrypt cost above what the SQL renderer accepts", "dev", (c) => { c.database.bcryptCost = 17; }, [/asky:database\.bcryptCost = 17/, /<=16/]],
    ["a user seeded twice", "dev", (c) => { c.database.users.push({ ...c.database.users[0] }); }, [/asky:database\.users\[3\]\.email/, /seeded twice/]],
    ["a seeded user without a phone number", "dev", (c) => { delete c.database.users[0].phoneNumber; }, [/asky:database\.users\[0\]\.phoneNumber = \(missing\): is required: an E\.164 phone number/]],
    ["a phone number not in E.164", "prod", (c) => { c.database.users[1].phoneNumber = "+55 (11) 99001-0002"; }, [/asky:database\.users\[1\]\.phoneNumber = "\+55 \(11\) 99001-0002": must be an E\.164 phone number/, /\+5511912345678/]],
    ["a national phone number without country code", "dev", (c) => { c.database.users[1].phoneNumber = "11990010002"; }, [/asky:database\.users\[1\]\.phoneNumber = "11990010002": must be an E\.164/]],
    ["two seeded users with one phone number", "dev", (c) => { c.database.users[2].phoneNumber = c.database.users[0].phoneNumber; }, [/asky:database\.users\[2\]\.phoneNumber = "\+5511990010001": already the number of users\[0\]/]],
    ["an e-mail the SQL renderer would refuse (one rule for both)", "dev", (c) => { c.database.users[0].email = "o'brien@asky.local"; }, [/asky:database\.users\[0\]\.email = "o'brien@asky\.local": must be an e-mail address of letters, digits/]],
    ["two e-mails with one password variable", "dev", (c) => { c.database.users[0].email = "ana.souza@asky.local"; c.database.users[1].email = "ana-souza@asky.local"; }, [/asky:database\.users\[1\]\.email = "ana-souza@asky\.local": maps to the same password variable ASKY_USER_PASSWORD_ANA_SOUZA_ASKY_LOCAL as users\[0\]/]],
    ["a seeded user's name with a line break", "dev", (c) => { c.database.users[0].name = "Admin\n\\! rm -rf /"; }, [/asky:database\.users\[0\]\.name = .*: must be 1-255 printable characters/]],
    ["no seeded user", "dev", (c) => { c.database.users = []; }, [/asky:database\.users = \[\]: must seed at least one user/]],
    ["a token rotation not shorter than its lifetime", "dev", (c) => { c.serviceToken = { lifetimeHours: 30, rotationHours: 45 }; }, [/asky:serviceToken\.rotationHours = 45: must be less than asky:serviceToken\.lifetimeHours \(30\)/]],
    ["a token lifetime above 30 days", "prod", (c) => { c.serviceToken = { lifetimeHours: 2160 }; }, [/asky:serviceToken\.lifetimeHours = 2160: must be a whole number of hours from 2 to 720/]],
    ["the old day-based keys", "dev", (c) => { c.serviceToken = { lifetimeDays: 90 }; }, [/asky:serviceToken\.lifetimeDays: unknown key; allowed here: lifetimeHours, rotationHours/]],
    ["an unknown user role", "dev", (c) => { c.database.users[0].role = "doctor"; }, [/asky:database\.users\[0\]\.role = "doctor"/, /admin.*nurse.*agent/]],
    ["an unknown environment", "dev", (c) => { c.environment = "staging"; }, [/asky:environment = "staging"/, /dev.*prod/]],
    ["a missing section", "dev", (c) => { delete c.cache; }, [/asky:cache = \(missing\)/]],
    ["a string where a number belongs", "dev", (c) => { c.services.pyxis.replicas = "two"; }, [/asky:services\.pyxis\.replicas = "two"/, /number/]],
    // Namespaces the cluster owns: the stack would put default-deny policies and restricted Pod Security on them.
    ...["kube-system", "default", "kube-public", "kube-node-lease"].map((ns): (typeof badInputs)[number] =>
        [`the cluster's namespace ${ns}`, "dev", (c) => { c.namespace = ns; }, [new RegExp(`asky:namespace = "${ns}"`), /cluster's own namespace/, /e\.g\. asky/]]),
    // Limits we set must limit: 0 means none (Redis would get --maxmemory 0, unlimited).
    ["a CPU limit of 0", "dev", (c) => { c.services.auth.resources.limits.cpu = "0"; c.services.auth.resources.requests.cpu = "0"; }, [/asky:services\.auth\.resources\.limits\.cpu = "0"/, /at least 1m/]],
    ["a memory limit of 0", "dev", (c) => { c.cache.resources.limits.memory = "0"; c.cache.resources.requests.memory = "0"; }, [/asky:cache\.resources\.limits\.memory = "0"/, /at least 6Mi/]],
    ["a memory limit below the runtime's 6Mi", "dev", (c) => { c.gateway.resources.limits.memory = "1Mi"; c.gateway.resources.requests.memory = "1Mi"; }, [/asky:gateway\.resources\.limits\.memory = "1Mi"/, /at least 6Mi/]],
    ["an ephemeral-storage limit of 0", "dev", (c) => { c.database.resources.limits.ephemeralStorage = "0Mi"; c.database.resources.requests.ephemeralStorage = "0Mi"; }, [/asky:database\.resources\.limits\.ephemeralStorage = "0Mi"/, /more than 0/]],
    ["a missing limit", "dev", (c) => { delete c.services.pyxis.resources.limits.memory; }, [/asky:services\.pyxis\.resources\.limits\.memory = \(missing\)/]],
    ["a Redis limit too small for its maxmemory", "dev", (c) => { c.cache.resources.limits.memory = "8Mi"; c.cache.resources.requests.memory = "8Mi"; }, [/asky:cache\.resources\.limits\.memory = "8Mi"/, /Redis needs at least 16Mi/]],
    // Numbers the API server refuses.
    ["replicas beyond int32", "dev", (c) => { c.services.auth.replicas = 2 ** 31; }, [/asky:services\.auth\.replicas = 2147483648/, /at most 2147483647/]],
    ["gateway replicas beyond int32", "dev", (c) => { c.gateway.replicas = 2 ** 31; }, [/asky:gateway\.replicas = 2147483648/, /at most 2147483647/]],
    ["maxReplicas beyond int32", "prod", (c) => { c.availability.autoscaling.maxReplicas = 1e12; }, [/asky:availability\.autoscaling\.maxReplicas = 1000000000000/, /int32/]],
    ["a drain longer than two minutes", "dev", (c) => { c.availability.drainSeconds = 600; }, [/asky:availability\.drainSeconds = 600/, /from 0 to 120 seconds/]],
    ["a drain of a fraction of a second", "prod", (c) => { c.availability.drainSeconds = 2.5; }, [/asky:availability\.drainSeconds = 2\.5/, /whole number of seconds/]],
    ["a storage size of 0", "dev", (c) => { c.storage.size = "0"; }, [/asky:storage\.size = "0"/, /more than 0/]],
    ["a backup volume of 0Gi", "prod", (c) => { c.backup.storageSize = "0Gi"; }, [/asky:backup\.storageSize = "0Gi"/, /more than 0/]],
    ["a storage size beyond int64", "dev", (c) => { c.storage.size = "9Ei"; }, [/asky:storage\.size = "9Ei"/, /less than 8Ei/]],
    // hostPath: under a safe prefix, no '..'.
    ...["/etc/postgres", "/", "/mnt", "/mnt/../etc", "/mnt/data/", "/mnt//data", "/var/lib/kubelet/pods", "mnt/data"].map((p): (typeof badInputs)[number] =>
        [`the hostPath ${p}`, "dev", (c) => { c.storage.hostPath = p; }, [new RegExp(`asky:storage\\.hostPath = "${p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"`), /under \/mnt\/, \/data\/, \/srv\//, /'\.\.'/]]),
    ["a hostPath with a class other than manual", "dev", (c) => { c.storage.storageClass = "standard"; }, [/asky:storage\.storageClass = "standard"/, /StorageClass "manual"/]],
    ["the backups on the database's claim", "prod", (c) => { c.backup.claimName = c.storage.claimName; }, [/asky:backup\.claimName = "postgres-pv-claim"/, /their own claim/]],
    // Moving tags, in any case or spelling (POD-11).
    ...["LATEST", "Latest", "stable", "alpine", "mainline", "edge", "16", "16-bookworm", "bookworm", "1"].map((tag): (typeof badInputs)[number] =>
        [`the moving tag ${tag} in prod`, "prod", (c) => { c.cache.image = `redis:${tag}`; }, [new RegExp(`asky:cache\\.image = "redis:${tag}"`), /full version/, /@sha256 digest/]]),
    ["a PostgreSQL pinned by digest alone in prod", "prod", (c) => { c.database.image = `postgres@sha256:${"a".repeat(64)}`; }, [/asky:database\.image = "postgres@sha256:a+/, /major version \(≥ 15\) must be readable from the tag/, /postgres:16\.6-bookworm@sha256:<digest>/]],
    ["a PostgreSQL 14 pinned by tag and digest", "prod", (c) => { c.database.image = `postgres:14.10-bookworm@sha256:${"a".repeat(64)}`; }, [/asky:database\.image = "postgres:14\.10-bookworm@sha256/, /PostgreSQL 15 or newer/]],
    // Cross-checks between keys, each naming the key at fault and the one it depends on.
    ["the class manual without a hostPath", "dev", (c) => { delete c.storage.hostPath; }, [/asky:storage\.storageClass = "manual" binds the dev hostPath PV: set asky:storage\.hostPath as well/]],
    ["a nodePort with LoadBalancer exposure", "dev", (c) => { c.gateway.exposure = "LoadBalancer"; }, [/asky:gateway\.nodePort = 30000: only allowed with asky:gateway\.exposure "NodePort", not "LoadBalancer"/]],
    ["the dev backups on the database's claim", "dev", (c) => { c.backup.enabled = true; c.backup.claimName = c.storage.claimName; }, [/asky:backup\.claimName = "postgres-pv-claim": the backups need their own claim, not the database's \(asky:storage\.claimName\)/]],
    ["a minimum of one replica under autoscaling in prod", "prod", (c) => { c.availability.autoscaling.minReplicas = 1; }, [/asky:availability\.autoscaling\.minReplicas = 1: prod needs ≥ 2 \(HA-1\)/]],
    ["maxReplicas equal to minReplicas", "dev", (c) => { c.availability.autoscaling.maxReplicas = c.availability.autoscaling.minReplicas; }, [/asky:availability\.autoscaling\.maxReplicas = \d+: must be greater than asky:availability\.autoscaling\.minReplicas \(\d+\) \(HA-1\)/]],
    ["a gateway of one replica without autoscaling in prod", "prod", (c) => { c.gateway.replicas = 1; c.gateway.autoscale = false; }, [/asky:gateway\.replicas = 1: prod needs ≥ 2 replicas or asky:gateway\.autoscale true \(HA-1\)/]],
    ["a memory request above its limit", "dev", (c) => { c.cache.resources.requests.memory = "1Gi"; }, [/asky:cache\.resources\.requests\.memory = "1Gi": must not exceed asky:cache\.resources\.limits\.memory \(/]],
    ["an ephemeral-storage request above its limit", "dev", (c) => { c.services.pyxis.resources.requests.ephemeralStorage = "100Gi"; }, [/asky:services\.pyxis\.resources\.requests\.ephemeralStorage = "100Gi": must not exceed asky:services\.pyxis\.resources\.limits\.ephemeralStorage/]],
    ["a rotation as long as the token's lifetime", "dev", (c) => { c.serviceToken = { ...c.serviceToken, lifetimeHours: 24, rotationHours: 24 }; }, [/asky:serviceToken\.rotationHours = 24: must be less than asky:serviceToken\.lifetimeHours \(24\)/]],
    ["off-cluster copies of unencrypted dumps", "dev", (c) => { c.backup.enabled = true; c.backup.offsite = { endpoint: "https://s3.example.org", bucket: "asky-backups", region: "r", credentialsSecret: "s3", cidrs: ["192.0.2.0/24"], image: "rclone/rclone:1.68.2" }; delete c.backup.encryption; }, [/asky:backup\.offsite: copies dumps off the cluster, which only encrypted ones may leave: set asky:backup\.encryption\.publicKey too/]],
    ["Redis below 16Mi", "dev", (c) => { c.cache.resources.limits.memory = "15Mi"; c.cache.resources.requests.memory = "8Mi"; }, [/asky:cache\.resources\.limits\.memory = "15Mi": Redis needs at least 16Mi/]],
];

describe("config (config/index.ts)", () => {
    for (const stack of ["dev", "prod"] as const) {
        it(`accepts the committed ${stack} stack file`, () => {
            const { config } = parseAskyConfig(rawConfig(stack));
            assert.strictEqual(config.environment, stack);
            assert.ok(Object.isFrozen(config.services.auth), "the config is frozen");
        });
    }

    for (const [title, stack, mutate, expected] of badInputs) {
        it(`rejects ${title}, naming the key, the value and what is allowed`, () => {
            const raw = rawConfig(stack);
            mutate(raw);
            const problems = problemsOf(raw);
            assert.ok(problems.length > 0, "no error reported");
            const text = problems.join("\n");
            for (const re of expected) assert.match(text, re);
        });
    }

    it("Pulumi.yaml declares no config block: the CLI would then reject every undeclared (structured) stack key", () => {
        const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8"));
        assert.deepStrictEqual([project.name, project.runtime.name, project.config], ["asky", "nodejs", undefined]);
    });

    it("asky:serviceToken left out: 48-hour tokens, renewed every 24 hours (at most two valid at once)", () => {
        const raw = rawConfig("dev");
        delete raw.serviceToken;
        assert.deepStrictEqual(parseAskyConfig(raw).config.serviceToken, { lifetimeHours: 48, rotationHours: 24 });
    });

    it("POD-11 allows a moving tag in dev, with a warning", () => {
        const { warnings } = parseAskyConfig(rawConfig("dev"));
        assert.ok(warnings.some((w) => /asky:services\.auth\.image = "elisaflemer\/asky-auth:latest"/.test(w)), warnings.join("\n"));
    });

    it("reports every problem at once", () => {
        const raw = rawConfig("dev");
        raw.namespace = "BAD";
        raw.services.auth.replicas = -3;
        assert.strictEqual(problemsOf(raw).length, 2);
    });

    it("POD-11 accepts in prod a digest (with or without a tag); dev a tag that starts with a full version", () => {
        const digest = `@sha256:${"b".repeat(64)}`;
        for (const image of [`redis:7.4.11-alpine${digest}`, `registry:5000/team/redis:v7.4${digest}`, `redis${digest}`, `redis:latest${digest}`]) {
            const raw = rawConfig("prod");
            raw.cache.image = image;
            assert.deepStrictEqual(problemsOf(raw), [], image);
        }
        for (const image of ["redis:7.4.11-alpine", "registry:5000/team/redis:v7.4", "redis:7.4", "redis:7.4.1.2"]) {
            const dev = rawConfig("dev");
            dev.cache.image = image;
            assert.ok(!parseAskyConfig(dev).warnings.some((w) => w.includes(image)), image);
        }
        const raw = rawConfig("prod");
        raw.database.image = `postgres:16.6-bookworm${digest}`;
        assert.deepStrictEqual(problemsOf(raw), [], "the major version is read from the tag in front of the digest");
    });

    it("prod takes every image by digest: a full version tag alone is refused, naming the key, the image and the form to use (issue 22 item 7)", () => {
        for (const [key, set] of [["asky:cache.image", (c: any) => { c.cache.image = "redis:7.4.11-alpine"; }], ["asky:database.image", (c: any) => { c.database.image = "postgres:16.15-bookworm"; }],
            ["asky:monitoring.images.redisExporter", (c: any) => { c.monitoring.images.redisExporter = "oliver006/redis_exporter:v1.88.0"; }]] as [string, Mutation][]) {
            const raw = rawConfig("prod");
            set(raw);
            const problems = problemsOf(raw);
            assert.ok(problems.some((p) => p.startsWith(`${key} = "`) && /prod takes every image by digest .*@sha256:<digest> \(README: "Resolving image digests"\)/.test(p)), problems.join("\n"));
        }
        // The committed prod file's own images (with the overlay's examples): every one a digest.
        const { config } = parseAskyConfig(rawConfig("prod"));
        const images = [config.database.image, config.cache.image, config.gateway.image, ...Object.values(config.services).map((s) => s.image), ...Object.values(config.monitoring.images)];
        assert.deepStrictEqual(images.filter((i) => !parseImage(i).digest), []);
        assert.match(config.cache.image, /^redis:7\.4\.(\d+)-alpine@sha256:/);
        assert.ok(Number(/^redis:7\.4\.(\d+)/.exec(config.cache.image)![1]) >= 6, "past CVE-2025-49844 (fixed in 7.4.6)");
        assert.ok(Number(/^postgres:16\.(\d+)/.exec(config.database.image)![1]) >= 10, "past CVE-2025-8713/8714/8715 (fixed in 16.10)");
    });

    it("dev: a PostgreSQL image whose version the tag does not tell is a warning, not an error", () => {
        const raw = rawConfig("dev");
        raw.database.image = `postgres@sha256:${"c".repeat(64)}`;
        const { warnings } = parseAskyConfig(raw);
        assert.ok(warnings.some((w) => /asky:database\.image = .*cannot check PostgreSQL ≥ 15/.test(w)), warnings.join("\n"));
    });

    it("accepts numbers for quantities, as pulumi config set --path … 2 stores them", () => {
        const raw = rawConfig("dev");
        raw.services.auth.resources.limits.cpu = 2;
        raw.services.auth.resources.requests.cpu = 0.5;
        raw.database.resources.limits.memory = 1073741824;
        const { config } = parseAskyConfig(raw);
        assert.deepStrictEqual([config.services.auth.resources.limits.cpu, config.services.auth.resources.requests.cpu, config.database.resources.limits.memory], ["2", "0.5", "1073741824"]);
        raw.storage.size = -5;
        assert.match(problemsOf(raw).join("\n"), /asky:storage\.size = "-5": must be a Kubernetes quantity of bytes/);
    });

    it("the committed Pulumi.prod.yaml marks what each organisation must set: one error names every placeholder key, before any resource", async () => {
        const { config, secretKeys } = stackConfig("prod", {}, { overlay: false });
        const raw = Object.fromEntries(Object.entries(config).map(([k, v]) => [k.slice("asky:".length), JSON.parse(/^[[{"\d]|^(true|false)$/.test(v) ? v : JSON.stringify(v))]));
        let error: unknown;
        try { parseAskyConfig(raw); } catch (err) { error = err; }
        assert.ok(error instanceof ConfigError, String(error));
        assert.deepStrictEqual(error.problems.map((p) => p.split(":").slice(0, 2).join(":")), [
            "asky:kubeContext", "asky:storage.storageClass", "asky:services.auth.image", "asky:services.pyxis.image", "asky:services.request-management.image",
            "asky:gateway.image", "asky:gateway.tls.hostname",
            "asky:monitoring.images.nginxExporter", "asky:monitoring.images.logExporter", "asky:monitoring.images.postgresExporter", "asky:monitoring.images.redisExporter",
            "asky:backup.encryption.publicKey",
        ]);
        assert.match(error.message, /12 placeholder value\(s\) <REQUIRED: …>; nothing was deployed/);
        assert.match(error.message, /asky:services\.auth\.image: the auth image in your registry, pinned/);
        // The program itself: not one resource registered.
        pulumi.runtime.setAllConfig(config, secretKeys);
        let registered = 0;
        await pulumi.runtime.setMocks({ newResource: (a) => { registered++; return { id: a.name, state: a.inputs }; }, call: (a) => a.inputs }, "asky", "prod", false, "organization");
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const program: () => Promise<unknown> = require(path.join(__dirname, "..", "index.ts"));
        await assert.rejects(program(), /asky:kubeContext: the kubeconfig context of your production cluster/);
        assert.strictEqual(registered, 0);
    });

    it("the render overlay fills exactly the placeholders, and only the render and tests read it", () => {
        const overlay = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "scripts", "render-overlays", "prod.yaml"), "utf8")).config;
        const committed = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.prod.yaml"), "utf8")).config;
        const leaves = (v: any, p: string): string[] => (v && typeof v === "object" ? Object.entries(v).flatMap(([k, x]) => leaves(x, `${p}.${k}`)) : [p]);
        const placeholders = Object.entries(committed).flatMap(([k, v]) => leaves(v, k)).filter((p) => {
            const value = p.split(".").slice(1).reduce((o: any, k) => o?.[k], committed[p.split(".")[0]]);
            return typeof value === "string" && value.startsWith("<REQUIRED: ");
        });
        assert.deepStrictEqual(Object.entries(overlay).flatMap(([k, v]) => leaves(v, k)).sort(), placeholders.sort());
    });

    it("the render overlay never replaces a value the organisation has set", () => {
        const root = path.join(__dirname, "..");
        const stackFile = path.join(root, "Pulumi.overlay-test.yaml");
        const overlay = path.join(root, "scripts", "render-overlays", "overlay-test.yaml");
        fs.writeFileSync(stackFile, fs.readFileSync(path.join(root, "Pulumi.prod.yaml"), "utf8").replace(/asky:kubeContext: .*/, "asky:kubeContext: gke_hospital_prod"));
        fs.copyFileSync(path.join(root, "scripts", "render-overlays", "prod.yaml"), overlay);
        try {
            const { config, overlay: used } = stackConfig("overlay-test");
            assert.strictEqual(used, overlay);
            assert.strictEqual(config["asky:kubeContext"], "gke_hospital_prod");
            assert.strictEqual(JSON.parse(config["asky:services"]).auth.image, `registry.example.org/asky/auth:1.0.0@sha256:${"1".repeat(64)}`, "a placeholder is filled");
        } finally {
            fs.rmSync(stackFile, { force: true });
            fs.rmSync(overlay, { force: true });
        }
    });

    describe("secret values in errors (pulumi config set --secret)", () => {
        const load = (values: Record<string, unknown>, secretKeys: string[]) => {
            const { config } = stackConfig("dev", values);
            pulumi.runtime.setAllConfig(config, secretKeys);
            return readConfig;
        };
        after(() => pulumi.runtime.setAllConfig({}, []));

        it("prints [secret] for a secret key's value in a schema error", () => {
            const read = load({ "asky:kubeconfig": "", "asky:kubeContext": "" }, ["asky:kubeconfig"]);
            assert.throws(read, (err: ConfigError) => {
                assert.match(err.message, /asky:kubeconfig = \[secret\]: /);
                assert.match(err.message, /asky:kubeContext = "": /, "a plain key still shows its value");
                return true;
            });
        });

        it("prints [secret] wherever a cross-key rule would quote a value of a secret key", () => {
            const { config } = stackConfig("dev");
            const storage = { ...JSON.parse(config["asky:storage"]), hostPath: "/etc/s3cr3t-path" };
            const cache = JSON.parse(config["asky:cache"]);
            cache.resources.requests.memory = "77Mi";
            cache.resources.limits.memory = "11Mi";
            const read = load({ "asky:storage": storage, "asky:cache": cache }, ["asky:storage", "asky:cache"]);
            assert.throws(read, (err: ConfigError) => {
                assert.ok(!/s3cr3t|77Mi|11Mi/.test(err.message), err.message);
                assert.match(err.message, /asky:storage\.hostPath = \[secret\]: must be an absolute directory under/);
                return true;
            });
            const plain = load({ "asky:cache": cache }, []);
            assert.throws(plain, /asky:cache\.resources\.limits\.memory = "11Mi"/);
        });

        it("dev warns when firebaseServiceAccount sits in plain text in the stack file, not when it is a secret; the fix reads the file from stdin", () => {
            const warnings = (secret: boolean) => load({ "asky:firebaseServiceAccount": "{\"type\":\"service_account\"}" }, secret ? ["asky:firebaseServiceAccount"] : [])().warnings;
            assert.ok(warnings(false).some((w) => /asky:firebaseServiceAccount = \[a plain-text value\]: .*allowed only as a secret.*pulumi config set --secret asky:firebaseServiceAccount < serviceAccountKey\.json/.test(w)), warnings(false).join("\n"));
            assert.ok(!warnings(true).some((w) => /firebaseServiceAccount/.test(w)));
            assert.ok(!warnings(false).some((w) => /service_account|\$\(cat/.test(w)), "the warning never prints the value, nor suggests it on a command line");
        });

        it("prod refuses a plain-text firebaseServiceAccount (a private key in the stack file), before any resource", () => {
            const prod = (secret: boolean) => {
                const { config } = stackConfig("prod", { "asky:firebaseServiceAccount": "{\"type\":\"service_account\",\"private_key\":\"k\"}" });
                pulumi.runtime.setAllConfig(config, secret ? ["asky:firebaseServiceAccount"] : []);
                return readConfig;
            };
            assert.throws(prod(false), (err: ConfigError) => {
                assert.match(err.message, /nothing was deployed/);
                assert.match(err.message, /asky:firebaseServiceAccount = \[a plain-text value\]: it holds a private key, allowed only as a secret/);
                assert.match(err.message, /pulumi config set --secret asky:firebaseServiceAccount < serviceAccountKey\.json/);
                assert.ok(!/service_account|private_key/.test(err.message), "the error never prints the value");
                return true;
            });
            assert.doesNotThrow(prod(true));
        });
    });

    it("prod backups need an OpenPGP public key to encrypt to; a private key pasted there is refused outright (issue 22 item 5)", () => {
        const raw = rawConfig("prod");
        delete raw.backup.encryption;
        assert.ok(problemsOf(raw).some((p) => /asky:backup\.encryption\.publicKey = \(missing\): prod encrypts every dump .*pulumi config set --path 'asky:backup\.encryption\.publicKey' < backup-public\.asc/.test(p)), problemsOf(raw).join("\n"));
        raw.backup.encryption = { publicKey: "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGx\n-----END PGP PRIVATE KEY BLOCK-----\n" };
        const problems = problemsOf(raw);
        assert.ok(problems.some((p) => /asky:backup\.encryption\.publicKey = .*is a PRIVATE key: give the public one/.test(p)), problems.join("\n"));
        raw.backup.encryption = { publicKey: "ssh-ed25519 AAAA backup@host" };
        assert.ok(problemsOf(raw).some((p) => /asky:backup\.encryption\.publicKey = "ssh-ed25519 AAAA backup@host": must be an ASCII-armored OpenPGP public key/.test(p)));
    });

    it("prod with an organisation's TLS Secret needs its hostname: the redirect target and the services' Host never come from the client", () => {
        const raw = rawConfig("prod");
        delete raw.gateway.tls.hostname;
        assert.ok(problemsOf(raw).some((p) => /asky:gateway\.tls\.hostname = \(missing\): prod needs the public name clients use/.test(p)), problemsOf(raw).join("\n"));
        const dev = rawConfig("dev");
        dev.gateway.tls = { mode: "secret", secretName: "gateway-tls", nodePort: 30443 };
        assert.doesNotThrow(() => parseAskyConfig(dev), "dev may redirect to the host asked for");
    });

    describe("prod guardrails and break glass", () => {
        const guardrails: [string, Mutation, RegExp][] = [
            ["TLS off", (c) => { c.gateway.tls = { mode: "off" }; }, /asky:gateway\.tls\.mode = "off": not allowed in prod \(allowed: "secret" or "certManager"\): patient data and bearer tokens would cross the network in clear/],
            ["NetworkPolicies off", (c) => { c.networkPolicies = false; }, /asky:networkPolicies = false: not allowed in prod \(allowed: true\): every pod could reach every other/],
            ["protectData false", (c) => { c.protectData = false; }, /asky:protectData = false: not allowed in prod \(allowed: true\): pulumi destroy would delete the namespace, the database and its volume/],
            ["backups off", (c) => { c.backup.enabled = false; }, /asky:backup\.enabled = false: not allowed in prod \(allowed: true\): no backup of the database/],
        ];
        for (const [what, mutate, expected] of guardrails) {
            it(`prod refuses ${what}, naming the break-glass key that would lift it`, () => {
                const raw = rawConfig("prod");
                mutate(raw);
                const problems = problemsOf(raw);
                assert.ok(problems.some((p) => expected.test(p) && /pulumi config set --path 'asky:breakGlass\.\w+' '<why, who, ticket>'/.test(p)), problems.join("\n"));
                mutate(rawConfig("dev"));
            });
        }

        it("asky:breakGlass.<guardrail> with a reason lifts exactly that guardrail, with a loud warning on every run", () => {
            const raw = rawConfig("prod");
            raw.protectData = false;
            raw.networkPolicies = false;
            raw.breakGlass = { dataUnprotected: "decommissioning asky-prod, J. Silva, CHG-1234" };
            const problems = problemsOf(raw);
            assert.ok(!problems.some((p) => /asky:protectData/.test(p)), problems.join("\n"));
            assert.ok(problems.some((p) => /asky:networkPolicies = false: not allowed in prod/.test(p)), "another guardrail stays");
            raw.networkPolicies = true;
            const { warnings } = parseAskyConfig(raw);
            assert.ok(warnings.some((w) => /^BREAK GLASS: asky:breakGlass\.dataUnprotected lifts a prod guardrail: asky:protectData = false/.test(w) && /CHG-1234/.test(w)), warnings.join("\n"));
            assert.deepStrictEqual(prodGuardrails(parseAskyConfig(raw).config).lifted, ["dataUnprotected"]);
        });

        it("refuses a break-glass key that lifts nothing (dev, or a guardrail that is on), one without a real reason, or an unknown guardrail", () => {
            const dev = rawConfig("dev");
            dev.breakGlass = { tlsOff: "dev has no certificate, A. Lima, n/a" };
            assert.ok(problemsOf(dev).some((p) => /asky:breakGlass\.tlsOff = .*lifts nothing \(guardrails apply to prod only\); remove the key/.test(p)), problemsOf(dev).join("\n"));
            const prod = rawConfig("prod");
            prod.breakGlass = { backupsOff: "backups are made by the storage team, CHG-9" };
            assert.ok(problemsOf(prod).some((p) => /asky:breakGlass\.backupsOff = .*lifts nothing \(asky:backup\.enabled is not false\)/.test(p)), problemsOf(prod).join("\n"));
            prod.backup.enabled = false;
            prod.breakGlass = { backupsOff: "because" };
            assert.ok(problemsOf(prod).some((p) => /asky:breakGlass\.backupsOff = "because": must say why, who and which ticket/.test(p)), problemsOf(prod).join("\n"));
            prod.breakGlass = { policyPackOff: "no pack today, anybody, none" };
            assert.ok(problemsOf(prod).some((p) => /asky:breakGlass\.policyPackOff: unknown key; allowed here: tlsOff, networkPoliciesOff, dataUnprotected, backupsOff/.test(p)), problemsOf(prod).join("\n"));
        });
    });

    it("reads quantities in base units", () => {
        assert.deepStrictEqual(["250m", "2", "1.5", "128Mi", "1Gi", "5G", "64k"].map(parseQuantity), [0.25, 2, 1.5, 134217728, 1073741824, 5e9, 64000]);
        assert.throws(() => parseQuantity("5GB"), /not a Kubernetes quantity/);
    });

    it("parses image references (registry ports are not tags)", () => {
        assert.deepStrictEqual(parseImage("registry:5000/asky/auth"), { repository: "registry:5000/asky/auth", digest: undefined });
        assert.deepStrictEqual(parseImage("redis:7.4.1-alpine"), { repository: "redis", tag: "7.4.1-alpine", digest: undefined });
        const digest = "sha256:" + "a".repeat(64);
        assert.strictEqual(parseImage(`repo@${digest}`).digest, digest);
    });

    it("rejects an unknown top-level key and creates no resource", async () => {
        await assert.rejects(renderStack("dev", { "asky:replicaCount": 3 }), (err: Error) => {
            assert.match(err.message, /asky:replicaCount: unknown key; allowed: environment, namespace/);
            return true;
        });
    });

    it("refuses the stack-config key the policy pack no longer reads (asky-checklist:enforcement): it would look like it changes a level and change none", async () => {
        for (const stack of ["dev", "prod"]) {
            await assert.rejects(renderStack(stack, { "asky-checklist:enforcement": { "POD-6": "disabled" } }), (err: Error) => {
                assert.match(err.message, /asky-checklist:enforcement: no longer read: the policy pack takes its levels from policy\/<environment>\.json \(--policy-pack-config\), and no stack config changes them .*pulumi config rm asky-checklist:enforcement/);
                return true;
            }, stack);
        }
    });

    it("the program itself fails before registering any resource", async () => {
        const { config, secretKeys } = stackConfig("prod", { "asky:services": { ...rawConfig("prod").services, auth: { ...rawConfig("prod").services.auth, image: "x:latest" } } });
        pulumi.runtime.setAllConfig(config, secretKeys);
        let registered = 0;
        await pulumi.runtime.setMocks({ newResource: (a) => { registered++; return { id: a.name, state: a.inputs }; }, call: (a) => a.inputs }, "asky", "prod", false);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const program: () => Promise<unknown> = require(path.join(__dirname, "..", "index.ts"));
        await assert.rejects(program(), /asky:services\.auth\.image = "x:latest"/);
        assert.strictEqual(registered, 0);
    });

    it("a bad seeded user fails before any resource, with its key path (no longer inside AskyDatabase)", async () => {
        const database = rawConfig("dev").database;
        database.users[0].email = "admin.x@asky.local";
        database.users[1].email = "admin-x@asky.local";
        const { config, secretKeys } = stackConfig("dev", { "asky:database": database });
        pulumi.runtime.setAllConfig(config, secretKeys);
        let registered = 0;
        await pulumi.runtime.setMocks({ newResource: (a) => { registered++; return { id: a.name, state: a.inputs }; }, call: (a) => a.inputs }, "asky", "dev", false);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const program: () => Promise<unknown> = require(path.join(__dirname, "..", "index.ts"));
        await assert.rejects(program(), /asky:database\.users\[1\]\.email = "admin-x@asky\.local": maps to the same password variable ASKY_USER_PASSWORD_ADMIN_X_ASKY_LOCAL/);
        assert.strictEqual(registered, 0);
    });
});

describe("storage and environment a deployed stack keeps (config/storage.ts)", () => {
    const dev = () => parseAskyConfig(rawConfig("dev")).config;
    const withChange = (change: (c: Record<string, any>) => void) => {
        const raw = rawConfig("dev");
        change(raw);
        return parseAskyConfig(raw).config;
    };
    const deployed = (): DeployedStorage => ({
        database: { claimName: "postgres-pv-claim", storageClass: "manual", size: "5Gi", hostPath: "/mnt/data" },
        backup: { claimName: "postgres-backup", size: "2Gi" },
    });
    const backupOn = (c: Record<string, any>) => { c.backup.enabled = true; };

    it("records what the config creates: the database claim, and the backup claim only when backups are on", () => {
        assert.deepStrictEqual(storageRecord(dev()), { database: { claimName: "postgres-pv-claim", storageClass: "manual", size: "5Gi", hostPath: "/mnt/data" } });
        assert.deepStrictEqual(storageRecord(withChange((c) => { backupOn(c); c.backup.storageClass = "fast"; })).backup, { claimName: "postgres-backup", size: "2Gi", storageClass: "fast" });
        assert.deepStrictEqual(storageRecord(withChange(backupOn)).backup, { claimName: "postgres-backup", size: "2Gi" });
        const prod = parseAskyConfig(rawConfig("prod")).config;
        assert.ok(!("hostPath" in storageRecord(prod).database), "no hostPath key in prod");
    });

    it("accepts the same storage, a larger claim, and any change under a new claim name", () => {
        assert.deepStrictEqual(storageChangeProblems(deployed(), withChange(backupOn)), []);
        assert.deepStrictEqual(storageChangeProblems(deployed(), withChange((c) => { backupOn(c); c.storage.size = "6Gi"; c.backup.storageSize = "3Gi"; })), []);
        assert.deepStrictEqual(storageChangeProblems(deployed(), withChange((c) => { c.storage.claimName = "postgres-v2"; c.storage.size = "1Gi"; c.storage.hostPath = "/mnt/data2"; })), []);
        assert.deepStrictEqual(storageChangeProblems(deployed(), withChange((c) => { backupOn(c); c.backup.claimName = "backup-v2"; c.backup.storageSize = "1Gi"; c.backup.storageClass = "fast"; })), []);
        assert.deepStrictEqual(storageChangeProblems({ database: deployed().database }, withChange((c) => { backupOn(c); c.backup.storageClass = "fast"; })), [], "no backup claim yet");
        assert.deepStrictEqual(storageChangeProblems(deployed(), withChange((c) => { c.backup.enabled = false; })), [], "backups switched off");
    });

    it("refuses, naming the key and the deployed value, each change a claim cannot take in place", () => {
        const problems = (change: (c: Record<string, any>) => void) => storageChangeProblems(deployed(), withChange(change)).join("\n");
        assert.match(problems((c) => { c.storage.storageClass = "standard"; delete c.storage.hostPath; }),
            /^asky:storage\.storageClass = "standard": the claim postgres-pv-claim was created with class "manual" and Kubernetes cannot change a claim's class in place .* Keep "manual", or move the database to a new claim with a new asky:storage\.claimName \(README: "Moving the database to a new volume"\)/m);
        assert.match(problems((c) => { c.storage.hostPath = "/mnt/other"; }),
            /^asky:storage\.hostPath = "\/mnt\/other": the volume of the claim postgres-pv-claim is the node directory "\/mnt\/data"; a PersistentVolume's path cannot change in place\. Keep "\/mnt\/data"/m);
        assert.match(problems((c) => { c.storage.size = "4Gi"; }),
            /^asky:storage\.size = "4Gi": the claim postgres-pv-claim already has "5Gi" and a claim never shrinks\. Keep ≥ "5Gi"/m);
        assert.match(problems((c) => { backupOn(c); c.backup.storageClass = "fast"; }),
            /^asky:backup\.storageClass = "fast": the backup claim postgres-backup was created with class \(unset\), which cannot change in place/m);
        assert.match(problems((c) => { backupOn(c); c.backup.storageSize = "1Gi"; }),
            /^asky:backup\.storageSize = "1Gi": the backup claim postgres-backup already has "2Gi" and a claim never shrinks\. Keep ≥ "2Gi", or start a new claim with a new asky:backup\.claimName/m);
        assert.equal(storageChangeProblems(deployed(), withChange((c) => { c.storage.storageClass = "standard"; delete c.storage.hostPath; c.storage.size = "1Gi"; })).length, 3);
    });

    it("keeps a stack's environment for its whole life", () => {
        assert.deepStrictEqual(environmentChangeProblems("dev", dev()), []);
        const [problem, ...rest] = environmentChangeProblems("prod", dev());
        assert.deepStrictEqual(rest, []);
        assert.match(problem, /^asky:environment = "dev": this stack was deployed as "prod", and a stack keeps its environment for its whole life \(allowed: "prod"\)\. Set it back; for a dev deployment create another stack/);
    });
});

// The edges of every bound and format config/ checks, both sides: the last value a rule accepts and the
// first it refuses, with the message an operator reads (key path, value, what is allowed). The mutation
// run over config/ (npm run test:mutation -- config) showed which of them no spec asserted.
import * as assert from "assert";
import { ConfigError, awaitsLoadBalancer, isPinnedImage, parseAskyConfig, parseQuantity, postgresMajor, prodGuardrails } from "../config";
import { configProblems, rawStackConfig } from "./support/render";

type Stack = "dev" | "prod";
type Change = (c: Record<string, any>) => void;

const configWith = (stack: Stack, change: Change) => {
    const raw = rawStackConfig(stack);
    change(raw);
    return raw;
};
const problems = (stack: Stack, change: Change) => configProblems(configWith(stack, change));
const parsed = (stack: Stack, change: Change) => parseAskyConfig(configWith(stack, change));

/** A dev config with an off-site copy whose own fields the change sets (encryption on, as the cross-check wants). */
const PUBLIC_KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGT0ZXN0AQgA\n-----END PGP PUBLIC KEY BLOCK-----\n";
const offsite = (fields: Record<string, unknown>): Change => (c) => {
    c.backup.enabled = true;
    c.backup.encryption = { publicKey: PUBLIC_KEY };
    c.backup.offsite = {
        endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "asky-backups", credentialsSecret: "s3-credentials",
        cidrs: ["52.95.128.0/21"], image: "rclone/rclone:1.68.2", ...fields,
    };
};

/** Refused values: [what, stack, change, the one message expected (it must be the only problem)]. */
const refused: [string, Stack, Change, RegExp][] = [
    // Formats: anchored at both ends, so a valid part inside a bad value is not enough.
    ["an off-site endpoint over http", "dev", offsite({ endpoint: "http://s3.example.org" }), /^asky:backup\.offsite\.endpoint = "http:\/\/s3\.example\.org": must be an https:\/\/ S3 endpoint on port 443/],
    ["an off-site endpoint with a path", "dev", offsite({ endpoint: "https://s3.example.org/bucket" }), /^asky:backup\.offsite\.endpoint = .*: must be an https:\/\/ S3 endpoint/],
    ["an off-site endpoint with text before the scheme", "dev", offsite({ endpoint: "xhttps://s3.example.org" }), /^asky:backup\.offsite\.endpoint = .*: must be an https:\/\/ S3 endpoint/],
    ["a bucket starting with '-'", "dev", offsite({ bucket: "-asky-backups" }), /^asky:backup\.offsite\.bucket = "-asky-backups": must be an S3 bucket name \(3-63 lower-case letters, digits, '\.', '-'\)$/],
    ["a bucket ending with '-'", "dev", offsite({ bucket: "asky-backups-" }), /^asky:backup\.offsite\.bucket = "asky-backups-": must be an S3 bucket name/],
    ["a bucket of two characters", "dev", offsite({ bucket: "ab" }), /^asky:backup\.offsite\.bucket = "ab": must be an S3 bucket name/],
    ["a prefix without its trailing '/'", "dev", offsite({ prefix: "asky-prod" }), /^asky:backup\.offsite\.prefix = "asky-prod": must be empty or path segments each ending in '\/', e\.g\. asky-prod\/$/],
    ["a prefix with a space", "dev", offsite({ prefix: "asky prod/" }), /^asky:backup\.offsite\.prefix = "asky prod\/": must be empty or path segments/],
    ["a region in capitals", "dev", offsite({ region: "EU-WEST-1" }), /^asky:backup\.offsite\.region = "EU-WEST-1": must be a region name such as eu-west-1$/],
    ["a region with text after it", "dev", offsite({ region: "eu-west-1 " }), /^asky:backup\.offsite\.region = "eu-west-1 ": must be a region name/],
    ["a CIDR without its mask", "dev", offsite({ cidrs: ["52.95.128.0"] }), /^asky:backup\.offsite\.cidrs\[0\] = "52\.95\.128\.0": must be an IPv4 CIDR such as 52\.95\.128\.0\/21$/],
    ["a CIDR with text before it", "dev", offsite({ cidrs: ["x52.95.128.0/21"] }), /^asky:backup\.offsite\.cidrs\[0\] = "x52\.95\.128\.0\/21": must be an IPv4 CIDR/],
    ["a CIDR with text after it", "dev", offsite({ cidrs: ["52.95.128.0/21x"] }), /^asky:backup\.offsite\.cidrs\[0\] = "52\.95\.128\.0\/21x": must be an IPv4 CIDR/],
    ["no CIDR for the off-site endpoint", "dev", offsite({ cidrs: [] }), /^asky:backup\.offsite\.cidrs = \[\]: must list the endpoint's address ranges$/],
    ["a moving off-site image in prod", "prod", offsite({ image: "rclone/rclone:latest" }), /^asky:backup\.offsite\.image = "rclone\/rclone:latest": prod requires a pinned image/],
    ["a label key starting with '-'", "dev", (c) => { c.monitoring.operatorLabels = { "-release": "x" }; }, /^asky:monitoring\.operatorLabels\.-release = "-release": must be a label key such as app\.kubernetes\.io\/name or release$/],
    ["a label key ending with '-'", "dev", (c) => { c.monitoring.operatorLabels = { "release-": "x" }; }, /^asky:monitoring\.operatorLabels\.release- = "release-": must be a label key/],
    ["a label value starting with '-'", "dev", (c) => { c.monitoring.operatorLabels = { release: "-x" }; }, /^asky:monitoring\.operatorLabels\.release = "-x": must be a label value: up to 63 letters, digits, '-', '_' or '\.', starting and ending with a letter or digit$/],
    ["a label value ending with '.'", "dev", (c) => { c.monitoring.operatorLabels = { release: "x." }; }, /^asky:monitoring\.operatorLabels\.release = "x\.": must be a label value/],
    ["an empty scraper selector", "dev", (c) => { c.monitoring.scraper.podLabels = {}; }, /^asky:monitoring\.scraper\.podLabels = \{\}: must name at least one label: an empty selector would admit every pod of the namespace$/],
    ["a scrape interval of 0s", "dev", (c) => { c.monitoring.scrapeInterval = "0s"; }, /^asky:monitoring\.scrapeInterval = "0s": must be a Prometheus duration such as 15s or 1m$/],
    ["a scrape interval without a unit", "dev", (c) => { c.monitoring.scrapeInterval = "15"; }, /^asky:monitoring\.scrapeInterval = "15": must be a Prometheus duration/],
    ["a scrape interval with text before it", "dev", (c) => { c.monitoring.scrapeInterval = "x15s"; }, /^asky:monitoring\.scrapeInterval = "x15s": must be a Prometheus duration/],
    ["a scrape interval with text after it", "dev", (c) => { c.monitoring.scrapeInterval = "15sx"; }, /^asky:monitoring\.scrapeInterval = "15sx": must be a Prometheus duration/],
    ["a database name in capitals", "dev", (c) => { c.database.name = "Asky"; }, /^asky:database\.name = "Asky": must be a lower-case SQL identifier$/],
    ["a database name starting with a digit", "dev", (c) => { c.database.name = "1asky"; }, /^asky:database\.name = "1asky": must be a lower-case SQL identifier$/],
    ["a database name with a '-'", "dev", (c) => { c.database.name = "asky-db"; }, /^asky:database\.name = "asky-db": must be a lower-case SQL identifier$/],
    ["an image name in capitals", "dev", (c) => { c.cache.image = "Redis:7.4.1"; }, /^asky:cache\.image = "Redis:7\.4\.1": must be an image reference such as registry\/repo:tag or repo@sha256:<digest>$/],
    ["an image with a trailing '!'", "dev", (c) => { c.cache.image = "redis:7.4.1!"; }, /^asky:cache\.image = "redis:7\.4\.1!": must be an image reference/],
    ["port 0", "dev", (c) => { c.services.auth.port = 0; }, /^asky:services\.auth\.port = 0: must be a port from 1 to 65535$/],
    ["a relative probe path", "dev", (c) => { c.services.pyxis.probe = { kind: "http", path: "api/health" }; }, /^asky:services\.pyxis\.probe\.path = "api\/health": must be an absolute URL path$/],
    ["a token lifetime of 1 hour", "dev", (c) => { c.serviceToken = { lifetimeHours: 1, rotationHours: 1 }; }, /^asky:serviceToken\.lifetimeHours = 1: must be a whole number of hours from 2 to 720$/],
    ["a token lifetime of 2.5 hours", "dev", (c) => { c.serviceToken = { lifetimeHours: 2.5, rotationHours: 1 }; }, /^asky:serviceToken\.lifetimeHours = 2\.5: must be a whole number of hours from 2 to 720$/],
    ["a rotation of 720 hours", "dev", (c) => { c.serviceToken = { lifetimeHours: 720, rotationHours: 720 }; }, /^asky:serviceToken\.rotationHours = 720: must be a whole number of hours from 1 to 719$/],
    ["a five-field cron schedule without its last field", "dev", (c) => { c.backup.schedule = "15 2 * *"; }, /^asky:backup\.schedule = "15 2 \* \*": must be a cron schedule with five fields \(e\.g\. '15 2 \* \* \*'\) or @daily$/],
    ["a guardrail name that does not exist", "dev", (c) => { c.breakGlass = { everything: "lifted for INC-1234 by the on-call, see ticket" }; }, /^asky:breakGlass\.everything: unknown key; allowed here: tlsOff, networkPoliciesOff, dataUnprotected, backupsOff$/],
    ["a break-glass reason of spaces", "prod", (c) => { c.breakGlass = { tlsOff: " ".repeat(30) + "x" }; c.gateway.tls = { mode: "off" }; }, /^asky:breakGlass\.tlsOff = ".*x": must say why, who and which ticket \(at least 20 characters\)$/],
    ["a public key with text before it", "dev", (c) => { c.backup.encryption = { publicKey: "junk\n" + PUBLIC_KEY }; }, /^asky:backup\.encryption\.publicKey = .*: must be an ASCII-armored OpenPGP public key/],
    ["a public key with text after it", "dev", (c) => { c.backup.encryption = { publicKey: PUBLIC_KEY + "junk\n" }; }, /^asky:backup\.encryption\.publicKey = .*: must be an ASCII-armored OpenPGP public key/],
    ["a namespace of 64 characters", "dev", (c) => { c.namespace = "a".repeat(64); }, /^asky:namespace = "a{64}": must be at most 63 characters$/],
    ["a namespace ending with '-'", "dev", (c) => { c.namespace = "asky-"; }, /^asky:namespace = "asky-": must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit$/],
    ["a hostPath with a '.' segment", "dev", (c) => { c.storage.hostPath = "/mnt/./data"; }, /^asky:storage\.hostPath = "\/mnt\/\.\/data": must be an absolute directory under \/mnt\/, \/data\/, \/srv\/ without '\.', '\.\.', '\/\/' or a trailing '\/'$/],
    ["a node port above the range", "dev", (c) => { c.gateway.nodePort = 32768; }, /^asky:gateway\.nodePort = 32768: must be a node port from 30000 to 32767$/],
    ["an HTTPS node port below the range", "dev", (c) => { c.gateway.tls = { mode: "selfSigned", secretName: "asky-tls", hostname: "asky.local", nodePort: 8443 }; }, /^asky:gateway\.tls\.nodePort = 8443: must be a node port from 30000 to 32767$/],
    ["an HTTPS node port above the range", "dev", (c) => { c.gateway.tls = { mode: "selfSigned", secretName: "asky-tls", hostname: "asky.local", nodePort: 32768 }; }, /^asky:gateway\.tls\.nodePort = 32768: must be a node port from 30000 to 32767$/],
    ["a TLS Secret name starting with '-'", "dev", (c) => { c.gateway.tls = { mode: "secret", secretName: "-asky-tls", nodePort: 30443 }; }, /^asky:gateway\.tls\.secretName = "-asky-tls": must be a Kubernetes object name/],
    ["a self-signed certificate of 0 days", "dev", (c) => { c.gateway.tls = { mode: "selfSigned", secretName: "asky-tls", hostname: "asky.local", nodePort: 30443, validityDays: 0 }; }, /^asky:gateway\.tls\.validityDays = 0: /],
    ["a self-signed certificate of 398 days", "dev", (c) => { c.gateway.tls = { mode: "selfSigned", secretName: "asky-tls", hostname: "asky.local", nodePort: 30443, validityDays: 398 }; }, /^asky:gateway\.tls\.validityDays = 398: /],
    ["a login burst that is not a number", "dev", (c) => { c.gateway.limits.loginBurst = "ten"; }, /^asky:gateway\.limits\.loginBurst = "ten": must be an integer from 0 to 10000$/],
    ["a login burst of 2.5", "dev", (c) => { c.gateway.limits.loginBurst = 2.5; }, /^asky:gateway\.limits\.loginBurst = 2\.5: must be an integer from 0 to 10000$/],
    ["a login burst of -1", "dev", (c) => { c.gateway.limits.loginBurst = -1; }, /^asky:gateway\.limits\.loginBurst = -1: must be an integer from 0 to 10000$/],
    ["kept-alive connections above their bound", "dev", (c) => { c.gateway.limits.keepaliveConnections = 1025; }, /^asky:gateway\.limits\.keepaliveConnections = 1025: must be an integer from 1 to 1024$/],
    ["a body limit of 0 (no limit)", "dev", (c) => { c.gateway.limits.clientMaxBodySize = "0"; }, /^asky:gateway\.limits\.clientMaxBodySize = "0": must be an NGINX size from 1 byte to 1g/],
    ["a body limit above 1g", "dev", (c) => { c.gateway.limits.clientMaxBodySize = "1025m"; }, /^asky:gateway\.limits\.clientMaxBodySize = "1025m": must be an NGINX size from 1 byte to 1g/],
    ["a storage size with a letter for its decimals", "dev", (c) => { c.storage.size = "1.xGi"; }, /^asky:storage\.size = "1\.xGi": must be a Kubernetes quantity of bytes such as 512Mi or 5Gi$/],
    ["a negative CPU", "dev", (c) => { c.services.auth.resources.requests.cpu = "-1"; }, /^asky:services\.auth\.resources\.requests\.cpu = "-1": must be a CPU quantity such as 250m or 1$/],
    ["a CPU with text after it", "dev", (c) => { c.services.auth.resources.requests.cpu = "1x"; }, /^asky:services\.auth\.resources\.requests\.cpu = "1x": must be a CPU quantity/],
    // Cross-checks at their boundary.
    ["a size of exactly 8Ei", "dev", (c) => { c.storage.size = "8Ei"; }, /^asky:storage\.size = "8Ei": must be more than 0 and less than 8Ei, e\.g\. 5Gi$/],
    ["a database CPU request above its limit", "dev", (c) => { c.database.resources.requests.cpu = "4"; }, /^asky:database\.resources\.requests\.cpu = "4": must not exceed asky:database\.resources\.limits\.cpu \(/],
    ["65 NGINX workers", "dev", (c) => { c.gateway.resources.limits.cpu = "65"; c.gateway.resources.limits.memory = "8Gi"; }, /^asky:gateway\.resources\.limits\.cpu = "65": at most 64 CPUs \(one NGINX worker each\)$/],
    ["a gateway memory limit too small for two workers", "dev", (c) => { c.gateway.resources.limits.cpu = "2"; c.gateway.resources.limits.memory = "48Mi"; c.gateway.resources.requests.memory = "32Mi"; }, /^asky:gateway\.resources\.limits\.memory = "48Mi": at least 64Mi for 2 NGINX worker\(s\) \(1024 connections each, 16 KiB per connection in half the memory\)$/],
    ["kept-alive connections times 3 equal to the connections per worker", "dev", (c) => { c.gateway.resources.limits.memory = "48Mi"; c.gateway.resources.requests.memory = "32Mi"; c.gateway.limits.keepaliveConnections = 512; }, /^asky:gateway\.limits\.keepaliveConnections = 512: times 3 upstreams must stay below the 1536 connections per worker/],
    ["awaitLoadBalancer with a NodePort", "dev", (c) => { c.gateway.awaitLoadBalancer = false; }, /^asky:gateway\.awaitLoadBalancer = false: only allowed with asky:gateway\.exposure "LoadBalancer", not "NodePort"$/],
    ["a self-signed certificate in prod", "prod", (c) => { c.gateway.tls = { mode: "selfSigned", secretName: "asky-tls", hostname: "asky.example.org" }; }, /^asky:gateway\.tls\.mode = "selfSigned": dev only; prod needs a certificate clients trust \("secret" or "certManager"\)$/],
    ["a break-glass key in dev", "dev", (c) => { c.breakGlass = { tlsOff: "INC-1234: cert renewal broken, on-call" }; }, /^asky:breakGlass\.tlsOff = "INC-1234: cert renewal broken, on-call": lifts nothing \(guardrails apply to prod only\); remove the key$/],
    ["a break-glass key in prod whose guardrail is on", "prod", (c) => { c.breakGlass = { networkPoliciesOff: "INC-1234: CNI migration, on-call" }; }, /^asky:breakGlass\.networkPoliciesOff = .*: lifts nothing \(asky:networkPolicies is not false\); remove the key$/],
];

/** Values at the accepting edge of a rule, each parsed without a problem. */
const accepted: [string, Stack, Change, (config: Record<string, any>) => void][] = [
    ["an off-site copy with every field at a valid edge", "dev", offsite({ endpoint: "https://s3.example.org:443/", bucket: "a-b", prefix: "asky/prod-2/", region: "eu-west-1", cidrs: ["192.0.2.100/32"] }), (c) => {
        assert.deepStrictEqual([c.backup.offsite.prefix, c.backup.offsite.region], ["asky/prod-2/", "eu-west-1"]);
    }],
    ["an off-site copy with prefix and region left out", "dev", offsite({}), (c) => {
        assert.deepStrictEqual([c.backup.offsite.prefix, c.backup.offsite.region], ["", "us-east-1"]);
    }],
    ["one-character label keys and values, a prefixed key, an empty value", "dev", (c) => { c.monitoring.operatorLabels = { a: "b", "x/release": "", "example.org/tier": "1" }; }, (c) => {
        assert.deepStrictEqual(c.monitoring.operatorLabels, { a: "b", "x/release": "", "example.org/tier": "1" });
    }],
    ["a scrape interval of one digit", "dev", (c) => { c.monitoring.scrapeInterval = "5s"; }, () => undefined],
    ["a scrape interval of 120s", "dev", (c) => { c.monitoring.scrapeInterval = "120s"; }, () => undefined],
    ["a cron schedule with two spaces and a range", "dev", (c) => { c.backup.schedule = "15  2 * * 1-5"; }, (c) => assert.strictEqual(c.backup.schedule, "15  2 * * 1-5")],
    ["a public key with leading blank lines", "dev", (c) => { c.backup.encryption = { publicKey: "\n  " + PUBLIC_KEY }; }, () => undefined],
    ["a one-letter namespace", "dev", (c) => { c.namespace = "a"; }, () => undefined],
    ["a namespace that only contains 'default' or 'kube-'", "dev", (c) => { c.namespace = "my-default"; }, () => undefined],
    ["a namespace ending in kube-x", "dev", (c) => { c.namespace = "asky-kube-x"; }, () => undefined],
    ["a size of 1 byte", "dev", (c) => { c.storage.size = "1"; }, () => undefined],
    ["a size with two decimals", "dev", (c) => { c.storage.size = "1.25Gi"; }, () => undefined],
    ["a CPU with two decimals", "dev", (c) => { c.services.auth.resources.requests.cpu = "0.25"; }, () => undefined],
    ["requests equal to limits", "dev", (c) => { c.cache.resources.requests = { ...c.cache.resources.limits }; }, () => undefined],
    ["PostgreSQL 15", "dev", (c) => { c.database.image = "postgres:15.8-bookworm"; }, () => undefined],
    ["Redis at exactly 16Mi", "dev", (c) => { c.cache.resources.limits.memory = "16Mi"; c.cache.resources.requests.memory = "16Mi"; }, () => undefined],
    ["64 NGINX workers", "dev", (c) => { c.gateway.resources.limits.cpu = "64"; c.gateway.resources.limits.memory = "4Gi"; }, () => undefined],
    ["/tmp exactly as large as every large-body slot full plus 16Mi", "dev", (c) => { c.gateway.resources.limits.ephemeralStorage = "48Mi"; }, () => undefined],
    ["kept-alive connections times 3 just below the connections per worker", "dev", (c) => { c.gateway.resources.limits.memory = "48Mi"; c.gateway.resources.requests.memory = "32Mi"; c.gateway.limits.keepaliveConnections = 511; }, () => undefined],
    ["a body limit of 1 byte", "dev", (c) => { c.gateway.limits.clientMaxBodySize = "1"; }, () => undefined],
    ["a body limit of 1g", "dev", (c) => { c.gateway.limits.clientMaxBodySize = "1g"; c.gateway.limits.largeBodySlots = 1; c.gateway.limits.largeBodySlotsPerClient = 1; c.gateway.resources.limits.ephemeralStorage = "2Gi"; }, () => undefined],
    ["a self-signed certificate of 30 days, its name in capitals", "dev", (c) => { c.gateway.tls = { mode: "selfSigned", secretName: "asky-tls", hostname: "Asky.Example.ORG", nodePort: 30443, validityDays: 30 }; }, (c) => {
        assert.deepStrictEqual([c.gateway.tls.hostname, c.gateway.tls.validityDays], ["asky.example.org", 30]);
    }],
    ["a prod LoadBalancer that says to await its address", "prod", (c) => { c.gateway.awaitLoadBalancer = true; }, () => undefined],
    ["a backup claim name left out", "dev", (c) => { delete c.backup.claimName; }, (c) => assert.strictEqual(c.backup.claimName, "postgres-backup")],
    ["the DNS egress left out", "dev", (c) => { delete c.dnsEgress; }, (c) => assert.deepStrictEqual(c.dnsEgress, { nodeLocalDnsCache: true, gkeMetadataServer: false })],
];

describe("config edges (config/): each rule's last accepted and first refused value", () => {
    for (const [what, stack, change, expected] of refused) {
        it(`refuses ${what} (${stack}), with one message naming the key, the value and what is allowed`, () => {
            const found = problems(stack, change);
            assert.strictEqual(found.length, 1, `expected one problem, got:\n${found.join("\n")}`);
            assert.match(found[0], expected);
        });
    }
    for (const [what, stack, change, check] of accepted) {
        it(`accepts ${what} (${stack})`, () => {
            const found = problems(stack, change);
            assert.deepStrictEqual(found, []);
            check(parsed(stack, change).config as Record<string, any>);
        });
    }

    it("the committed prod stack parses with no warning and no guardrail lifted; dev warns only about its moving service tags", () => {
        assert.deepStrictEqual(parseAskyConfig(rawStackConfig("prod")).warnings, []);
        assert.deepStrictEqual(prodGuardrails(parseAskyConfig(rawStackConfig("prod")).config), { problems: [], warnings: [], lifted: [] });
        assert.deepStrictEqual(parseAskyConfig(rawStackConfig("dev")).warnings, ["auth", "pyxis", "request-management"].map((s) =>
            `asky:services.${s}.image = "elisaflemer/asky-${s.replace("-", "_")}:latest" follows a moving tag; allowed in dev only (POD-11)`));
    });

    it("dev backups without encryption warn that the dumps are written unencrypted; without backups, no such warning", () => {
        const unencrypted = "asky:backup.encryption is not set: the dev dumps are written unencrypted";
        assert.ok(parsed("dev", (c) => { c.backup.enabled = true; }).warnings.includes(unencrypted));
        assert.ok(!parsed("dev", (c) => { c.backup.enabled = false; }).warnings.includes(unencrypted));
        assert.ok(!parsed("dev", (c) => { c.backup.enabled = true; c.backup.encryption = { publicKey: PUBLIC_KEY }; }).warnings.includes(unencrypted));
    });

    it("a dev LoadBalancer warns that nothing waits for its address, unless awaitLoadBalancer says; a NodePort does not", () => {
        const lb = (w: readonly string[]) => w.filter((m) => m.startsWith('asky:gateway.exposure is "LoadBalancer" in dev'));
        const loadBalancer: Change = (c) => { c.gateway.exposure = "LoadBalancer"; delete c.gateway.nodePort; };
        assert.strictEqual(lb(parsed("dev", loadBalancer).warnings).length, 1);
        assert.deepStrictEqual(lb(parsed("dev", (c) => { loadBalancer(c); c.gateway.awaitLoadBalancer = true; }).warnings), []);
        assert.deepStrictEqual(lb(parsed("dev", () => undefined).warnings), []);
        assert.strictEqual(awaitsLoadBalancer(parsed("dev", loadBalancer).config), false);
        assert.strictEqual(awaitsLoadBalancer(parsed("dev", (c) => { loadBalancer(c); c.gateway.awaitLoadBalancer = true; }).config), true);
        assert.strictEqual(awaitsLoadBalancer(parsed("prod", () => undefined).config), true);
        assert.strictEqual(awaitsLoadBalancer(parsed("prod", (c) => { c.gateway.exposure = "NodePort"; c.gateway.tls.nodePort = 30443; }).config), false);
    });

    it("a malformed size gets the format message alone, not also a bound it cannot be compared with", () => {
        assert.deepStrictEqual(problems("dev", (c) => { c.storage.size = "5GB"; }), ['asky:storage.size = "5GB": must be a Kubernetes quantity of bytes such as 512Mi or 5Gi']);
    });

    it("an unknown key names what is allowed there: in a list's element, in a TLS mode's fields", () => {
        assert.deepStrictEqual(problems("dev", (c) => { c.database.users[0].password = "x"; }), ["asky:database.users[0].password: unknown key; allowed here: name, email, phoneNumber, role"]);
        assert.deepStrictEqual(problems("dev", (c) => { c.gateway.tls = { mode: "off", cert: "x" }; }),
            ["asky:gateway.tls.cert: unknown key; allowed here: mode, secretName, hostname, nodePort, issuer, validityDays"]);
    });

    it("a value longer than 80 characters is shown cut at 77 with '...'; one of 80 in full", () => {
        const [long] = problems("dev", (c) => { c.namespace = "A".repeat(100); });
        assert.ok(long.startsWith(`asky:namespace = "${"A".repeat(76)}...: `), long);
        const [eighty] = problems("dev", (c) => { c.database.name = "A".repeat(78); });
        assert.ok(eighty.startsWith(`asky:database.name = "${"A".repeat(78)}": `), eighty);
    });

    it("a null value is a config error naming its key, not a crash", () => {
        assert.deepStrictEqual(problems("dev", (c) => { c.kubeconfig = null; }), ["asky:kubeconfig = null: Invalid input: expected string, received null"]);
    });

    it("a placeholder inside a list is reported with its index", () => {
        const raw = configWith("dev", (c) => { c.database.users[1].email = "<REQUIRED: the nurse's e-mail>"; });
        assert.throws(() => parseAskyConfig(raw), (err: ConfigError) => {
            assert.deepStrictEqual(err.problems, ["asky:database.users[1].email: the nurse's e-mail; e.g. pulumi config set --path 'asky:database.users[1].email' <value>"]);
            return true;
        });
    });

    it("a config error is a ConfigError whose message says nothing was deployed, then lists each key", () => {
        assert.throws(() => parseAskyConfig(configWith("dev", (c) => { c.namespace = "default"; })), (err: ConfigError) => {
            assert.strictEqual(err.name, "ConfigError");
            assert.match(err.message, /^Invalid stack configuration; nothing was deployed\. Fix these keys:\n {2}- asky:namespace = "default": /);
            return true;
        });
    });

    describe("values of keys set with --secret never appear in a message", () => {
        const secretKeys = ["backup"];
        const messages = (change: Change): string[] => {
            try {
                return [...parseAskyConfig(configWith("dev", change), { secretKeys }).warnings];
            } catch (err) {
                assert.ok(err instanceof ConfigError, String(err));
                return [...err.problems];
            }
        };

        it("a secret value quoted by a cross-check is replaced whole, quotes included", () => {
            const claim = "postgres-pv-claim";
            const found = messages((c) => { c.backup.enabled = true; c.backup.claimName = claim; });
            assert.deepStrictEqual(found, ["asky:backup.claimName = [secret]: the backups need their own claim, not the database's (asky:storage.claimName)"]);
        });

        it("a short secret the schema shows is replaced; one of more than 80 characters, shown cut, is still replaced", () => {
            const found = messages(offsite({ region: "EU" }));
            assert.strictEqual(found.length, 1);
            assert.strictEqual(found[0], "asky:backup.offsite.region = [secret]: must be a region name such as eu-west-1");
            const endpoint = `https://${"s3.".repeat(30)}example.org/x`;
            const [shown] = messages(offsite({ endpoint }));
            assert.ok(!shown.includes("s3.s3."), shown);
            assert.match(shown, /^asky:backup\.offsite\.endpoint = \[secret\]/);
        });

        it("a secret key's booleans do not blank the same words elsewhere (its numbers and strings do, wherever they stand alone)", () => {
            // backup.enabled is true here: it may not replace a "true" in another key's message; its retentionDays 3 hides a lone 3.
            const found = messages((c) => { c.backup.enabled = true; c.backup.encryption = { publicKey: PUBLIC_KEY }; c.backup.offsite = undefined; c.services.auth.replicas = -7; });
            assert.deepStrictEqual(found, ["asky:services.auth.replicas = -7: must be an integer ≥ 0"]);
            assert.deepStrictEqual(messages((c) => { c.services.auth.replicas = -3; }), ["asky:services.auth.replicas = -[secret]: must be an integer ≥ 0"]);
            const cross = messages((c) => { c.backup.enabled = true; c.backup.encryption = { publicKey: PUBLIC_KEY }; c.gateway.awaitLoadBalancer = true; });
            assert.deepStrictEqual(cross, ['asky:gateway.awaitLoadBalancer = true: only allowed with asky:gateway.exposure "LoadBalancer", not "NodePort"']);
        });
    });

    describe("the image and quantity readers", () => {
        it("a tag is pinned only when it starts with a full version and has nothing else but a -, _ or + suffix", () => {
            for (const ref of ["postgres:16.6-bookworm", "nginx:1.27.3-alpine", "redis:v7.4", "x:1.2+build.5", "x:1.2_rc"]) assert.ok(isPinnedImage(ref), ref);
            for (const ref of ["nginx:alpine3.19", "nginx:1.25.x", "x:1.2.3rc1", "redis:7", "redis"]) assert.ok(!isPinnedImage(ref), ref);
            assert.ok(isPinnedImage(`redis@sha256:${"a".repeat(64)}`));
            assert.ok(isPinnedImage("localhost:5000/redis:7.4.1"), "a registry port is not a tag");
            assert.ok(!isPinnedImage("localhost:5000/redis"), "a registry port is not a tag");
        });

        it("the PostgreSQL major is read from the tag's start only", () => {
            assert.deepStrictEqual(
                ["postgres:16", "postgres:v15.2", "postgres:16.6-bookworm", "postgres:bookworm-16.1", "postgres:x16.1", "postgres", "postgres:16a"].map(postgresMajor),
                [16, 15, 16, undefined, undefined, undefined, undefined],
            );
        });

        it("quantities: decimals, suffixes, and nothing around them", () => {
            assert.deepStrictEqual(["1.25", "0.25Gi", "250m", "2Ki"].map(parseQuantity), [1.25, 0.25 * 2 ** 30, 0.25, 2048]);
            for (const bad of ["x5", "5x", "-5Mi", "5 Mi", "1.Gi"]) assert.throws(() => parseQuantity(bad), /not a Kubernetes quantity/, bad);
        });
    });
});

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError, SECRET_SHOWN_AS, secretTopLevelKeys } from "./index";
import { parseQuantity } from "./quantity";
import type { AskyConfigShape } from "./schema";

/**
 * The storage the stack's claims were created with. The program exports it as the stack output
 * `storage` once the claims exist, and the next run compares the config against it: the config
 * alone cannot tell what is already deployed.
 */
export interface DeployedStorage {
    database: { claimName: string; storageClass: string; size: string; hostPath?: string };
    backup?: { claimName: string; storageClass?: string; size: string };
}

/** The stack output that records {@link DeployedStorage}. */
export const STORAGE_OUTPUT = "storage";

const deployedStorage = z.object({
    database: z.object({ claimName: z.string(), storageClass: z.string(), size: z.string(), hostPath: z.string().optional() }),
    backup: z.object({ claimName: z.string(), storageClass: z.string().optional(), size: z.string() }).optional(),
});

/** What this config creates, in the shape of {@link DeployedStorage}. */
export function storageRecord(c: AskyConfigShape): DeployedStorage {
    return {
        database: {
            claimName: c.storage.claimName,
            storageClass: c.storage.storageClass,
            size: c.storage.size,
            ...(c.storage.hostPath !== undefined ? { hostPath: c.storage.hostPath } : {}),
        },
        ...(c.backup.enabled
            ? { backup: { claimName: c.backup.claimName, size: c.backup.storageSize, ...(c.backup.storageClass ? { storageClass: c.backup.storageClass } : {}) } }
            : {}),
    };
}

const MOVE = 'README: "Moving the database to a new volume"';

/**
 * Changes Kubernetes cannot apply to an existing claim (its class, its dev hostPath PV, a smaller
 * size): Pulumi would replace the claim delete-first under the running database and hang on its
 * protection finalizer, or the API server would refuse the update halfway through a deploy.
 * A new claim name is always allowed: that is the migration path.
 */
export function storageChangeProblems(previous: DeployedStorage, c: AskyConfigShape): string[] {
    const problems: string[] = [];
    const now = storageRecord(c);
    const q = (v: string | undefined) => (v === undefined ? "(unset)" : JSON.stringify(v));
    const db = previous.database;
    if (now.database.claimName === db.claimName) {
        const claim = `the claim ${db.claimName}`;
        if (now.database.storageClass !== db.storageClass) {
            problems.push(`asky:storage.storageClass = ${q(now.database.storageClass)}: ${claim} was created with class ${q(db.storageClass)} and ` +
                `Kubernetes cannot change a claim's class in place (Pulumi would delete it under the running database). Keep ${q(db.storageClass)}, ` +
                `or move the database to a new claim with a new asky:storage.claimName (${MOVE})`);
        }
        if (now.database.hostPath !== db.hostPath) {
            problems.push(`asky:storage.hostPath = ${q(now.database.hostPath)}: the volume of ${claim} is the node directory ${q(db.hostPath)}; ` +
                `a PersistentVolume's path cannot change in place. Keep ${q(db.hostPath)}, or move the database to a new claim with a new ` +
                `asky:storage.claimName (${MOVE})`);
        }
        if (parseQuantity(now.database.size) < parseQuantity(db.size)) {
            problems.push(`asky:storage.size = ${q(now.database.size)}: ${claim} already has ${q(db.size)} and a claim never shrinks. ` +
                `Keep ≥ ${q(db.size)}, or move the database to a smaller new claim with a new asky:storage.claimName (${MOVE})`);
        }
    }
    const before = previous.backup;
    if (before && now.backup && now.backup.claimName === before.claimName) {
        const claim = `the backup claim ${before.claimName}`;
        if (now.backup.storageClass !== before.storageClass) {
            problems.push(`asky:backup.storageClass = ${q(now.backup.storageClass)}: ${claim} was created with class ${q(before.storageClass)}, ` +
                `which cannot change in place (Pulumi would delete the claim and its dumps). Keep it, or start a new claim with a new ` +
                `asky:backup.claimName after copying the dumps you need (README: "Storage changes")`);
        }
        if (parseQuantity(now.backup.size) < parseQuantity(before.size)) {
            problems.push(`asky:backup.storageSize = ${q(now.backup.size)}: ${claim} already has ${q(before.size)} and a claim never shrinks. ` +
                `Keep ≥ ${q(before.size)}, or start a new claim with a new asky:backup.claimName (README: "Storage changes")`);
        }
    }
    return problems;
}

/** The stack output that records the environment the stack was deployed as. */
export const ENVIRONMENT_OUTPUT = "environment";

/**
 * A stack is one environment for its whole life: switching `asky:environment` would turn every prod rule
 * off (pinned images, TLS, guardrails, the policy pack's levels) on the very objects prod created.
 */
export function environmentChangeProblems(previous: string, c: AskyConfigShape): string[] {
    if (previous === c.environment) return [];
    return [`asky:environment = ${JSON.stringify(c.environment)}: this stack was deployed as ${JSON.stringify(previous)}, and a stack keeps its environment ` +
        `for its whole life (allowed: ${JSON.stringify(previous)}). Set it back; for a ${c.environment} deployment create another stack ` +
        `(pulumi stack init), or pulumi destroy this one first (README: "Break glass")`];
}

/**
 * Reads the stack's own last `storage` and `environment` outputs (a StackReference to this stack; nothing on
 * a first deploy) and throws a {@link ConfigError} for an environment change and for every storage change that
 * cannot be applied in place, before any Kubernetes object is registered.
 */
export async function refuseStorageChanges(c: AskyConfigShape): Promise<void> {
    const self = new pulumi.StackReference("deployed-storage", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const environment = await self.getOutputDetails(ENVIRONMENT_OUTPUT);
    const deployedAs = environment.value ?? environment.secretValue;
    if (typeof deployedAs === "string") {
        const changed = environmentChangeProblems(deployedAs, c);
        if (changed.length) throw new ConfigError(changed);
    }
    const details = await self.getOutputDetails(STORAGE_OUTPUT);
    const recorded = deployedStorage.safeParse(details.value ?? details.secretValue);
    if (!recorded.success) return;
    const problems = storageChangeProblems(recorded.data, c);
    if (problems.length === 0) return;
    // Storage values are rarely secret, but an error never prints one.
    if (secretTopLevelKeys().some((k) => k === "storage" || k === "backup")) {
        throw new ConfigError(problems.map((p) => p.replace(/"[^"]*"/g, SECRET_SHOWN_AS)));
    }
    throw new ConfigError(problems);
}

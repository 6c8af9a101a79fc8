import * as assert from "assert";
import { AskyConfigShape, ConfigError, parseAskyConfig } from "../../config";
import { K8sManifest, Render, renderProgram, renderStack, stackConfig } from "../../scripts/render";
export { isSecretEnvelope, reveal } from "../../scripts/render";

const cache = new Map<string, Promise<Render>>();

/** The stack's render, computed once per test run (renders are sequential by design). */
export function renderedStack(stack: "dev" | "prod"): Promise<Render> {
    let render = cache.get(stack);
    if (!render) {
        const previous = [...cache.values()];
        render = Promise.allSettled(previous).then(() => renderStack(stack));
        cache.set(stack, render);
    }
    return render;
}

/** The one object of a kind and name; throws when it is missing, so a test fails with its name. */
export function find(objects: readonly K8sManifest[], kind: string, name: string): K8sManifest & Record<string, any> {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length}`);
    return found[0] as K8sManifest & Record<string, any>;
}

/** Kubernetes object names by kind, for the name tables of ARCHITECTURE.md. */
export function namesOf(objects: readonly K8sManifest[], kind: string): string[] {
    return objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
}

/** A stack file's validated config, for tests that build one component with real values. */
export function stackSettings(stack: "dev" | "prod"): AskyConfigShape {
    const { config } = stackConfig(stack);
    const raw = Object.fromEntries(
        Object.entries(config)
            .filter(([k]) => k.startsWith("asky:") && k !== "asky:firebaseServiceAccount")
            .map(([k, v]) => {
                let value: unknown = v;
                try { value = JSON.parse(v); } catch { /* a plain string */ }
                return [k.slice("asky:".length), value];
            }),
    );
    return parseAskyConfig(raw).config;
}

/** Renders one component on its own (a program of a single `new AskyX(...)`). */
export function renderComponent(build: () => Record<string, unknown> | void, stack = "component"): Promise<Render> {
    return renderProgram(stack, async () => build() ?? {});
}

/** A stack's `asky:` keys decoded as the program sees them (a mutable copy), for config tests. */
export function rawStackConfig(stack: "dev" | "prod"): Record<string, any> {
    return JSON.parse(JSON.stringify(stackSettings(stack)));
}

/** The problems config validation reports for `raw` (none when it is valid). */
export function configProblems(raw: Record<string, unknown>): string[] {
    try {
        parseAskyConfig(raw);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
        return [...err.problems];
    }
    return [];
}

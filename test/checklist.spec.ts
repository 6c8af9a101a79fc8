import * as assert from "assert";
import { CHECK_IDS, checkPolicy, formatViolations, runCheck } from "../checklist";
import { validateSchemas } from "./support/schema";
import { renderedStack } from "./support/render";

/**
 * The production checklist (../shared/design/CHECKLIST.md) over every rendered object of both
 * stacks: each check is run on its own so a failure names its ID. policy.spec.ts proves each
 * check catches a deliberately bad object.
 */
describe("checklist over the rendered stacks", () => {
    for (const stack of ["dev", "prod"] as const) {
        describe(stack, () => {
            for (const id of CHECK_IDS) {
                it(`${id} holds for every ${stack} object`, async () => {
                    const { objects } = await renderedStack(stack);
                    const violations = runCheck(id, objects, { stack, namespace: "asky" });
                    assert.deepStrictEqual(violations, [], formatViolations(violations));
                });
            }

            it(`every ${stack} object validates against the Kubernetes OpenAPI schema, unknown fields included`, async () => {
                const { objects } = await renderedStack(stack);
                const errors = await validateSchemas(objects);
                assert.deepStrictEqual(errors, [], errors.join("\n"));
            });

            it(`checkPolicy reports nothing for ${stack}`, async () => {
                const { objects } = await renderedStack(stack);
                const violations = checkPolicy(objects, { stack, namespace: "asky" });
                assert.strictEqual(formatViolations(violations), "");
            });
        });
    }
});

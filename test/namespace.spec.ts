import * as assert from "assert";
import { AskyNamespace } from "../components";
import { find, renderComponent } from "./support/render";

/** components/namespace.ts on its own. */
describe("AskyNamespace (components/namespace.ts)", () => {
    it("POD-13 enforces, warns and audits the restricted Pod Security Standard", async () => {
        const { objects } = await renderComponent(() => { new AskyNamespace("ns", { name: "asky", instance: "asky-test", protect: false }); });
        const labels = find(objects, "Namespace", "asky").metadata.labels!;
        for (const mode of ["enforce", "warn", "audit"]) assert.strictEqual(labels[`pod-security.kubernetes.io/${mode}`], "restricted", mode);
        assert.strictEqual(labels["app.kubernetes.io/part-of"], "asky");
    });

    it("DATA-1 protect: the namespace (whose deletion would take the database claim with it) is protected and retained", async () => {
        const on = await renderComponent(() => { new AskyNamespace("ns", { name: "asky", instance: "asky-test", protect: true }); });
        const ns = on.resources.find((r) => r.inputs.kind === "Namespace")!;
        assert.ok(ns.protect && ns.retainOnDelete);
        const off = await renderComponent(() => { new AskyNamespace("ns", { name: "asky", instance: "asky-test", protect: false }); });
        assert.ok(!off.resources.find((r) => r.inputs.kind === "Namespace")!.protect);
    });
});

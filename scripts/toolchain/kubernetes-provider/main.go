// pulumi-resource-kubernetes built from the published provider module: the upstream main embeds
// generated files that are not in the module zip, so this main embeds the committed ones instead.
package main

import (
	_ "embed"
	"encoding/json"
	"log"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	// The upstream build stamps the version into the schema (cmd/pulumi-resource-kubernetes/generate.go).
	var spec map[string]any
	if err := json.Unmarshal(schema, &spec); err != nil {
		log.Fatalf("schema.json: %v", err)
	}
	spec["version"] = version.Version
	stamped, err := json.Marshal(spec)
	if err != nil {
		log.Fatalf("schema.json: %v", err)
	}
	provider.Serve("kubernetes", version.Version, stamped, terraformMapping)
}

// The Kubernetes provider's entry point, as pulumi-kubernetes' own cmd/pulumi-resource-kubernetes has it, with
// the two embedded files its `go generate` step writes (and its module therefore lacks) prepared by
// test/e2e/tools.sh from the module's committed schema.json and terraform-mapping.json.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}

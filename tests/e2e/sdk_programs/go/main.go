// The release of examples/yaml, from Go, through the SDK `pulumi package gen-sdk` makes from
// plugin/schema.json (module istio-canary.local/sdk/go/canary).
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"istio-canary.local/sdk/go/canary"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		release, err := canary.NewCanaryRelease(ctx, "release", &canary.CanaryReleaseArgs{
			Namespace: pulumi.String("shop-go"),
			App:       pulumi.String("web"),
			Hosts:     pulumi.StringArray{pulumi.String("shop.example.org")},
			Versions: canary.WorkloadArray{
				canary.WorkloadArgs{Version: pulumi.String("v1"), Image: pulumi.String("nginx:1.27")},
				canary.WorkloadArgs{Version: pulumi.String("v2"), Image: pulumi.String("nginx:1.28")},
			},
			Stable: pulumi.String("v1"),
			Canary: &canary.CanaryArgs{
				Version: pulumi.String("v2"),
				Cookie:  pulumi.String("version=v2"),
				Weight:  pulumi.Int(10),
			},
		})
		if err != nil {
			return err
		}
		ctx.Export("namespace", release.Namespace)
		ctx.Export("urls", release.Urls)
		ctx.Export("routes", release.Routes)
		return nil
	})
}

// Command demo-seed creates the demo's "shop" production environment (or,
// with -stack, examples/cloudformation's stack) in the AWS emulator that
// AWS_ENDPOINT_URL points at.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/demo"
)

func main() {
	uploads := flag.Int("uploads", 1500, "objects in the uploads bucket")
	assets := flag.Int("assets", 1500, "objects in the legacy assets bucket")
	instances := flag.Int("instances", 3, "instances in the web group")
	stackDir := flag.String("stack", "", "instead of the shop: create the stack of examples/cloudformation (this directory) from its env-v1.yaml, and fill its bucket with -uploads objects")
	flag.Parse()
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		fmt.Fprintln(os.Stderr, "demo-seed: refusing to run without AWS_ENDPOINT_URL: it only seeds a local emulator")
		os.Exit(1)
	}
	ctx := context.Background()
	cfg, err := awsclient.Load(ctx, awsclient.Options{Region: "us-east-1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-seed:", err)
		os.Exit(1)
	}
	if *stackDir != "" {
		o := demo.StackOptions{Dir: *stackDir, Name: "shop-staging", Bucket: "shop-staging-uploads", Objects: *uploads}
		if err := demo.SeedStack(ctx, awsclient.New(cfg), o); err != nil {
			fmt.Fprintln(os.Stderr, "demo-seed:", err)
			os.Exit(1)
		}
		fmt.Printf("Seeded: stack %s from %s/env-v1.yaml, bucket %s (%d objects)\n", o.Name, *stackDir, o.Bucket, o.Objects)
		return
	}
	if err := demo.Seed(ctx, awsclient.New(cfg), demo.Options{Uploads: *uploads, Assets: *assets, Instances: int32(*instances)}); err != nil {
		fmt.Fprintln(os.Stderr, "demo-seed:", err)
		os.Exit(1)
	}
	fmt.Printf("Seeded: database %s, group %s (%d instances), buckets %s (%d objects) and %s (%d objects)\n",
		demo.Database, demo.Group, *instances, demo.UploadsBucket, *uploads, demo.LegacyAssets, *assets)
}

package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/live"
)

// traceEnv names a file to which every AWS operation is appended, one
// "Service Operation" line each: a debugging aid, and how the tests count
// mutating calls and check the IAM policy covers every action.
const traceEnv = "ENVMIG_AWS_TRACE"

// awsFor builds the SDK clients for the spec's account and region through
// the SDK's default chain.
func (g *globals) awsFor(ctx context.Context, cfg *config.Config) (*awsclient.Clients, error) {
	acfg, err := awsclient.Load(ctx, awsclient.Options{Region: cfg.AWS.Region, Profile: cfg.AWS.Profile})
	if err != nil {
		return nil, err
	}
	if path := g.getenv(traceEnv); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", traceEnv, err)
		}
		var mu sync.Mutex
		awsclient.Trace(&acfg, func(c awsclient.Call) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(f, "%s %s\n", c.Service, c.Operation)
		})
	}
	return awsclient.New(acfg), nil
}

// reader is the live reader over cl.
func reader(cl *awsclient.Clients) *live.Reader {
	return &live.Reader{
		STS:            cl.STS,
		RDS:            cl.RDS,
		S3:             func(region string) live.S3API { return awsclient.NewS3(cl.Config, region) },
		AutoScaling:    cl.AutoScaling,
		CloudFormation: cl.CloudFormation,
		KMS:            cl.KMS,
	}
}

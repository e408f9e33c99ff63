package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/live"
)

// traceEnv names a file to which every AWS operation is appended, one
// "Service<TAB>Operation<TAB>expected bucket owner<TAB>resources" line
// each (the resources as awsclient.Resources names them, each
// query-escaped, separated by spaces): a debugging aid, and how the tests
// count mutating calls, check that a plan's IAM policy allows every call
// on what it acted on, and that every S3 request named the expected owner.
const traceEnv = "ENVMIG_AWS_TRACE"

// awsFor builds the SDK clients for the spec's account and region through
// the SDK's default chain.
func (g *globals) awsFor(ctx context.Context, cfg *config.Config) (*awsclient.Clients, error) {
	acfg, err := awsclient.Load(ctx, awsclient.Options{Region: cfg.AWS.Region, Profile: cfg.AWS.Profile})
	if err != nil {
		return nil, err
	}
	// The SDK's own warnings (a response body left unread on a closed
	// connection) are noise in a run's output: only debug logging shows them.
	acfg.Logger = logging.Nop{}
	if g.getenv("ENVMIG_LOG") == "debug" {
		acfg.ClientLogMode = aws.LogRequest | aws.LogResponse | aws.LogRetries
		acfg.Logger = logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			fmt.Fprintf(g.stderr, "debug: %s\n", g.redact(redactHeaders(fmt.Sprintf(format, v...))))
		})
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
			res := make([]string, len(c.Resources))
			for i, r := range c.Resources {
				res[i] = url.QueryEscape(r)
			}
			fmt.Fprintf(f, "%s\t%s\t%s\t%s\n", c.Service, c.Operation, c.Owner, strings.Join(res, " "))
		})
	}
	// Every S3 request names the caller's account as the bucket's expected
	// owner: envmig never touches another account's bucket, whatever its
	// name or tags. Reading the identity here also fails closed: no
	// command acts with credentials whose account it cannot read.
	id, err := sts.NewFromConfig(acfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the AWS caller's identity, refusing to go on: %w", err)
	}
	awsclient.ExpectBucketOwner(&acfg, aws.ToString(id.Account))
	cl := awsclient.New(acfg)
	cl.Account = aws.ToString(id.Account)
	return cl, nil
}

// redactHeaders removes the credentials a request carries from a logged
// request: its signature and session token.
func redactHeaders(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "authorization", "x-amz-security-token":
			lines[i] = name + ": (redacted)"
		}
	}
	return strings.Join(lines, "\n")
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
		EventBridge:    cl.EventBridge,
		Scheduler:      cl.Scheduler,
		ECS:            cl.ECS,
		AppAutoScaling: cl.AppAutoScaling,
		Lambda:         cl.Lambda,
	}
}

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/statefile"
	"github.com/envmig/envmig/statefile/s3state"
)

// stateLeaseEnv names the variable that shortens the S3 state lock's lease
// in test builds (-tags crashtest; release builds ignore it), so that the
// end-to-end tests can take over a killed runner's lock in seconds rather
// than minutes. A Go duration; the holder renews every quarter of it.
const stateLeaseEnv = "ENVMIG_TEST_STATE_LEASE"

// backend returns where journals live: the S3 backend the spec's state
// block names, or the local .envmig directory beside the spec. It is made
// once per command. With no spec in the working directory, journals are
// local.
func (g *globals) backend(ctx context.Context, vars varFlags) (statefile.Backend, error) {
	if g.stateBackend != nil {
		return g.stateBackend, nil
	}
	cfg, err := g.specForState(vars)
	if err != nil {
		return nil, err
	}
	if cfg == nil || cfg.State == nil || cfg.State.S3 == nil {
		g.stateBackend = statefile.Local(stateDir)
		return g.stateBackend, nil
	}
	s := cfg.State.S3
	region := s.Region
	if region == "" {
		region = cfg.AWS.Region
	}
	cl, err := g.awsFor(ctx, &config.Config{AWS: config.AWS{Region: region, Profile: cfg.AWS.Profile}})
	if err != nil {
		return nil, err
	}
	b, err := s3state.Open(ctx, s3state.Options{Bucket: s.Bucket, Prefix: s.Prefix, Region: region, Config: cl.Config, ExpectedOwner: cl.Account, Lease: g.stateLease()})
	if err != nil {
		return nil, fmt.Errorf("the state backend s3://%s/%s: %w", s.Bucket, s.Prefix, err)
	}
	g.stateBackend = b
	return b, nil
}

// specForState loads the spec of the working directory for its state
// block: nil when there is none; its diagnostics when it is invalid (the
// backend cannot be known then).
func (g *globals) specForState(vars varFlags) (*config.Config, error) {
	cfg, diags := config.Load(".", config.LoadOptions{VarFiles: vars.varFiles, Vars: vars.vars, Environ: g.environ})
	if cfg == nil || len(cfg.Files) == 0 {
		return nil, nil
	}
	if diags.HasErrors() {
		return g.loadConfig(vars) // prints the diagnostics
	}
	g.sensitive = append(g.sensitive, cfg.SensitiveValues...)
	return cfg, nil
}

// journal returns the journal name of the backend.
func (g *globals) journal(ctx context.Context, vars varFlags, name string) (statefile.Journal, error) {
	b, err := g.backend(ctx, vars)
	if err != nil {
		return nil, err
	}
	return b.Journal(name), nil
}

// loadJournal reads a journal: nil when it holds no state.
func loadJournal(j statefile.Journal) (*statefile.State, error) {
	st, err := j.Load()
	var nf *statefile.NotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	return st, err
}

package config

import "github.com/hashicorp/hcl/v2"

// Config is a fully evaluated set of *.envmig.hcl / *.envmig.json files.
// Optional attributes left out of the spec are nil (pointers) or empty
// strings: "keep whatever is live".
type Config struct {
	// Dir is the directory the files were read from.
	Dir string
	// Files are the parsed files by name, for diagnostics' snippets.
	Files map[string]*hcl.File
	// Digest is a SHA-256 over the files' names and bytes, in name order.
	Digest string

	AWS       AWS
	Variables map[string]*Variable
	// SensitiveValues are the string forms of every sensitive variable's
	// value, for redaction of output as a last line of defence. A sensitive
	// value used in any attribute is a validation error, so none of them
	// can reach a plan or state file.
	SensitiveValues []string
	Environments    []*Environment
	// State is where journals live: nil for the local .envmig directory.
	State *State
}

// State is the state block: a shared backend for journals and locks.
type State struct {
	S3        *S3State
	DeclRange hcl.Range
}

// S3State is the state block's s3 backend.
type S3State struct {
	Bucket    string
	Prefix    string
	Region    string
	DeclRange hcl.Range
}

// AWS is the aws block.
type AWS struct {
	Region            string
	AllowedAccountIDs []string
	Profile           string
	DeclRange         hcl.Range
}

// Variable is a declared variable block (its value lives in the evaluation
// context; sensitive ones are also in Config.SensitiveValues).
type Variable struct {
	Name        string
	Description string
	Sensitive   bool
	DeclRange   hcl.Range
}

// Environment is one environment block.
type Environment struct {
	Name      string
	Stack     string
	Databases []*Database
	Buckets   []*Bucket
	Services  []*Service
	Switches  []*Switch
	// Template, with a stack, is the environment's new version: the
	// template file and its parameters.
	Template  *Template
	Migration Migration
	DeclRange hcl.Range
}

// Template is the template block of an environment with a stack.
type Template struct {
	// File is the template's path, relative to the spec's directory.
	File       string
	Parameters map[string]string
	// EnvironmentParameter receives the stack's name (temporary or
	// original); SnapshotParameter receives the DB snapshot the stack's
	// database is restored from.
	EnvironmentParameter string
	SnapshotParameter    string
	// Body is the template file's content, read when the spec is loaded:
	// the planner, which does no I/O, works from it, and a stack-swap plan
	// carries it.
	Body      string
	DeclRange hcl.Range
}

// Switch kinds.
const (
	SwitchEventBridgeRule   = "eventbridge_rule"
	SwitchSchedule          = "schedule"
	SwitchECSService        = "ecs_service"
	SwitchLambdaEventSource = "lambda_event_source"
	SwitchCommand           = "command"
	DefaultSwitchTimeout    = "5m"
)

// Switch is a switch block: something that writes data, turned off during
// the standby and back on afterwards. Exactly one kind is set: Kind names
// it and Target is its name ("" for a command).
type Switch struct {
	Name   string
	Kind   string
	Target string
	// Off and On are the command pair of a command switch, run with
	// /bin/sh -c and bounded by Timeout (a Go duration).
	Off, On   string
	Timeout   string
	DeclRange hcl.Range
}

// Database is a database block: an RDS DB instance.
type Database struct {
	Name               string // block label
	Identifier         string // "" when LogicalID is used
	LogicalID          string
	Engine             string
	EngineVersion      string
	InstanceClass      string
	AllocatedStorage   *int64
	StorageEncrypted   *bool
	KMSKeyID           string
	MultiAZ            *bool
	DBSubnetGroup      string
	ParameterGroup     string
	DeletionProtection *bool
	Tags               map[string]string // nil: not managed
	DeclRange          hcl.Range
}

// Bucket is a bucket block: an S3 bucket.
type Bucket struct {
	Name       string // block label
	BucketName string // "" when LogicalID is used
	LogicalID  string
	// MovedFrom, when set, names the live bucket whose objects move into
	// BucketName.
	MovedFrom  string
	Region     string
	Versioning *bool
	Tags       map[string]string
	// DiscardNoncurrentVersions accepts that a migration which recreates
	// the bucket keeps only its current objects.
	DiscardNoncurrentVersions bool
	DeclRange                 hcl.Range
}

// Service is a service block: the Auto Scaling group that is the
// environment's availability switch.
type Service struct {
	Name             string
	AutoScalingGroup string // "" when LogicalID is used
	LogicalID        string
	DeclRange        hcl.Range
}

// Strategies.
const (
	StrategyRenameSwap = "rename-swap"
	StrategyCloneSwap  = "clone-swap"
	StrategyStackSwap  = "stack-swap"
)

// Object verification levels, from cheapest to strongest.
const (
	VerifyCount    = "count"
	VerifyETag     = "etag"
	VerifyChecksum = "checksum"
	VerifyContent  = "content"
)

// Migration is the migration block, with defaults applied.
type Migration struct {
	Strategy        string // default StrategyRenameSwap
	TemporarySuffix string // default "-envmig"
	Verify          Verify
	DeclRange       hcl.Range
}

// Verify is the migration's verify block.
type Verify struct {
	Objects  string // default VerifyChecksum
	HTTP     []*HTTPCheck
	Commands []*CommandCheck
}

// HTTPCheck is a verify.http block: a probe run against the clone.
type HTTPCheck struct {
	Name      string
	URL       string
	Status    int    // default 200
	Timeout   string // a Go duration, default "10s"
	DeclRange hcl.Range
}

// CommandCheck is a verify.command block: a shell command run against the
// clone; exit status 0 passes.
type CommandCheck struct {
	Name      string
	Run       string
	DeclRange hcl.Range
}

// Environment returns the environment with the given name, or nil.
func (c *Config) Environment(name string) *Environment {
	for _, e := range c.Environments {
		if e.Name == name {
			return e
		}
	}
	return nil
}

package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Engines are the RDS DB instance engines envmig migrates.
var Engines = []string{
	"postgres", "mysql", "mariadb",
	"oracle-ee", "oracle-ee-cdb", "oracle-se2", "oracle-se2-cdb",
	"sqlserver-ee", "sqlserver-se", "sqlserver-ex", "sqlserver-web",
	"db2-se", "db2-ae",
}

var (
	strategies     = []string{StrategyRenameSwap, StrategyCloneSwap, StrategyStackSwap}
	laterStrategy  = []string{"blue-green", "replica"}
	verifyLevels   = []string{VerifyCount, VerifyETag, VerifyChecksum, VerifyContent}
	maxSuffixRunes = maxRDSIdentifier - 1 - len(RetiredSuffix)
)

// envCtx is what resource blocks need to know of their environment.
type envCtx struct {
	env      *Environment
	stackSet bool
}

// naming is how a resource block names its resource: by its physical name
// attribute (phys) or by logical_id.
type naming struct {
	phys         string
	physState    state
	logical      string
	logicalState state
}

// checkNaming checks that block b (with attributes a) names its resource by
// exactly one of its physical name and logical_id, and by logical_id only
// with a stack.
func (l *loader) checkNaming(b *hcl.Block, a hcl.Attributes, n naming, ec envCtx, misspelt map[string]bool) {
	switch {
	case n.physState == valid && n.logicalState == valid:
		l.errorf(a["logical_id"].Range.Ptr(), "Both "+n.phys+" and logical_id are set",
			"A %s block names its resource either by %s (the physical name) or by logical_id (its logical ID in the environment's CloudFormation stack), not both. Remove one of them.", b.Type, n.phys)
	case n.physState == absent && n.logicalState == absent && !misspelt[n.phys] && !misspelt["logical_id"]:
		l.errorf(b.DefRange.Ptr(), "Missing "+n.phys+" or logical_id",
			"%s %q must name its resource: set %s = \"...\" to the physical name, or logical_id = \"...\" to its logical ID in the stack named by the environment's stack attribute.", b.Type, b.Labels[0], n.phys)
	case n.logicalState == valid:
		rng := a["logical_id"].Expr.Range()
		if !logicalID.MatchString(n.logical) {
			l.errorf(&rng, "Invalid logical ID",
				"%q is not a CloudFormation logical ID. Logical IDs are 1 to 255 letters and digits, such as \"Database\" or \"UploadsBucket\"; use the name of the resource in the stack's template.", n.logical)
		}
		if !ec.stackSet {
			l.errorf(&rng, "logical_id without stack",
				"logical_id names a resource of a CloudFormation stack, but environment %q has no stack attribute. Add stack = \"STACK-NAME\" to the environment, or name the resource by %s instead.", ec.env.Name, n.phys)
		}
	}
}

func (l *loader) checkEnvironmentName(name string, rng hcl.Range) {
	if !envName.MatchString(name) {
		l.errorf(&rng, "Invalid environment name",
			"%q cannot name an environment: it becomes part of file names (.envmig/NAME.state.json) and resource names, so use 1 to 64 letters, digits, hyphens and underscores, starting with a letter or digit.", name)
	}
}

func (l *loader) checkStackName(name string, rng hcl.Range) {
	if !stackName.MatchString(name) {
		l.errorf(&rng, "Invalid stack name",
			"%q is not a CloudFormation stack name. Stack names are 1 to 128 letters, digits and hyphens and start with a letter.", name)
	}
}

// checkLabel checks the name of a labelled block.
func (l *loader) checkLabel(b *hcl.Block) {
	if !hclsyntax.ValidIdentifier(b.Labels[0]) {
		l.errorf(b.LabelRanges[0].Ptr(), "Invalid "+b.Type+" name",
			"%q is not a valid name for a %s block. Use letters, digits, underscores and hyphens, starting with a letter.", b.Labels[0], b.Type)
	}
}

func (l *loader) checkRegion(region string, rng hcl.Range) {
	if !awsRegion.MatchString(region) {
		l.errorf(&rng, "Invalid AWS region",
			"%q is not an AWS region name. Region names look like \"us-east-1\" or \"eu-west-2\".", region)
	}
}

func (l *loader) checkBucketName(name string, rng hcl.Range, summary string) {
	if p := bucketNameProblem(name); p != "" {
		l.errorf(&rng, summary,
			"%q %s. S3 bucket names are 3 to 63 lowercase letters, digits, dots and hyphens; they start and end with a letter or digit, have no two dots in a row, and are not IP addresses.", name, p)
	}
}

func (l *loader) checkEngine(engine string, rng hcl.Range) {
	switch {
	case strings.HasPrefix(engine, "aurora"):
		l.errorf(&rng, "Aurora is not supported",
			"envmig migrates RDS DB instances. Aurora engines (aurora-mysql, aurora-postgresql) run in DB clusters, which envmig does not migrate. Use a DB instance engine: %s.", quotedList(Engines))
	case strings.HasPrefix(engine, "custom-"):
		l.errorf(&rng, "RDS Custom is not supported",
			"envmig migrates standard RDS DB instances, not RDS Custom (%q). Use a DB instance engine: %s.", engine, quotedList(Engines))
	case !slices.Contains(Engines, engine):
		l.errorf(&rng, "Unknown database engine",
			"%q is not an RDS DB instance engine.%s The engines are %s.", engine, didYouMean(engine, Engines), quotedList(Engines))
	}
}

func (l *loader) checkStrategy(s string, rng hcl.Range) bool {
	switch {
	case slices.Contains(strategies, s):
		return true
	case slices.Contains(laterStrategy, s):
		l.errorf(&rng, "Strategy not supported yet",
			"The %q strategy is planned but not implemented. Use \"rename-swap\" (clone, then rename the clone into the original's name) or \"clone-swap\" (clone everything, then clone back into the original names).", s)
	default:
		l.errorf(&rng, "Unknown migration strategy",
			"%q is not a migration strategy.%s Use \"rename-swap\" (the default), \"clone-swap\" or, for an environment that is a CloudFormation stack, \"stack-swap\".", s, didYouMean(s, strategies))
	}
	return false
}

// checkSuffix checks the temporary suffix on its own: every name it is
// appended to must stay a valid DB instance identifier and bucket name.
func (l *loader) checkSuffix(s string, rng hcl.Range) bool {
	const why = " The suffix is appended to the identifiers and bucket names envmig creates (database \"shop-db\" is cloned as \"shop-db-envmig\" with the default), so it may hold only lowercase letters, digits and single hyphens, and may not end with a hyphen."
	bad := func(summary, detail string, args ...any) bool {
		l.errorf(&rng, summary, detail+why, args...)
		return false
	}
	if s == "" {
		return bad("Empty temporary suffix",
			"An empty temporary_suffix would give the clone the original's own name. Remove the attribute to use the default %q, or choose another suffix such as \"-next\".", DefaultTemporarySuffix)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return bad("Invalid temporary suffix", "%q contains %q.", s, r)
		}
	}
	switch {
	case strings.Contains(s, "--"):
		return bad("Invalid temporary suffix", "%q contains two hyphens in a row.", s)
	case strings.HasSuffix(s, "-"):
		return bad("Invalid temporary suffix", "%q ends with a hyphen.", s)
	case utf8.RuneCountInString(s) > maxSuffixRunes:
		return bad("Temporary suffix too long",
			"%q has %d characters, which leaves no room for an identifier: the retired original is named identifier + suffix + %q, at most %d characters.", s, len(s), RetiredSuffix, maxRDSIdentifier)
	}
	for _, r := range reservedBucketSuffixes {
		if strings.HasSuffix(s, r) {
			return bad("Invalid temporary suffix", "%q ends with %q, which S3 reserves.", s, r)
		}
	}
	return true
}

func (l *loader) checkObjects(o string, rng hcl.Range) bool {
	if slices.Contains(verifyLevels, o) {
		return true
	}
	l.errorf(&rng, "Unknown object verification",
		"%q is not a way to verify copied objects.%s Use \"count\" (object counts), \"etag\" (ETags), \"checksum\" (the default: sizes and checksums) or \"content\" (read every byte).",
		o, didYouMean(o, verifyLevels))
	return false
}

// stackOutputRef is a ${ENVMIG_STACK_OUTPUT_<Name>} placeholder in an
// http check's URL: a stack-swap fills it with the temporary stack's
// output when the check runs.
var stackOutputRef = regexp.MustCompile(`\$\{ENVMIG_STACK_OUTPUT_[A-Za-z0-9]+\}`)

func (l *loader) checkURL(raw string, rng hcl.Range) {
	u, err := url.Parse(stackOutputRef.ReplaceAllString(raw, "stack-output.invalid"))
	switch {
	case err != nil:
		l.errorf(&rng, "Invalid URL", "%q is not a URL: %s. Write a full URL such as \"https://clone.example.internal/health\".", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		l.errorf(&rng, "Unsupported URL scheme",
			"An http check probes an http:// or https:// URL; %q has %s. Write a full URL such as \"https://clone.example.internal/health\".", raw, describeScheme(u.Scheme))
	case u.Host == "":
		l.errorf(&rng, "URL has no host", "%q names no host. Write a full URL such as \"https://clone.example.internal/health\".", raw)
	case u.User != nil:
		l.errorf(&rng, "URL contains credentials",
			"The URL has a user name or password in it. Plans and state files are written to disk, so a URL must not carry credentials: let the probed endpoint accept the check without them, or use a command check that reads its secret from the environment at run time.")
	}
}

func describeScheme(s string) string {
	if s == "" {
		return "no scheme"
	}
	return "the scheme \"" + s + "\""
}

func (l *loader) checkTimeout(t string, rng hcl.Range) bool {
	d, err := time.ParseDuration(t)
	switch {
	case err != nil:
		l.errorf(&rng, "Invalid timeout",
			"%q is not a duration. Write a number with a unit, such as \"10s\", \"1m30s\" or \"500ms\".", t)
	case d <= 0:
		l.errorf(&rng, "Invalid timeout", "The timeout must be longer than zero; %q is not. Write a duration such as \"10s\".", t)
	default:
		return true
	}
	return false
}

// tags decodes and checks a tags attribute.
func (l *loader) tags(a hcl.Attributes) map[string]string {
	m, ranges := l.stringMap(a, "tags")
	for _, k := range sortedKeys(m) {
		rng := ranges[k]
		lk := strings.ToLower(k)
		switch n := utf8.RuneCountInString(k); {
		case n == 0 || n > 128:
			l.errorf(&rng, "Invalid tag key", "Tag keys have 1 to 128 characters; %q has %d. Shorten the key.", k, n)
		case strings.HasPrefix(lk, "aws:"):
			l.errorf(&rng, "Reserved tag key", "AWS reserves tag keys that start with \"aws:\", so %q cannot be set. Choose another key.", k)
		case strings.HasPrefix(lk, "envmig:"):
			l.errorf(&rng, "Reserved tag key", "envmig sets the tags that start with \"envmig:\" itself (envmig:run marks what a run created), so %q cannot be set. Choose another key.", k)
		case utf8.RuneCountInString(m[k]) > 256:
			l.errorf(&rng, "Invalid tag value", "Tag values have at most 256 characters; the value of %q has %d. Shorten it.", k, utf8.RuneCountInString(m[k]))
		}
	}
	return m
}

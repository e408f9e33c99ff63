package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// blockSchema is what one kind of block accepts, with the words used to
// speak of it in diagnostics.
type blockSchema struct {
	what   string // "a database block"
	attrs  []string
	blocks []hcl.BlockHeaderSchema
}

func (s *blockSchema) hcl() *hcl.BodySchema {
	bs := &hcl.BodySchema{Blocks: s.blocks}
	for _, a := range s.attrs {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a})
	}
	return bs
}

// where is the phrase that places something in the block.
func (s *blockSchema) where() string {
	if s == rootSchema {
		return "at " + s.what
	}
	return "in " + s.what
}

func (s *blockSchema) blockTypes() []string {
	out := make([]string, len(s.blocks))
	for i, b := range s.blocks {
		out[i] = b.Type
	}
	return out
}

func labelled(typ, label string) hcl.BlockHeaderSchema {
	return hcl.BlockHeaderSchema{Type: typ, LabelNames: []string{label}}
}

var (
	rootSchema = &blockSchema{
		what: "the top level of a spec",
		blocks: []hcl.BlockHeaderSchema{
			{Type: "aws"}, labelled("variable", "name"), {Type: "locals"}, labelled("environment", "name"), {Type: "state"},
		},
	}
	stateSchema       = &blockSchema{what: "a state block", blocks: []hcl.BlockHeaderSchema{{Type: "s3"}}}
	stateS3Schema     = &blockSchema{what: "an s3 block", attrs: []string{"bucket", "prefix", "region"}}
	awsSchema         = &blockSchema{what: "an aws block", attrs: []string{"region", "allowed_account_ids", "profile"}}
	variableSchema    = &blockSchema{what: "a variable block", attrs: []string{"type", "default", "description", "sensitive"}}
	environmentSchema = &blockSchema{
		what:  "an environment block",
		attrs: []string{"stack"},
		blocks: []hcl.BlockHeaderSchema{
			labelled("database", "name"), labelled("bucket", "name"), labelled("service", "name"),
			labelled("switch", "name"), {Type: "template"}, {Type: "migration"},
		},
	}
	templateSchema = &blockSchema{what: "a template block", attrs: []string{"file", "parameters", "environment_parameter", "snapshot_parameter"}}
	switchSchema   = &blockSchema{
		what:   "a switch block",
		attrs:  []string{SwitchEventBridgeRule, SwitchSchedule, SwitchECSService, SwitchLambdaEventSource},
		blocks: []hcl.BlockHeaderSchema{{Type: SwitchCommand}},
	}
	switchCommandSchema = &blockSchema{what: "a switch's command block", attrs: []string{"off", "on", "timeout"}}
	databaseSchema      = &blockSchema{what: "a database block", attrs: []string{
		"identifier", "logical_id", "engine", "engine_version", "instance_class", "allocated_storage",
		"storage_encrypted", "kms_key_id", "multi_az", "db_subnet_group", "parameter_group",
		"deletion_protection", "tags",
	}}
	bucketSchema    = &blockSchema{what: "a bucket block", attrs: []string{"name", "logical_id", "moved_from", "region", "versioning", "tags", "discard_noncurrent_versions"}}
	serviceSchema   = &blockSchema{what: "a service block", attrs: []string{"autoscaling_group", "logical_id"}}
	migrationSchema = &blockSchema{
		what:   "a migration block",
		attrs:  []string{"strategy", "temporary_suffix"},
		blocks: []hcl.BlockHeaderSchema{{Type: "verify"}},
	}
	verifySchema = &blockSchema{
		what:   "a verify block",
		attrs:  []string{"objects"},
		blocks: []hcl.BlockHeaderSchema{labelled("http", "name"), labelled("command", "name")},
	}
	httpSchema    = &blockSchema{what: "an http block", attrs: []string{"url", "status", "timeout"}}
	commandSchema = &blockSchema{what: "a command block", attrs: []string{"run"}}
)

// content decodes body against s and reports every argument or block that
// s does not accept, the same way in both syntaxes. It also returns the
// names suggested for misspelt arguments ("did you mean"), so that a
// misspelt required argument is not also reported as missing.
func (l *loader) content(body hcl.Body, s *blockSchema) (*hcl.BodyContent, map[string]bool) {
	c, remain, diags := body.PartialContent(s.hcl())
	l.diags = append(l.diags, diags...)
	return c, l.reportUnknown(body, remain, s)
}

// reportUnknown reports what PartialContent left over. The native syntax
// tells arguments from blocks; in JSON every leftover property is reported
// as an argument unless its name is close to a block type.
func (l *loader) reportUnknown(body, remain hcl.Body, s *blockSchema) map[string]bool {
	suggested := map[string]bool{}
	if sb, ok := body.(*hclsyntax.Body); ok {
		attrs := make([]*hclsyntax.Attribute, 0, len(sb.Attributes))
		for _, a := range sb.Attributes {
			if !slices.Contains(s.attrs, a.Name) {
				attrs = append(attrs, a)
			}
		}
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].NameRange.Start.Byte < attrs[j].NameRange.Start.Byte })
		for _, a := range attrs {
			l.unknownArgument(a.Name, a.NameRange, s)
			suggested[suggest(a.Name, s.attrs)] = true
		}
		for _, b := range sb.Blocks {
			if !slices.Contains(s.blockTypes(), b.Type) {
				l.unknownBlock(b.Type, b.TypeRange, s)
			}
		}
		return suggested
	}
	attrs, _ := remain.JustAttributes()
	names := sortedKeys(attrs)
	sort.SliceStable(names, func(i, j int) bool {
		return attrs[names[i]].NameRange.Start.Byte < attrs[names[j]].NameRange.Start.Byte
	})
	for _, n := range names {
		if suggest(n, s.blockTypes()) != "" && suggest(n, s.attrs) == "" {
			l.unknownBlock(n, attrs[n].NameRange, s)
			continue
		}
		l.unknownArgument(n, attrs[n].NameRange, s)
		suggested[suggest(n, s.attrs)] = true
	}
	return suggested
}

func (l *loader) unknownArgument(name string, rng hcl.Range, s *blockSchema) {
	var hint string
	switch {
	case slices.Contains(s.blockTypes(), name):
		hint = fmt.Sprintf(" Did you mean to define a block of type %q? Write it as %s { ... }, without the equals sign.", name, name)
	case suggest(name, s.attrs) != "":
		hint = didYouMean(name, s.attrs)
	case len(s.attrs) > 0:
		hint = fmt.Sprintf(" Remove it; %s accepts %s.", s.what, quotedList(s.attrs))
	default:
		hint = fmt.Sprintf(" Remove it; %s accepts no arguments, only blocks (%s).", s.what, quotedList(s.blockTypes()))
	}
	l.errorf(rng.Ptr(), "Unsupported argument", "An argument named %q is not expected %s.%s", name, s.where(), hint)
}

func (l *loader) unknownBlock(name string, rng hcl.Range, s *blockSchema) {
	var hint string
	switch {
	case slices.Contains(s.attrs, name):
		hint = fmt.Sprintf(" Did you mean to define argument %q? Assign it a value with an equals sign: %s = ...", name, name)
	case suggest(name, s.blockTypes()) != "":
		hint = didYouMean(name, s.blockTypes())
	case len(s.blocks) > 0:
		hint = fmt.Sprintf(" Remove it; %s accepts the blocks %s.", s.what, quotedList(s.blockTypes()))
	default:
		hint = fmt.Sprintf(" Remove it; %s accepts no blocks.", s.what)
	}
	l.errorf(rng.Ptr(), "Unsupported block type", "Blocks of type %q are not expected %s.%s", name, s.where(), strings.TrimRight(hint, " "))
}

// Reference lists every block of the spec language by path ("aws",
// "environment.database", "environment.migration.verify.http") with the
// attributes it accepts, sorted. docs/configuration.md is checked against it.
func Reference() map[string][]string {
	out := map[string][]string{}
	add := func(path string, s *blockSchema) {
		out[path] = slices.Sorted(slices.Values(s.attrs))
	}
	add("aws", awsSchema)
	add("variable", variableSchema)
	out["locals"] = nil // any name
	add("environment", environmentSchema)
	add("environment.database", databaseSchema)
	add("environment.bucket", bucketSchema)
	add("environment.service", serviceSchema)
	add("environment.migration", migrationSchema)
	add("environment.switch", switchSchema)
	add("environment.switch.command", switchCommandSchema)
	add("environment.template", templateSchema)
	add("state", stateSchema)
	add("state.s3", stateS3Schema)
	add("environment.migration.verify", verifySchema)
	add("environment.migration.verify.http", httpSchema)
	add("environment.migration.verify.command", commandSchema)
	return out
}

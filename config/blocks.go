package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// decodeState decodes the state block; a spec has at most one.
func (l *loader) decodeState(blocks []*hcl.Block) {
	for i, b := range blocks {
		if i > 0 {
			l.errorf(b.DefRange.Ptr(), "Duplicate state block",
				"A state block is already defined at %s. A spec has at most one; merge the two.", blocks[0].DefRange)
			continue
		}
		c, _ := l.content(b.Body, stateSchema)
		st := &State{DeclRange: b.DefRange}
		for j, sb := range c.Blocks {
			if j > 0 {
				l.errorf(sb.DefRange.Ptr(), "Duplicate s3 block", "The state block already has an s3 block at %s.", c.Blocks[0].DefRange)
				continue
			}
			st.S3 = l.decodeStateS3(sb)
		}
		if st.S3 == nil {
			l.errorf(b.DefRange.Ptr(), "Empty state block",
				"The state block names where journals live, and it names no backend. Add s3 { bucket = \"...\" }, or remove the block to keep journals in the local .envmig directory.")
		}
		l.cfg.State = st
		l.checkStateBucket()
	}
}

func (l *loader) decodeStateS3(b *hcl.Block) *S3State {
	c, misspelt := l.content(b.Body, stateS3Schema)
	a := c.Attributes
	s := &S3State{DeclRange: b.DefRange}
	bucket, bs := l.strState(a, "bucket")
	switch {
	case bs == valid:
		s.Bucket = bucket
		l.checkBucketName(bucket, a["bucket"].Expr.Range(), "Invalid state bucket name")
	case bs == absent && !misspelt["bucket"]:
		l.errorf(b.DefRange.Ptr(), "Missing state bucket",
			"The s3 state backend needs the bucket its journals live in: add bucket = \"...\" (a versioned, encrypted bucket that no environment migrates).")
	}
	s.Prefix = l.str(a, "prefix")
	if s.Prefix != "" && (strings.HasPrefix(s.Prefix, "/") || strings.Contains(s.Prefix, "//")) {
		l.errorf(a["prefix"].Expr.Range().Ptr(), "Invalid state prefix",
			"%q is not a usable key prefix: it may not start with a slash or contain two slashes in a row. Use something like \"envmig/\".", s.Prefix)
	}
	s.Region = l.str(a, "region")
	if s.Region != "" {
		l.checkRegion(s.Region, a["region"].Expr.Range())
	}
	return s
}

// checkStateBucket refuses a state bucket that an environment migrates:
// a migration would copy, empty or delete the journal it writes to.
func (l *loader) checkStateBucket() {
	st := l.cfg.State
	if st == nil || st.S3 == nil || st.S3.Bucket == "" {
		return
	}
	for _, env := range l.cfg.Environments {
		for _, b := range env.Buckets {
			if b.BucketName == st.S3.Bucket || b.MovedFrom == st.S3.Bucket {
				l.errorf(st.S3.DeclRange.Ptr(), "State bucket is migrated",
					"The state bucket %q is also bucket.%s of environment %q. envmig never keeps its journal in a bucket it migrates: a migration copies, empties or deletes it. Use a bucket of its own for state.",
					st.S3.Bucket, b.Name, env.Name)
			}
		}
	}
}

// decodeSwitch decodes a switch block: exactly one kind.
func (l *loader) decodeSwitch(b *hcl.Block) *Switch {
	c, _ := l.content(b.Body, switchSchema)
	sw := &Switch{Name: b.Labels[0], DeclRange: b.DefRange}
	var kinds []string
	for _, k := range []string{SwitchEventBridgeRule, SwitchSchedule, SwitchECSService, SwitchLambdaEventSource} {
		v, st := l.strState(c.Attributes, k)
		if st == absent {
			continue
		}
		kinds = append(kinds, k)
		sw.Kind, sw.Target = k, v
		if st == valid {
			l.checkSwitchTarget(k, v, c.Attributes[k].Expr.Range())
		}
	}
	for i, cb := range c.Blocks {
		if i > 0 {
			l.errorf(cb.DefRange.Ptr(), "Duplicate command block", "Switch %q already has a command block at %s.", sw.Name, c.Blocks[0].DefRange)
			continue
		}
		kinds = append(kinds, SwitchCommand)
		sw.Kind, sw.Target = SwitchCommand, ""
		l.decodeSwitchCommand(cb, sw)
	}
	switch {
	case len(kinds) == 0:
		l.errorf(b.DefRange.Ptr(), "Empty switch",
			"Switch %q names nothing to switch off. Give it one of %s = \"...\", or a command { off = \"...\" on = \"...\" } block.",
			sw.Name, quotedList([]string{SwitchEventBridgeRule, SwitchSchedule, SwitchECSService, SwitchLambdaEventSource}))
	case len(kinds) > 1:
		l.errorf(b.DefRange.Ptr(), "Switch of several kinds",
			"Switch %q has %s; a switch turns one thing off. Write one switch block for each.", sw.Name, strings.Join(kinds, " and "))
	}
	return sw
}

func (l *loader) checkSwitchTarget(kind, v string, rng hcl.Range) {
	switch kind {
	case SwitchECSService:
		cluster, service, ok := strings.Cut(v, "/")
		if !ok || cluster == "" || service == "" || strings.Contains(service, "/") {
			l.errorf(&rng, "Invalid ECS service",
				"%q does not name an ECS service. Write it as \"CLUSTER/SERVICE\", such as \"acme/worker\".", v)
		}
	case SwitchSchedule:
		if strings.Count(v, "/") > 1 || strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") {
			l.errorf(&rng, "Invalid schedule",
				"%q does not name an EventBridge Scheduler schedule. Write \"NAME\" (group \"default\") or \"GROUP/NAME\".", v)
		}
	case SwitchEventBridgeRule:
		if strings.Count(v, "/") > 1 || strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") {
			l.errorf(&rng, "Invalid EventBridge rule",
				"%q does not name an EventBridge rule. Write \"NAME\" (the default event bus) or \"BUS/NAME\".", v)
		}
	case SwitchLambdaEventSource:
		if len(v) != 36 || strings.Count(v, "-") != 4 {
			l.errorf(&rng, "Invalid event source mapping",
				"%q is not a Lambda event source mapping UUID (36 characters such as \"a1b2c3d4-5678-90ab-cdef-11111EXAMPLE\"). `aws lambda list-event-source-mappings` lists them.", v)
		}
	}
}

func (l *loader) decodeSwitchCommand(b *hcl.Block, sw *Switch) {
	c, misspelt := l.content(b.Body, switchCommandSchema)
	a := c.Attributes
	var offs, ons state
	sw.Off, offs = l.strState(a, "off")
	sw.On, ons = l.strState(a, "on")
	if offs == absent && !misspelt["off"] {
		l.errorf(b.DefRange.Ptr(), "Missing off", "The command switch %q needs the command that switches it off: add off = \"...\".", sw.Name)
	}
	if ons == absent && !misspelt["on"] {
		l.errorf(b.DefRange.Ptr(), "Missing on", "The command switch %q needs the command that switches it back on: add on = \"...\".", sw.Name)
	}
	sw.Timeout = DefaultSwitchTimeout
	if t := l.str(a, "timeout"); t != "" {
		if l.checkTimeout(t, a["timeout"].Expr.Range()) {
			sw.Timeout = t
		}
	}
}

// decodeTemplate decodes an environment's template block.
func (l *loader) decodeTemplate(b *hcl.Block) *Template {
	c, misspelt := l.content(b.Body, templateSchema)
	a := c.Attributes
	t := &Template{DeclRange: b.DefRange}
	file, fs := l.strState(a, "file")
	switch {
	case fs == valid:
		t.File = file
		t.Body = l.checkTemplateFile(file, a["file"].Expr.Range())
	case fs == absent && !misspelt["file"]:
		l.errorf(b.DefRange.Ptr(), "Missing template file",
			"The template block needs the template of the environment's new version: add file = \"env-v2.yaml\" (a path beside the spec).")
	}
	t.Parameters, _ = l.stringMap(a, "parameters")
	t.EnvironmentParameter = l.str(a, "environment_parameter")
	t.SnapshotParameter = l.str(a, "snapshot_parameter")
	return t
}

// checkTemplateFile requires a template file inside the spec's directory:
// the template is the environment's version and is reviewed with the spec.
// It returns the file's content ("" when it cannot be read).
func (l *loader) checkTemplateFile(file string, rng hcl.Range) string {
	if filepath.IsAbs(file) || strings.HasPrefix(filepath.Clean(file), "..") {
		l.errorf(&rng, "Template outside the spec's directory",
			"%q is not beside the spec. Keep the template in the spec's directory (or below it) so that it is versioned and reviewed with the spec.", file)
		return ""
	}
	path := filepath.Join(l.cfg.Dir, file)
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		l.errorf(&rng, "Template file not found", "Reading %q failed: %s.", path, trimPathError(err))
	case fi.IsDir():
		l.errorf(&rng, "Template file is a directory", "%q is a directory; name the template file itself.", path)
	default:
		body, err := os.ReadFile(path)
		if err != nil {
			l.errorf(&rng, "Cannot read the template file", "Reading %q failed: %s.", path, trimPathError(err))
			return ""
		}
		return string(body)
	}
	return ""
}

// trimPathError drops the path an *os.PathError repeats.
func trimPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// checkStackBlocks checks what an environment's stack needs: a template only
// with a stack, and stack-swap only with both.
func (l *loader) checkStackBlocks(env *Environment) {
	if env.Template != nil && env.Stack == "" {
		l.errorf(env.Template.DeclRange.Ptr(), "Template without a stack",
			"A template block is the new version of the CloudFormation stack the environment is; environment %q names no stack. Add stack = \"NAME\".", env.Name)
	}
	if env.Migration.Strategy != StrategyStackSwap {
		return
	}
	rng := env.Migration.DeclRange
	switch {
	case env.Stack == "":
		l.errorf(&rng, "stack-swap without a stack",
			"Strategy \"stack-swap\" migrates an environment that is a CloudFormation stack, and environment %q names none. Add stack = \"NAME\" and a template block, or use \"rename-swap\".", env.Name)
	case env.Template == nil:
		l.errorf(&rng, "stack-swap without a template",
			"Strategy \"stack-swap\" builds the environment again from its new template. Add template { file = \"...\" environment_parameter = \"...\" snapshot_parameter = \"...\" } to environment %q.", env.Name)
	case env.Template.EnvironmentParameter == "":
		l.errorf(env.Template.DeclRange.Ptr(), "Missing environment_parameter",
			"stack-swap creates a second copy of the stack under a temporary name, so the template must take the environment's name as a parameter: set environment_parameter to that parameter's name.")
	}
}

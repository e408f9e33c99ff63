package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Defaults applied when the spec leaves them out.
const (
	DefaultStrategy        = StrategyRenameSwap
	DefaultTemporarySuffix = "-envmig"
	DefaultVerifyObjects   = VerifyChecksum
	DefaultHTTPStatus      = 200
	DefaultHTTPTimeout     = "10s"
)

// decoded resources keep their attributes for the environment-wide checks.
type (
	dbDecl struct {
		*Database
		attrs hcl.Attributes
	}
	bucketDecl struct {
		*Bucket
		attrs hcl.Attributes
	}
	serviceDecl struct {
		*Service
		attrs hcl.Attributes
	}
)

// decodeAWS decodes the aws block; a spec has at most one.
func (l *loader) decodeAWS(blocks []*hcl.Block) {
	for i, b := range blocks {
		if i > 0 {
			l.errorf(b.DefRange.Ptr(), "Duplicate aws block",
				"An aws block is already defined at %s. A spec has at most one aws block; merge the two.", blocks[0].DefRange)
			continue
		}
		c, _ := l.content(b.Body, awsSchema)
		a := c.Attributes
		aws := AWS{DeclRange: b.DefRange}
		aws.Region = l.str(a, "region")
		if aws.Region != "" {
			l.checkRegion(aws.Region, a["region"].Expr.Range())
		}
		ids, ranges := l.stringList(a, "allowed_account_ids")
		for i, id := range ids {
			if !accountID.MatchString(id) {
				l.errorf(&ranges[i], "Invalid AWS account ID",
					"%q is not an AWS account ID. Account IDs are exactly 12 digits, such as \"123456789012\"; write them as quoted strings so leading zeros are kept.", id)
			}
		}
		aws.AllowedAccountIDs = ids
		aws.Profile = l.str(a, "profile")
		l.cfg.AWS = aws
	}
}

// decodeEnvironments decodes every environment block; names are unique.
func (l *loader) decodeEnvironments(blocks []*hcl.Block) {
	seen := map[string]*hcl.Block{}
	for _, b := range blocks {
		name := b.Labels[0]
		env := l.decodeEnvironment(b)
		if prev, dup := seen[name]; dup {
			l.errorf(b.LabelRanges[0].Ptr(), "Duplicate environment",
				"An environment named %q is already defined at %s. Environment names must be unique across all files; rename one of them or merge the two.", name, prev.DefRange)
			continue
		}
		seen[name] = b
		l.cfg.Environments = append(l.cfg.Environments, env)
	}
}

func (l *loader) decodeEnvironment(b *hcl.Block) *Environment {
	env := &Environment{Name: b.Labels[0], DeclRange: b.DefRange}
	l.checkEnvironmentName(env.Name, b.LabelRanges[0])
	c, _ := l.content(b.Body, environmentSchema)
	stack, stackState := l.strState(c.Attributes, "stack")
	if env.Stack = stack; stack != "" {
		l.checkStackName(stack, c.Attributes["stack"].Expr.Range())
	}
	ec := envCtx{env: env, stackSet: stackState != absent}
	var dbs []dbDecl
	var buckets []bucketDecl
	var services []serviceDecl
	var migration *hcl.Block
	labels := map[string]*hcl.Block{}
	for _, blk := range c.Blocks {
		if len(blk.Labels) > 0 {
			key := blk.Type + "." + blk.Labels[0]
			if prev, dup := labels[key]; dup {
				l.errorf(blk.LabelRanges[0].Ptr(), "Duplicate "+blk.Type+" block",
					"Another %s block named %q is in environment %q, at %s. Give every %s block of an environment a different name.",
					blk.Type, blk.Labels[0], env.Name, prev.DefRange, blk.Type)
				continue
			}
			labels[key] = blk
			l.checkLabel(blk)
		}
		switch blk.Type {
		case "database":
			d := l.decodeDatabase(blk, ec)
			dbs = append(dbs, d)
			env.Databases = append(env.Databases, d.Database)
		case "bucket":
			bk := l.decodeBucket(blk, ec)
			buckets = append(buckets, bk)
			env.Buckets = append(env.Buckets, bk.Bucket)
		case "service":
			s := l.decodeService(blk, ec)
			services = append(services, s)
			env.Services = append(env.Services, s.Service)
		case "switch":
			env.Switches = append(env.Switches, l.decodeSwitch(blk))
		case "template":
			if env.Template != nil {
				l.errorf(blk.DefRange.Ptr(), "Duplicate template block",
					"Environment %q already has a template block at %s. An environment has one template; merge the two.", env.Name, env.Template.DeclRange)
				continue
			}
			env.Template = l.decodeTemplate(blk)
		case "migration":
			if migration != nil {
				l.errorf(blk.DefRange.Ptr(), "Duplicate migration block",
					"Environment %q already has a migration block at %s. An environment has at most one; merge the two.", env.Name, migration.DefRange)
				continue
			}
			migration = blk
		}
	}
	env.Migration = l.decodeMigration(migration)
	l.checkStackBlocks(env)
	if len(dbs)+len(buckets) == 0 {
		l.warnf(b.DefRange.Ptr(), "Environment has nothing to migrate",
			"Environment %q has no database or bucket block, so a migration would only move its services in and out of standby. Add the databases and buckets it holds.", env.Name)
	}
	l.checkEnvironment(env, dbs, buckets, services)
	return env
}

func (l *loader) decodeDatabase(b *hcl.Block, ec envCtx) dbDecl {
	c, misspelt := l.content(b.Body, databaseSchema)
	a := c.Attributes
	d := &Database{Name: b.Labels[0], DeclRange: b.DefRange}
	var ids, lids state
	d.Identifier, ids = l.strState(a, "identifier")
	d.LogicalID, lids = l.strState(a, "logical_id")
	l.checkNaming(b, a, naming{"identifier", ids, d.LogicalID, lids}, ec, misspelt)
	if d.Identifier != "" {
		if p := rdsIdentifierProblem(d.Identifier); p != "" {
			l.errorf(a["identifier"].Expr.Range().Ptr(), "Invalid DB instance identifier",
				"%q %s. RDS DB instance identifiers are 1 to 63 letters, digits and hyphens, start with a letter, and have neither two hyphens in a row nor a hyphen at the end.",
				d.Identifier, p)
		}
	}
	d.Engine = l.str(a, "engine")
	if d.Engine != "" {
		l.checkEngine(d.Engine, a["engine"].Expr.Range())
	}
	d.EngineVersion = l.str(a, "engine_version")
	d.InstanceClass = l.str(a, "instance_class")
	if d.InstanceClass != "" && !instanceClass.MatchString(d.InstanceClass) {
		l.errorf(a["instance_class"].Expr.Range().Ptr(), "Invalid instance class",
			"%q is not an RDS DB instance class. Instance classes look like db.t3.large or db.r6g.xlarge.", d.InstanceClass)
	}
	d.AllocatedStorage = l.whole(a, "allocated_storage", 1, 65536, "the storage size in GiB")
	d.StorageEncrypted = l.boolPtr(a, "storage_encrypted")
	d.KMSKeyID = l.str(a, "kms_key_id")
	if d.KMSKeyID != "" && d.StorageEncrypted != nil && !*d.StorageEncrypted {
		l.errorf(a["kms_key_id"].Expr.Range().Ptr(), "KMS key without encryption",
			"kms_key_id names the key that encrypts the storage, but storage_encrypted is false. Set storage_encrypted = true, or remove kms_key_id.")
	}
	d.MultiAZ = l.boolPtr(a, "multi_az")
	d.DBSubnetGroup = l.str(a, "db_subnet_group")
	d.ParameterGroup = l.str(a, "parameter_group")
	d.DeletionProtection = l.boolPtr(a, "deletion_protection")
	d.Tags = l.tags(a)
	return dbDecl{Database: d, attrs: a}
}

func (l *loader) decodeBucket(b *hcl.Block, ec envCtx) bucketDecl {
	c, misspelt := l.content(b.Body, bucketSchema)
	a := c.Attributes
	bk := &Bucket{Name: b.Labels[0], DeclRange: b.DefRange}
	var names, lids state
	bk.BucketName, names = l.strState(a, "name")
	bk.LogicalID, lids = l.strState(a, "logical_id")
	l.checkNaming(b, a, naming{"name", names, bk.LogicalID, lids}, ec, misspelt)
	if bk.BucketName != "" {
		l.checkBucketName(bk.BucketName, a["name"].Expr.Range(), "Invalid bucket name")
	}
	bk.MovedFrom = l.str(a, "moved_from")
	if bk.MovedFrom != "" {
		rng := a["moved_from"].Expr.Range()
		l.checkBucketName(bk.MovedFrom, rng, "Invalid moved_from bucket name")
		if bk.MovedFrom == bk.BucketName {
			l.errorf(&rng, "moved_from names the bucket itself",
				"moved_from names the live bucket whose objects move into %q, so it must be a different bucket. Remove moved_from if the bucket keeps its name.", bk.BucketName)
		}
	}
	bk.Region = l.str(a, "region")
	if bk.Region != "" {
		l.checkRegion(bk.Region, a["region"].Expr.Range())
	}
	bk.Versioning = l.boolPtr(a, "versioning")
	bk.Tags = l.tags(a)
	if v := l.boolPtr(a, "discard_noncurrent_versions"); v != nil {
		bk.DiscardNoncurrentVersions = *v
	}
	return bucketDecl{Bucket: bk, attrs: a}
}

func (l *loader) decodeService(b *hcl.Block, ec envCtx) serviceDecl {
	c, misspelt := l.content(b.Body, serviceSchema)
	a := c.Attributes
	s := &Service{Name: b.Labels[0], DeclRange: b.DefRange}
	var groups, lids state
	s.AutoScalingGroup, groups = l.strState(a, "autoscaling_group")
	s.LogicalID, lids = l.strState(a, "logical_id")
	l.checkNaming(b, a, naming{"autoscaling_group", groups, s.LogicalID, lids}, ec, misspelt)
	if n := len(s.AutoScalingGroup); n > 255 {
		l.errorf(a["autoscaling_group"].Expr.Range().Ptr(), "Invalid Auto Scaling group name",
			"The name is %d characters long; Auto Scaling group names have at most 255.", n)
	}
	return serviceDecl{Service: s, attrs: a}
}

// decodeMigration decodes the migration block (nil: all defaults).
func (l *loader) decodeMigration(b *hcl.Block) Migration {
	m := Migration{
		Strategy:        DefaultStrategy,
		TemporarySuffix: DefaultTemporarySuffix,
		Verify:          Verify{Objects: DefaultVerifyObjects},
	}
	if b == nil {
		return m
	}
	m.DeclRange = b.DefRange
	c, _ := l.content(b.Body, migrationSchema)
	a := c.Attributes
	if s := l.str(a, "strategy"); s != "" {
		if l.checkStrategy(s, a["strategy"].Expr.Range()) {
			m.Strategy = s
		}
	}
	if v, ok := l.eval(a["temporary_suffix"], cty.String); ok {
		if l.checkSuffix(v.AsString(), a["temporary_suffix"].Expr.Range()) {
			m.TemporarySuffix = v.AsString()
		} else {
			m.TemporarySuffix = ""
		}
	}
	for i, vb := range c.Blocks {
		if i > 0 {
			l.errorf(vb.DefRange.Ptr(), "Duplicate verify block",
				"This migration block already has a verify block at %s. A migration has at most one; merge the two.", c.Blocks[0].DefRange)
			continue
		}
		m.Verify = l.decodeVerify(vb)
	}
	return m
}

func (l *loader) decodeVerify(b *hcl.Block) Verify {
	v := Verify{Objects: DefaultVerifyObjects}
	c, _ := l.content(b.Body, verifySchema)
	if o := l.str(c.Attributes, "objects"); o != "" {
		if l.checkObjects(o, c.Attributes["objects"].Expr.Range()) {
			v.Objects = o
		}
	}
	seen := map[string]*hcl.Block{}
	for _, blk := range c.Blocks {
		key := blk.Type + "." + blk.Labels[0]
		if prev, dup := seen[key]; dup {
			l.errorf(blk.LabelRanges[0].Ptr(), "Duplicate "+blk.Type+" check",
				"Another %s check named %q is defined at %s. Give every check a different name.", blk.Type, blk.Labels[0], prev.DefRange)
			continue
		}
		seen[key] = blk
		l.checkLabel(blk)
		switch blk.Type {
		case "http":
			v.HTTP = append(v.HTTP, l.decodeHTTP(blk))
		case "command":
			v.Commands = append(v.Commands, l.decodeCommand(blk))
		}
	}
	return v
}

func (l *loader) decodeHTTP(b *hcl.Block) *HTTPCheck {
	c, misspelt := l.content(b.Body, httpSchema)
	a := c.Attributes
	h := &HTTPCheck{Name: b.Labels[0], Status: DefaultHTTPStatus, Timeout: DefaultHTTPTimeout, DeclRange: b.DefRange}
	url, urls := l.strState(a, "url")
	switch {
	case urls == valid:
		h.URL = url
		l.checkURL(url, a["url"].Expr.Range())
	case urls == absent && !misspelt["url"]:
		l.errorf(b.DefRange.Ptr(), "Missing url",
			"The http check %q needs the URL to probe: add url = \"https://...\".", h.Name)
	}
	if s := l.whole(a, "status", 100, 599, "an HTTP status code"); s != nil {
		h.Status = int(*s)
	}
	if t := l.str(a, "timeout"); t != "" {
		if l.checkTimeout(t, a["timeout"].Expr.Range()) {
			h.Timeout = t
		}
	}
	return h
}

func (l *loader) decodeCommand(b *hcl.Block) *CommandCheck {
	c, misspelt := l.content(b.Body, commandSchema)
	cmd := &CommandCheck{Name: b.Labels[0], DeclRange: b.DefRange}
	run, runs := l.strState(c.Attributes, "run")
	cmd.Run = run
	if runs == absent && !misspelt["run"] {
		l.errorf(b.DefRange.Ptr(), "Missing run",
			"The command check %q needs the command to run: add run = \"...\" (a shell command; exit status 0 passes).", cmd.Name)
	}
	return cmd
}

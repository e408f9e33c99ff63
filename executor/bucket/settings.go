package bucket

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/s3settings"
)

// Carrying a bucket's settings
//
// A bucket that a migration creates in the place of another (a new name
// with moved_from, the same name in another region, a clone, or envmig's
// temporary working copy) receives the source's bucket settings in two
// phases:
//
//  1. ConfigureAtCreate, right after the bucket is created and tagged by
//     the run and before any object is copied: what decides how objects are
//     stored — object ownership, default encryption (algorithm, KMS key,
//     bucket key), the public-access block, request payment, the source's
//     user tags, and object lock itself (enabled only; see
//     SettingsCarry.ObjectLockAtCreate).
//  2. ConfigureAfterCopy, once the copy is verified: what acts on objects or
//     on users — object lock's default retention, lifecycle, CORS, website,
//     transfer acceleration, replication, notifications, logging and, last,
//     the policy (a policy with conditions can deny the run's own requests);
//     logging into the bucket itself comes after the policy, which is what
//     grants the logging service its writes.
//
// Object lock's default retention waits for phase 2 so that the copied
// objects are not locked by it: a run rolled back can still delete them.
//
// A temporary bucket gets phase 1's protective part only: the source's
// ownership and encryption, and a public-access block that blocks all
// public access whatever the source's. Never lifecycle (it could expire
// objects in the middle of the migration), notifications (every copied
// object would fire an event), replication, or any other setting.
//
// When the destination's name differs from the source's, the bucket's own
// name is rewritten where the configuration names the bucket itself: its
// ARNs in the policy and a logging target that is the bucket itself
// (s3settings.Config.Rewrite says exactly what is and is not rewritten).
//
// Both phases are idempotent and observe first: they read the source (and
// check it against the plan's digests), read the destination, put only the
// settings that differ, and read the destination back until it shows them
// (S3 bucket configuration is eventually consistent). A re-run after a
// crash puts what is still missing; a re-run of a finished phase makes no
// mutating call. A source whose setting changed since the plan is refused
// with a *SettingsChangedError naming the settings: the reviewed plan
// carries the reviewed settings only.

// SettingsReader reads a bucket's settings; *s3.Client satisfies it.
type SettingsReader interface {
	s3settings.API
}

// SettingsAPI reads and writes a bucket's settings; *s3.Client satisfies it.
type SettingsAPI interface {
	SettingsReader
	PutBucketPolicy(ctx context.Context, in *s3.PutBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	DeletePublicAccessBlock(ctx context.Context, in *s3.DeletePublicAccessBlockInput, optFns ...func(*s3.Options)) (*s3.DeletePublicAccessBlockOutput, error)
	PutBucketOwnershipControls(ctx context.Context, in *s3.PutBucketOwnershipControlsInput, optFns ...func(*s3.Options)) (*s3.PutBucketOwnershipControlsOutput, error)
	PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, optFns ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	PutBucketLifecycleConfiguration(ctx context.Context, in *s3.PutBucketLifecycleConfigurationInput, optFns ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error)
	PutBucketCors(ctx context.Context, in *s3.PutBucketCorsInput, optFns ...func(*s3.Options)) (*s3.PutBucketCorsOutput, error)
	PutBucketNotificationConfiguration(ctx context.Context, in *s3.PutBucketNotificationConfigurationInput, optFns ...func(*s3.Options)) (*s3.PutBucketNotificationConfigurationOutput, error)
	PutBucketLogging(ctx context.Context, in *s3.PutBucketLoggingInput, optFns ...func(*s3.Options)) (*s3.PutBucketLoggingOutput, error)
	PutBucketWebsite(ctx context.Context, in *s3.PutBucketWebsiteInput, optFns ...func(*s3.Options)) (*s3.PutBucketWebsiteOutput, error)
	PutBucketRequestPayment(ctx context.Context, in *s3.PutBucketRequestPaymentInput, optFns ...func(*s3.Options)) (*s3.PutBucketRequestPaymentOutput, error)
	PutBucketTagging(ctx context.Context, in *s3.PutBucketTaggingInput, optFns ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error)
	PutObjectLockConfiguration(ctx context.Context, in *s3.PutObjectLockConfigurationInput, optFns ...func(*s3.Options)) (*s3.PutObjectLockConfigurationOutput, error)
	PutBucketReplication(ctx context.Context, in *s3.PutBucketReplicationInput, optFns ...func(*s3.Options)) (*s3.PutBucketReplicationOutput, error)
	PutBucketAccelerateConfiguration(ctx context.Context, in *s3.PutBucketAccelerateConfigurationInput, optFns ...func(*s3.Options)) (*s3.PutBucketAccelerateConfigurationOutput, error)
}

var _ SettingsAPI = (*s3.Client)(nil)

// SettingsCarry is one carrying of settings, as the plan states it.
type SettingsCarry struct {
	// Source is the bucket whose settings are carried; Destination the
	// bucket that receives them (a different name gets the name rewrites).
	Source, Destination string
	// Expected maps every setting the plan carries (s3settings names:
	// "lifecycle", ...) to the digest the plan recorded of it on Source
	// (planner/live BucketSetting.Digest, "absent" included). Only these
	// settings are read, checked and applied.
	Expected map[string]string
	// Temporary marks envmig's own working copy: only ownership, encryption
	// and the public-access block may be carried, and the public-access
	// block put is one that blocks all public access.
	Temporary bool
	// CapturedBy, when set, is the ID of an earlier step of the run that
	// journaled Source's settings with CaptureSettings, because Source no
	// longer exists when this carry runs (a region move deletes the original
	// before it re-creates the name). The settings are then taken from that
	// journal instead of being read.
	CapturedBy string
}

// SettingsClients are the clients a carry uses.
type SettingsClients struct {
	// Source is a client of the source's region (unused with CapturedBy).
	Source SettingsReader
	// Destination is a client of the destination's region.
	Destination SettingsAPI
	// VisibleWithin bounds how long the destination may show an older
	// configuration after a put (default 1 minute).
	VisibleWithin time.Duration
}

func (c SettingsClients) visibleWithin() time.Duration {
	if c.VisibleWithin > 0 {
		return c.VisibleWithin
	}
	return time.Minute
}

// Journal keys.
const (
	// CapturedSettingsKey holds, in the journal of the step that called
	// CaptureSettings, the source's settings as s3settings.Config.Encode
	// wrote them.
	CapturedSettingsKey = "source_settings"
	// The settings each phase left verified on the destination, comma
	// separated.
	settingsAtCreateKey  = "settings_at_create"
	settingsAfterCopyKey = "settings_after_copy"
)

// The settings of each phase, in the order they are applied.
var (
	atCreateOrder  = []s3settings.Name{s3settings.Ownership, s3settings.Encryption, s3settings.PublicAccessBlock, s3settings.RequestPayment, s3settings.Tags, s3settings.ObjectLock}
	afterCopyOrder = []s3settings.Name{s3settings.ObjectLock, s3settings.Lifecycle, s3settings.CORS, s3settings.Website, s3settings.Accelerate,
		s3settings.Replication, s3settings.Notifications, s3settings.Logging, s3settings.Policy}
	// temporarySettings are all a temporary bucket may receive.
	temporarySettings = []s3settings.Name{s3settings.Ownership, s3settings.Encryption, s3settings.PublicAccessBlock}
)

// SettingsChangedError refuses a carry because settings of the source no
// longer match the plan's digests.
type SettingsChangedError struct {
	Bucket  string
	Changes []SettingChange
}

// SettingChange is one setting whose digest differs from the plan's.
type SettingChange struct {
	Setting string
	// Planned and Found are digests; Now is the setting's summary today.
	Planned, Found, Now string
}

func (e *SettingsChangedError) Error() string {
	var parts []string
	for _, c := range e.Changes {
		parts = append(parts, fmt.Sprintf("%s (planned %s, now %s — %s)", c.Setting, c.Planned, c.Found, c.Now))
	}
	return fmt.Sprintf("bucket %s: settings changed since the plan was made: %s; envmig carries only the settings that were reviewed: run `envmig plan` again", e.Bucket, strings.Join(parts, "; "))
}

// names returns the carried settings in s3settings.All's order, after
// checking that each is known and that a temporary bucket gets only its
// protective subset.
func (c SettingsCarry) names() ([]s3settings.Name, error) {
	var out []s3settings.Name
	for k := range c.Expected {
		n := s3settings.Name(k)
		if !s3settings.Known(n) {
			return nil, fmt.Errorf("carry settings of %s to %s: unknown setting %q: the plan is malformed", c.Source, c.Destination, k)
		}
		if c.Temporary && !slices.Contains(temporarySettings, n) {
			return nil, fmt.Errorf("carry settings of %s to %s: the plan carries %s to a temporary bucket, which gets only ownership, encryption and a public-access block: refused", c.Source, c.Destination, k)
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b s3settings.Name) int {
		return slices.Index(s3settings.All, a) - slices.Index(s3settings.All, b)
	})
	return out, nil
}

// ObjectLockAtCreate reports whether the destination must be created with
// object lock enabled (CreateBucketInput.ObjectLockEnabledForBucket): the
// plan carries an object lock the source has. Object lock is best enabled
// at creation; ConfigureAtCreate also enables it on a versioned, empty
// bucket created without it.
func (c SettingsCarry) ObjectLockAtCreate() bool {
	d := c.Expected[string(s3settings.ObjectLock)]
	return !c.Temporary && d != "" && d != s3settings.DigestAbsent && d != s3settings.DigestUnsupported
}

// CheckSettings reads the carried settings of carry.Source and compares
// them with the plan's digests. It changes nothing and journals nothing: it
// suits a freeze check before the point of no return. It returns what it
// read, or a *SettingsChangedError.
func CheckSettings(ctx context.Context, src SettingsReader, carry SettingsCarry) (*s3settings.Config, error) {
	names, err := carry.names()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return &s3settings.Config{Bucket: carry.Source, States: map[s3settings.Name]s3settings.State{}}, nil
	}
	cfg, err := s3settings.Read(ctx, src, carry.Source, names...)
	if err != nil {
		return nil, err
	}
	return cfg, carry.check(cfg, names)
}

func (c SettingsCarry) check(cfg *s3settings.Config, names []s3settings.Name) error {
	var changes []SettingChange
	for _, n := range names {
		if got, want := cfg.Digest(n), c.Expected[string(n)]; got != want {
			changes = append(changes, SettingChange{Setting: string(n), Planned: want, Found: got, Now: cfg.Summary(n)})
		}
	}
	if len(changes) > 0 {
		return &SettingsChangedError{Bucket: c.Source, Changes: changes}
	}
	return nil
}

// CaptureSettings reads and checks carry.Source's carried settings (as
// CheckSettings) and journals them under CapturedSettingsKey in sc's step,
// for a later carry whose CapturedBy names this step. Idempotent: once
// journaled, the settings are returned from the journal without a read.
func CaptureSettings(ctx context.Context, sc *executor.StepContext, src SettingsReader, carry SettingsCarry) (*s3settings.Config, error) {
	if v := sc.Value(CapturedSettingsKey); v != "" {
		return s3settings.Decode(v)
	}
	cfg, err := CheckSettings(ctx, src, carry)
	if err != nil {
		return nil, err
	}
	enc, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	if err := sc.Record(CapturedSettingsKey, enc); err != nil {
		return nil, err
	}
	return cfg, nil
}

// source returns the source's settings: from the capturing step's journal,
// or read now; checked against the plan's digests either way.
func (c SettingsCarry) source(ctx context.Context, sc *executor.StepContext, cl SettingsClients) (*s3settings.Config, error) {
	names, err := c.names()
	if err != nil {
		return nil, err
	}
	if c.CapturedBy == "" {
		return CheckSettings(ctx, cl.Source, c)
	}
	v := sc.StepValue(c.CapturedBy, CapturedSettingsKey)
	if v == "" {
		return nil, fmt.Errorf("carry settings of %s to %s: step %s has not captured them (it has not run, or the plan is malformed)", c.Source, c.Destination, c.CapturedBy)
	}
	cfg, err := s3settings.Decode(v)
	if err != nil {
		return nil, fmt.Errorf("carry settings of %s to %s: the settings step %s captured: %w", c.Source, c.Destination, c.CapturedBy, err)
	}
	return cfg, c.check(cfg, names)
}

// ConfigureAtCreate runs phase 1 (see "Carrying a bucket's settings"): call
// it from the bucket's create step once the bucket exists and carries the
// run's tags, before anything is copied into it. Like ConfigureAfterCopy,
// it refuses a destination without this run's envmig:run tag. Tags are merged: the
// source's user tags are added where the destination has no tag of that key
// (the run's and the spec's tags win). It journals the settings it left
// verified under "settings_at_create".
func ConfigureAtCreate(ctx context.Context, sc *executor.StepContext, cl SettingsClients, carry SettingsCarry) error {
	return configure(ctx, sc, cl, carry, atCreateOrder, settingsAtCreateKey, true)
}

// ConfigureAfterCopy runs phase 2 (see "Carrying a bucket's settings"):
// call it from a step that follows the destination's verified copy. For a
// temporary bucket it does nothing. It journals the settings it left
// verified under "settings_after_copy".
func ConfigureAfterCopy(ctx context.Context, sc *executor.StepContext, cl SettingsClients, carry SettingsCarry) error {
	return configure(ctx, sc, cl, carry, afterCopyOrder, settingsAfterCopyKey, false)
}

func configure(ctx context.Context, sc *executor.StepContext, cl SettingsClients, carry SettingsCarry, order []s3settings.Name, key string, atCreate bool) error {
	names, err := carry.names()
	if err != nil {
		return err
	}
	var phase []s3settings.Name
	for _, n := range order {
		if slices.Contains(names, n) {
			phase = append(phase, n)
		}
	}
	if len(phase) == 0 {
		return sc.Record(key, "")
	}
	if err := runOwned(ctx, sc, cl.Destination, carry.Destination); err != nil {
		return err
	}
	src, err := carry.source(ctx, sc, cl)
	if err != nil {
		return err
	}
	want := carry.target(src, atCreate)
	var todo []s3settings.Name
	for _, n := range phase {
		if want.State(n) == s3settings.Present || (n == s3settings.PublicAccessBlock && want.State(n) == s3settings.Absent) {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		return sc.Record(key, "")
	}
	sc.Report(executor.Progress{Message: fmt.Sprintf("carrying %d settings of s3://%s to s3://%s", len(todo), carry.Source, carry.Destination), Percent: -1})
	if err := apply(ctx, sc, cl.Destination, carry, want, todo, atCreate); err != nil {
		return err
	}
	if err := verify(ctx, sc, cl, carry, want, todo, atCreate); err != nil {
		return err
	}
	done := make([]string, len(todo))
	for i, n := range todo {
		done[i] = string(n)
	}
	return sc.Record(key, strings.Join(done, ","))
}

// runOwned refuses a destination that does not carry this run's tag:
// settings are carried only into a bucket the run created.
func runOwned(ctx context.Context, sc *executor.StepContext, dst SettingsReader, bucket string) error {
	cfg, err := s3settings.Read(ctx, dst, bucket, s3settings.Tags)
	if err != nil {
		return fmt.Errorf("check that bucket %s is this run's before carrying settings into it: %w", bucket, err)
	}
	if run := cfg.Tags[executor.RunTagKey]; cfg.State(s3settings.Tags) == s3settings.Unsupported || run != sc.Lineage() {
		return fmt.Errorf("bucket %s does not carry this run's tag %s=%s (found %q): envmig carries settings only into a bucket this run created", bucket, executor.RunTagKey, sc.Lineage(), run)
	}
	return nil
}

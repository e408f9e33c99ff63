package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Params are a step's parameters: one Go type per StepAction, named after
// it (DBRestore's are DBRestoreParams). The planner builds them, the
// handlers read them, and the plan file carries them as the step's
// "params" object. Every identifier in them is a physical AWS name, so a
// handler needs nothing but the step to act.
//
// Decode refuses a step whose action is unknown, whose parameters are of
// another action, or whose params object has a field its type does not
// declare: nothing runs from a plan this build does not fully understand.
type Params interface {
	// Action is the StepAction these parameters belong to.
	Action() StepAction
}

// actionParams maps every StepAction to its parameter type. It is the one
// list of what a plan may contain; docs/plan.schema.json and docs/plans.md
// are checked against it.
var actionParams = map[StepAction]reflect.Type{}

func register[P Params]() {
	var p P
	actionParams[p.Action()] = reflect.TypeOf(p)
}

func init() {
	register[PreflightParams]()
	register[GateParams]()
	register[GroupStandbyParams]()
	register[GroupResumeParams]()
	register[SwitchOffParams]()
	register[SwitchOnParams]()
	register[DBSnapshotParams]()
	register[DBCopySnapshotParams]()
	register[DBRestoreParams]()
	register[DBModifyParams]()
	register[DBUpdateParams]()
	register[DBRenameParams]()
	register[DBDeleteParams]()
	register[DBDeleteSnapshotParams]()
	register[BucketCreateParams]()
	register[BucketCopyParams]()
	register[BucketUpdateParams]()
	register[BucketDeleteParams]()
	register[BucketConfigureParams]()
	register[BucketCaptureParams]()
	register[VerifyDatabaseParams]()
	register[VerifyBucketParams]()
	register[VerifyFrozenParams]()
	register[VerifyHTTPParams]()
	register[VerifyCommandParams]()
	register[StackCreateParams]()
	register[StackDeleteParams]()
	register[StackChangeSetParams]()
	register[StackUpdateParams]()
}

// Actions lists every known StepAction with its parameter type, sorted by
// action.
func Actions() []ActionType {
	out := make([]ActionType, 0, len(actionParams))
	for a, t := range actionParams {
		out = append(out, ActionType{Action: a, Params: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action < out[j].Action })
	return out
}

// ActionType pairs an action with its parameter type.
type ActionType struct {
	Action StepAction
	Params reflect.Type
}

// Known reports whether a is an action this build can run.
func Known(a StepAction) bool { _, ok := actionParams[a]; return ok }

// decodeParams decodes raw as the parameters of action a, refusing unknown
// fields.
func decodeParams(a StepAction, raw json.RawMessage) (Params, error) {
	t, ok := actionParams[a]
	if !ok {
		return nil, fmt.Errorf("unknown action %q (this envmig knows %s)", a, knownList())
	}
	v := reflect.New(t)
	if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v.Interface()); err != nil {
			return nil, fmt.Errorf("parameters of action %s: %s", a, jsonReason(err))
		}
	}
	return v.Elem().Interface().(Params), nil
}

func knownList() string {
	var names []string
	for _, a := range Actions() {
		names = append(names, string(a.Action))
	}
	return fmt.Sprint(names)
}

// MarshalJSON writes the step with its parameters as "params".
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	return json.Marshal(struct {
		plain
		Params Params `json:"params"`
	}{plain(s), s.Params})
}

// UnmarshalJSON reads a step, decoding "params" as the type of its action.
func (s *Step) UnmarshalJSON(data []byte) error {
	type plain Step
	var aux struct {
		plain
		Params json.RawMessage `json:"params"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	p, err := decodeParams(aux.Action, aux.Params)
	if err != nil {
		id := aux.ID
		if id == "" {
			id = "(no id)"
		}
		return fmt.Errorf("step %s: %w", id, err)
	}
	*s = Step(aux.plain)
	s.Params = p
	return nil
}

// checkParams reports a step whose parameters are missing or of another
// action (a plan built in Go, not decoded).
func (s Step) checkParams() error {
	if s.Params == nil {
		return fmt.Errorf("step %s (%s) has no parameters", s.ID, s.Action)
	}
	if s.Params.Action() != s.Action {
		return fmt.Errorf("step %s is a %s step but carries the parameters of %s", s.ID, s.Action, s.Params.Action())
	}
	return nil
}

// PreflightParams: none. The preflight re-checks the caller's account and
// region.
type PreflightParams struct{}

// GateParams: the point of no return asks for the environment's name,
// then runs the checks of the Recheck step (a verify.frozen step) once
// more: the confirmation may have taken minutes, and nothing may have
// changed the originals in them.
type GateParams struct {
	Environment string `json:"environment"`
	Recheck     string `json:"recheck,omitempty"`
}

// GroupStandbyParams name the Auto Scaling group taken out of service.
type GroupStandbyParams struct {
	Group string `json:"group"`
}

// GroupResumeParams name the group put back and the GroupStandby step whose
// recorded values it restores.
type GroupResumeParams struct {
	Group       string `json:"group"`
	StandbyStep string `json:"standby_step"`
}

// SwitchOffParams switch off a writer for the standby: Kind is the
// switch's kind as the spec names it (eventbridge_rule, schedule,
// ecs_service, lambda_event_source, command) and Ref its resource; a
// command switch runs Off (and, to undo, On) bounded by Timeout. What was
// found is recorded before anything changes (in the journal, and as
// envmig: tags where the service has them) and restored exactly.
type SwitchOffParams struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Ref     string `json:"ref,omitempty"`
	Off     string `json:"off,omitempty"`
	On      string `json:"on,omitempty"`
	Timeout string `json:"timeout,omitempty"`
}

// SwitchOnParams switch back on what the OffStep switched off, exactly as
// it was found.
type SwitchOnParams struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Ref     string `json:"ref,omitempty"`
	On      string `json:"on,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	OffStep string `json:"off_step"`
}

// DBSnapshotParams: snapshot Identifier as Snapshot.
type DBSnapshotParams struct {
	Identifier string `json:"identifier"`
	Snapshot   string `json:"snapshot"`
}

// DBCopySnapshotParams: copy Source to Snapshot, encrypted with KMSKeyID
// ("" = the account's default RDS key).
type DBCopySnapshotParams struct {
	Source   string `json:"source"`
	Snapshot string `json:"snapshot"`
	KMSKeyID string `json:"kms_key_id,omitempty"`
}

// DBSettings are the settings a restore carries over or changes. Empty
// fields are left to RDS (a restore keeps the snapshot's).
type DBSettings struct {
	InstanceClass       string   `json:"instance_class,omitempty"`
	DBSubnetGroup       string   `json:"db_subnet_group,omitempty"`
	ParameterGroup      string   `json:"parameter_group,omitempty"`
	OptionGroup         string   `json:"option_group,omitempty"`
	MultiAZ             *bool    `json:"multi_az,omitempty"`
	Port                int32    `json:"port,omitempty"`
	PubliclyAccessible  *bool    `json:"publicly_accessible,omitempty"`
	StorageType         string   `json:"storage_type,omitempty"`
	VPCSecurityGroupIDs []string `json:"vpc_security_group_ids,omitempty"`
	// Engine is set only when the restore changes it.
	Engine string `json:"engine,omitempty"`
}

// DBRestoreParams: restore Identifier from Snapshot with Settings and
// DeletionProtection; Tags are the user's (and envmig's own, such as
// envmig:clone-of), to which the run's tag is added.
type DBRestoreParams struct {
	Snapshot           string            `json:"snapshot"`
	Identifier         string            `json:"identifier"`
	Settings           DBSettings        `json:"settings"`
	DeletionProtection bool              `json:"deletion_protection"`
	Tags               map[string]string `json:"tags,omitempty"`
	// ManagedPassword gives the restored instance a new master password
	// that RDS generates and keeps in Secrets Manager: a clone never holds
	// the original's password.
	ManagedPassword bool `json:"managed_password,omitempty"`
}

// DBChange lists in-place changes of an instance; empty fields are not
// changed.
type DBChange struct {
	EngineVersion      string `json:"engine_version,omitempty"`
	InstanceClass      string `json:"instance_class,omitempty"`
	AllocatedStorage   int64  `json:"allocated_storage,omitempty"`
	MultiAZ            *bool  `json:"multi_az,omitempty"`
	ParameterGroup     string `json:"parameter_group,omitempty"`
	DeletionProtection *bool  `json:"deletion_protection,omitempty"`
}

// Settings returns the change as setting name → value, the names the
// handlers and the plan's views use; absent settings are absent.
func (c DBChange) Settings() map[string]string {
	m := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("engine_version", c.EngineVersion)
	put("instance_class", c.InstanceClass)
	if c.AllocatedStorage > 0 {
		m["allocated_storage"] = strconv.FormatInt(c.AllocatedStorage, 10)
	}
	if c.MultiAZ != nil {
		m["multi_az"] = strconv.FormatBool(*c.MultiAZ)
	}
	put("parameter_group", c.ParameterGroup)
	if c.DeletionProtection != nil {
		m["deletion_protection"] = strconv.FormatBool(*c.DeletionProtection)
	}
	return m
}

// DBModifyParams change an instance the run created (the clone), applied
// at once.
type DBModifyParams struct {
	Identifier string   `json:"identifier"`
	Change     DBChange `json:"change"`
}

// DBUpdateParams change a live instance in place. Tags, when not nil,
// replace the instance's user tags (an empty map removes them all).
type DBUpdateParams struct {
	Identifier string             `json:"identifier"`
	Change     DBChange           `json:"change"`
	Tags       *map[string]string `json:"tags,omitempty"`
}

// DBRenameParams rename From to To. RetiredBy, when set, is the lineage
// of the run retiring an original: the renamed instance is tagged
// envmig:retired-by with it, which lets cleanup delete it.
type DBRenameParams struct {
	From      string `json:"from"`
	To        string `json:"to"`
	RetiredBy string `json:"retired_by,omitempty"`
}

// DBDeleteParams delete Identifier, with a FinalSnapshot when set. Without
// one, only an instance of this run, or one the run RetiredBy kept (tagged
// envmig:retired-by = RetiredBy, or created by it: envmig:run = RetiredBy),
// is deleted.
type DBDeleteParams struct {
	Identifier    string `json:"identifier"`
	FinalSnapshot string `json:"final_snapshot,omitempty"`
	RetiredBy     string `json:"retired_by,omitempty"`
	// CloneOf, for a clone's database (clone -destroy), is the original
	// the instance must be tagged envmig:clone-of with: it is deleted
	// without a final snapshot only then.
	CloneOf string `json:"clone_of,omitempty"`
}

// DBDeleteSnapshotParams delete Snapshot, which must carry envmig:run = Run
// ("" = this run).
type DBDeleteSnapshotParams struct {
	Snapshot string `json:"snapshot"`
	Run      string `json:"run,omitempty"`
}

// BucketCreateParams create Bucket in Region with Versioning and Tags.
// Settings, when set, carries the settings of the bucket the new one takes
// the place of that decide how objects are stored (encryption with its
// KMS key, ownership, public-access block, request payment, object lock),
// before anything is copied into it.
type BucketCreateParams struct {
	Bucket     string            `json:"bucket"`
	Region     string            `json:"region"`
	Versioning bool              `json:"versioning"`
	Tags       map[string]string `json:"tags,omitempty"`
	Settings   *SettingsCarry    `json:"settings,omitempty"`
}

// SettingsCarry is the carrying of Source's bucket settings to a bucket
// the run creates. Expected maps each carried setting ("lifecycle",
// "policy", ...) to the digest the plan observed of it on Source; a source
// whose setting changed since the plan is refused. Temporary marks the
// run's own working copy, which receives only what protects the data.
// CapturedBy names the step that recorded Source's settings when Source no
// longer exists by the time they are applied (a region move).
type SettingsCarry struct {
	Source     string            `json:"source"`
	Expected   map[string]string `json:"expected"`
	Temporary  bool              `json:"temporary,omitempty"`
	CapturedBy string            `json:"captured_by,omitempty"`
}

// BucketConfigureParams apply to Bucket, once its copy is verified, the
// carried settings that act on objects or users: object lock retention,
// lifecycle, CORS, website, acceleration, replication, notifications,
// logging and, last, the policy.
type BucketConfigureParams struct {
	Bucket   string        `json:"bucket"`
	Region   string        `json:"region,omitempty"`
	Settings SettingsCarry `json:"settings"`
}

// BucketCaptureParams record, in the journal, the carried settings of
// Bucket before a later step deletes it (a region move re-creates the
// name): the re-created bucket receives them from the journal.
type BucketCaptureParams struct {
	Bucket   string        `json:"bucket"`
	Region   string        `json:"region,omitempty"`
	Settings SettingsCarry `json:"settings"`
}

// CopyMode says when a bucket copy runs.
type CopyMode string

const (
	CopyPrecopy CopyMode = "precopy" // while the environment is live
	CopyDelta   CopyMode = "delta"   // inside the standby window
	CopyFinal   CopyMode = "final"   // after the point of no return, into an original
)

// BucketCopyParams sync Source into Destination.
//
// History copies every version and delete marker, oldest first (a
// versioned bucket recreated under a new name or region keeps its
// history); otherwise the current objects are copied. Manifest records the
// source's manifest, named ManifestName(Source), as the copy sees it: the
// state the freeze checks compare the original with. Guard, on a copy into
// an original (CopyFinal), is that original's guard: the copy first checks
// the original still matches its manifest, then never overwrites, deletes
// or re-creates an object that changed since (it keeps it and says so).
type BucketCopyParams struct {
	Source      string       `json:"source"`
	Destination string       `json:"destination"`
	Mode        CopyMode     `json:"mode"`
	History     bool         `json:"history,omitempty"`
	Manifest    bool         `json:"manifest,omitempty"`
	Guard       *BucketGuard `json:"guard,omitempty"`
	// AsOfStep names the db.snapshot step whose snapshot's creation time
	// the copy is made as of: each key's version current then (a clone's
	// versioned bucket, consistent with its database).
	AsOfStep string `json:"as_of_step,omitempty"`
}

// BucketGuard protects an original bucket the run copied: Manifest (a
// blob of the run) is the bucket's state when its copy was taken, and
// Copy is where that copy lives. Before the point of no return and before
// any step that overwrites or empties the original, the original is
// compared with the manifest; a difference stops the run before anything
// is destroyed. Resuming then copies the difference into Copy, verifies
// it at the Objects level and records a new manifest.
//
// Run, when set, is the run whose blob the manifest is (cleanup guards a
// bucket with the manifest of the run that retired it); such a guard has
// no Copy and nothing is copied on resume.
type BucketGuard struct {
	Bucket     string `json:"bucket"`
	Region     string `json:"region,omitempty"`
	Manifest   string `json:"manifest"`
	Run        string `json:"run,omitempty"`
	Copy       string `json:"copy,omitempty"`
	CopyRegion string `json:"copy_region,omitempty"`
	History    bool   `json:"history,omitempty"`
	Objects    string `json:"objects"`
}

// ManifestName is the name of the blob holding bucket's manifest.
func ManifestName(bucket string) string { return "manifest." + bucket }

// BucketUpdateParams change Bucket in place: Versioning when not nil, and
// Tags when not nil (replacing the bucket's tags).
type BucketUpdateParams struct {
	Bucket     string             `json:"bucket"`
	Region     string             `json:"region,omitempty"`
	Versioning *bool              `json:"versioning,omitempty"`
	Tags       *map[string]string `json:"tags,omitempty"`
}

// BucketDeleteParams empty and delete Bucket in Region. With Guard (an
// original whose objects now live in a verified copy), only what the
// guard's manifest lists is deleted, after the original is checked
// against it.
//
// KeepModifiedAfter, when set, keeps the bucket (the step fails, naming
// them) when it holds objects written after that moment: cleanup never
// deletes a bucket written after the run that kept it finished.
type BucketDeleteParams struct {
	Bucket            string       `json:"bucket"`
	Region            string       `json:"region,omitempty"`
	Guard             *BucketGuard `json:"guard,omitempty"`
	KeepModifiedAfter time.Time    `json:"keep_modified_after,omitzero"`
	// KeepBucket empties Bucket (by Guard's manifest) and leaves the
	// bucket itself: its CloudFormation stack deletes it.
	KeepBucket bool `json:"keep_bucket,omitempty"`
}

// DBExpect are the settings verify.database checks; empty fields are not
// checked.
type DBExpect struct {
	Engine             string `json:"engine,omitempty"`
	EngineVersion      string `json:"engine_version,omitempty"`
	InstanceClass      string `json:"instance_class,omitempty"`
	AllocatedStorage   int64  `json:"allocated_storage,omitempty"`
	StorageEncrypted   *bool  `json:"storage_encrypted,omitempty"`
	KMSKeyID           string `json:"kms_key_id,omitempty"`
	MultiAZ            *bool  `json:"multi_az,omitempty"`
	DBSubnetGroup      string `json:"db_subnet_group,omitempty"`
	ParameterGroup     string `json:"parameter_group,omitempty"`
	DeletionProtection *bool  `json:"deletion_protection,omitempty"`
}

// Settings returns the expectations as setting name → value.
func (e DBExpect) Settings() map[string]string {
	m := DBChange{EngineVersion: e.EngineVersion, InstanceClass: e.InstanceClass, AllocatedStorage: e.AllocatedStorage,
		MultiAZ: e.MultiAZ, ParameterGroup: e.ParameterGroup, DeletionProtection: e.DeletionProtection}.Settings()
	if e.Engine != "" {
		m["engine"] = e.Engine
	}
	if e.StorageEncrypted != nil {
		m["storage_encrypted"] = strconv.FormatBool(*e.StorageEncrypted)
	}
	if e.KMSKeyID != "" {
		m["kms_key_id"] = e.KMSKeyID
	}
	if e.DBSubnetGroup != "" {
		m["db_subnet_group"] = e.DBSubnetGroup
	}
	return m
}

// VerifyDatabaseParams: Identifier is available with Expect and, when Tags
// is not nil, exactly those user tags.
type VerifyDatabaseParams struct {
	Identifier string            `json:"identifier"`
	Expect     DBExpect          `json:"expect"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// VerifyBucketParams compare Destination with Source by manifest at the
// Objects level (count, etag, checksum or content); with History, every
// version and delete marker of each key, in order. Guard, when set, first
// checks that the original the copy was taken from still matches the
// manifest the copy recorded (a change is a freeze that did not hold, not a
// bad copy). AllowKept names the protected copy step whose kept objects
// (changed in the destination after its manifest, and kept) are the only
// differences accepted.
type VerifyBucketParams struct {
	Source      string       `json:"source"`
	Destination string       `json:"destination"`
	Objects     string       `json:"objects"`
	History     bool         `json:"history,omitempty"`
	Guard       *BucketGuard `json:"guard,omitempty"`
	AllowKept   string       `json:"allow_kept,omitempty"`
	// AsOfStep: the destination is compared with the source as of that
	// step's snapshot time (see BucketCopyParams).
	AsOfStep string `json:"as_of_step,omitempty"`
	// FromManifest: the destination is compared with the source as its
	// copy listed it (the manifest that copy recorded, ManifestName(Source),
	// under Manifest), not with the bucket as it is now: a clone of a live
	// unversioned bucket is of the moment its copy listed each object.
	FromManifest bool `json:"from_manifest,omitempty"`
}

// VerifyFrozenParams: nothing changed the originals during the standby.
// StandbySteps are the GroupStandby steps whose recorded freeze time
// starts the window; Buckets are checked against the manifests their
// copies recorded (deletes included).
type VerifyFrozenParams struct {
	Groups       []string      `json:"groups,omitempty"`
	Databases    []string      `json:"databases,omitempty"`
	Buckets      []BucketGuard `json:"buckets,omitempty"`
	StandbySteps []string      `json:"standby_steps,omitempty"`
}

// VerifyHTTPParams probe URL and expect Status within Timeout (a Go
// duration). StackOutputs, when set, names the stack.create step whose
// recorded outputs replace each ${ENVMIG_STACK_OUTPUT_<Name>} in URL.
type VerifyHTTPParams struct {
	URL          string `json:"url"`
	Status       int    `json:"status"`
	Timeout      string `json:"timeout,omitempty"`
	StackOutputs string `json:"stack_outputs,omitempty"`
}

// StackOutputRef matches a ${ENVMIG_STACK_OUTPUT_<Name>} placeholder
// (written $${ENVMIG_STACK_OUTPUT_<Name>} in HCL); group 1 is the output's
// name.
var StackOutputRef = regexp.MustCompile(`\$\{ENVMIG_STACK_OUTPUT_([A-Za-z0-9]+)\}`)

// VerifyCommandParams run the spec's check command Run with Env added to
// its environment (the clone's names: ENVMIG_DATABASE_<NAME>, ...).
// StackOutputs, when set, names the stack.create step whose recorded
// outputs are added as ENVMIG_STACK_OUTPUT_<Name>.
type VerifyCommandParams struct {
	Run          string            `json:"run"`
	Env          map[string]string `json:"env,omitempty"`
	StackOutputs string            `json:"stack_outputs,omitempty"`
}

// StackCreateParams create the CloudFormation stack Stack from Template
// (the template file's body, as reviewed) with Parameters, and wait until
// it is created. Temporary marks the run's own temporary stack (tagged
// envmig:run); otherwise the stack is an original created again under its
// name (tagged envmig:recreated-by). Its outputs are recorded for the
// checks.
type StackCreateParams struct {
	Stack        string            `json:"stack"`
	TemplateFile string            `json:"template_file"`
	Template     string            `json:"template"`
	Parameters   map[string]string `json:"parameters,omitempty"`
	Capabilities []string          `json:"capabilities,omitempty"`
	Temporary    bool              `json:"temporary,omitempty"`
}

// StackChangeSetParams create the run's change set updating Stack (the
// stack the plan observed, ExpectedID) in place to Template with
// Parameters; UsePrevious names the parameters that keep their value
// (NoEcho ones, which envmig never reads).
type StackChangeSetParams struct {
	Stack        string            `json:"stack"`
	ExpectedID   string            `json:"expected_id"`
	TemplateFile string            `json:"template_file"`
	Template     string            `json:"template"`
	Parameters   map[string]string `json:"parameters,omitempty"`
	UsePrevious  []string          `json:"use_previous,omitempty"`
	Capabilities []string          `json:"capabilities,omitempty"`
}

// StackUpdateParams execute the change set the ChangeSetStep created and
// wait until Stack is updated.
type StackUpdateParams struct {
	Stack         string `json:"stack"`
	ExpectedID    string `json:"expected_id"`
	ChangeSetStep string `json:"change_set_step"`
}

// StackDeleteParams delete the CloudFormation stack Stack and wait until it
// is gone. An original is named with ExpectedID, the stack ID the plan
// observed (another stack of that name is refused); Temporary deletes only
// the run's own temporary stack, emptying its buckets first (they hold
// copies).
type StackDeleteParams struct {
	Stack      string `json:"stack"`
	ExpectedID string `json:"expected_id,omitempty"`
	Temporary  bool   `json:"temporary,omitempty"`
}

func (PreflightParams) Action() StepAction        { return Preflight }
func (GateParams) Action() StepAction             { return Gate }
func (GroupStandbyParams) Action() StepAction     { return GroupStandby }
func (GroupResumeParams) Action() StepAction      { return GroupResume }
func (SwitchOffParams) Action() StepAction        { return SwitchOff }
func (SwitchOnParams) Action() StepAction         { return SwitchOn }
func (DBSnapshotParams) Action() StepAction       { return DBSnapshot }
func (DBCopySnapshotParams) Action() StepAction   { return DBCopySnapshot }
func (DBRestoreParams) Action() StepAction        { return DBRestore }
func (DBModifyParams) Action() StepAction         { return DBModify }
func (DBUpdateParams) Action() StepAction         { return DBUpdate }
func (DBRenameParams) Action() StepAction         { return DBRename }
func (DBDeleteParams) Action() StepAction         { return DBDelete }
func (DBDeleteSnapshotParams) Action() StepAction { return DBDeleteSnapshot }
func (BucketCreateParams) Action() StepAction     { return BucketCreate }
func (BucketCopyParams) Action() StepAction       { return BucketCopy }
func (BucketUpdateParams) Action() StepAction     { return BucketUpdate }
func (BucketDeleteParams) Action() StepAction     { return BucketDelete }
func (BucketConfigureParams) Action() StepAction  { return BucketConfigure }
func (BucketCaptureParams) Action() StepAction    { return BucketCapture }
func (VerifyDatabaseParams) Action() StepAction   { return VerifyDatabase }
func (VerifyBucketParams) Action() StepAction     { return VerifyBucket }
func (VerifyFrozenParams) Action() StepAction     { return VerifyFrozen }
func (VerifyHTTPParams) Action() StepAction       { return VerifyHTTP }
func (VerifyCommandParams) Action() StepAction    { return VerifyCommand }
func (StackCreateParams) Action() StepAction      { return StackCreate }
func (StackDeleteParams) Action() StepAction      { return StackDelete }
func (StackChangeSetParams) Action() StepAction   { return StackChangeSet }
func (StackUpdateParams) Action() StepAction      { return StackUpdate }

// Ptr returns a pointer to v (optional parameters).
func Ptr[T any](v T) *T { return &v }

package database

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// stubRDS answers Describe calls from scripts, one answer per call (nil =
// not found; the last answer repeats), and logs every call. Calls it does
// not implement panic through the nil embedded Client.
type stubRDS struct {
	Client
	log    *[]string
	snaps  map[string][]*types.DBSnapshot
	insts  map[string][]*types.DBInstance
	errs   map[string]error // operation -> error
	inputs []any
}

func newStub(log *[]string) *stubRDS {
	return &stubRDS{log: log, snaps: map[string][]*types.DBSnapshot{}, insts: map[string][]*types.DBInstance{}, errs: map[string]error{}}
}

func next[T any](script map[string][]*T, id string) *T {
	s := script[id]
	if len(s) == 0 {
		return nil
	}
	v := s[0]
	if len(s) > 1 {
		script[id] = s[1:]
	}
	return v
}

func (s *stubRDS) call(op string, in any) error {
	*s.log = append(*s.log, "call:"+op)
	if !strings.HasPrefix(op, "Describe") {
		s.inputs = append(s.inputs, in)
	}
	return s.errs[op]
}

func (s *stubRDS) DescribeDBSnapshots(_ context.Context, in *rds.DescribeDBSnapshotsInput, _ ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	s.call("DescribeDBSnapshots", in)
	v := next(s.snaps, aws.ToString(in.DBSnapshotIdentifier))
	if v == nil {
		return nil, &smithy.GenericAPIError{Code: codeSnapshotNotFound}
	}
	return &rds.DescribeDBSnapshotsOutput{DBSnapshots: []types.DBSnapshot{*v}}, nil
}

func (s *stubRDS) DescribeDBInstances(_ context.Context, in *rds.DescribeDBInstancesInput, _ ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	s.call("DescribeDBInstances", in)
	v := next(s.insts, aws.ToString(in.DBInstanceIdentifier))
	if v == nil {
		return nil, &smithy.GenericAPIError{Code: codeInstanceNotFound}
	}
	return &rds.DescribeDBInstancesOutput{DBInstances: []types.DBInstance{*v}}, nil
}

func (s *stubRDS) CreateDBSnapshot(_ context.Context, in *rds.CreateDBSnapshotInput, _ ...func(*rds.Options)) (*rds.CreateDBSnapshotOutput, error) {
	return &rds.CreateDBSnapshotOutput{}, s.call("CreateDBSnapshot", in)
}

func (s *stubRDS) RestoreDBInstanceFromDBSnapshot(_ context.Context, in *rds.RestoreDBInstanceFromDBSnapshotInput, _ ...func(*rds.Options)) (*rds.RestoreDBInstanceFromDBSnapshotOutput, error) {
	return &rds.RestoreDBInstanceFromDBSnapshotOutput{}, s.call("RestoreDBInstanceFromDBSnapshot", in)
}

func (s *stubRDS) ModifyDBInstance(_ context.Context, in *rds.ModifyDBInstanceInput, _ ...func(*rds.Options)) (*rds.ModifyDBInstanceOutput, error) {
	return &rds.ModifyDBInstanceOutput{}, s.call("ModifyDBInstance", in)
}

var ourTags = []types.Tag{{Key: aws.String(executor.RunTagKey), Value: aws.String("run1")}}

func snapAt(status string, pct int32, tags []types.Tag) *types.DBSnapshot {
	return &types.DBSnapshot{DBSnapshotIdentifier: aws.String(snap), DBInstanceIdentifier: aws.String(orig), Status: aws.String(status), PercentProgress: aws.Int32(pct), TagList: tags}
}

func instAt(id, status string, mod func(*types.DBInstance)) *types.DBInstance {
	i := &types.DBInstance{DBInstanceIdentifier: aws.String(id), DBInstanceStatus: aws.String(status), Engine: aws.String("postgres"),
		EngineVersion: aws.String("16.3"), DBInstanceClass: aws.String("db.t3.medium"), TagList: ourTags}
	if mod != nil {
		mod(i)
	}
	return i
}

// stubRun runs one step of action with params against c, logging hook
// points into log and collecting progress.
func stubRun(t *testing.T, c Client, o Options, params plan.Params, log *[]string) ([]executor.Progress, error) {
	t.Helper()
	action := params.Action()
	p := &plan.Plan{Lineage: "run1", Steps: []plan.Step{{ID: "s", Action: action, Params: params}}}
	sc := executor.NewStepContext(p, p.Steps[0], "apply", nil)
	var progress []executor.Progress
	sc.TestHooks(nil, func(point string) { *log = append(*log, "hook:"+point) }, func(pr executor.Progress) { progress = append(progress, pr) })
	err := Handlers(c, nil, o)[action].Apply(context.Background(), sc)
	return progress, err
}

// checkAccepted asserts every mutating call is followed at once by the
// accepted crash point, and that a waiting point comes after it.
func checkAccepted(t *testing.T, log []string, op string) {
	t.Helper()
	i := slices.Index(log, "call:"+op)
	if i < 0 || i+1 >= len(log) || log[i+1] != "hook:"+executor.PointAccepted {
		t.Fatalf("%s is not followed by the accepted crash point: %v", op, log)
	}
	if w := slices.Index(log[i:], "hook:"+executor.PointWaiting); w < 0 {
		t.Errorf("no waiting crash point after %s: %v", op, log)
	}
}

func TestSnapshotWaitReportsItsProgress(t *testing.T) {
	var log []string
	c := newStub(&log)
	c.snaps[snap] = []*types.DBSnapshot{nil, snapAt("creating", 0, ourTags), snapAt("creating", 40, ourTags), snapAt("available", 100, ourTags)}
	progress, err := stubRun(t, c, fast, plan.DBSnapshotParams{Identifier: orig, Snapshot: snap}, &log)
	if err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, log, "CreateDBSnapshot")
	var got []float64
	for _, p := range progress {
		got = append(got, p.Percent)
	}
	if diff := cmp.Diff([]float64{0, 40, 100}, got); diff != "" {
		t.Errorf("reported percents (-want +got):\n%s", diff)
	}
	if want := "waiting for DB snapshot " + snap + " to be available: creating (40%)"; progress[1].Message != want {
		t.Errorf("message = %q, want %q", progress[1].Message, want)
	}
	in := c.inputs[0].(*rds.CreateDBSnapshotInput)
	if diff := cmp.Diff(map[string]string{executor.RunTagKey: "run1"}, tagMap(in.Tags)); diff != "" {
		t.Errorf("snapshot tags (-want +got):\n%s", diff)
	}
}

func TestRestoreMarksTheAcceptedCallBeforeWaiting(t *testing.T) {
	var log []string
	c := newStub(&log)
	c.insts[temp] = []*types.DBInstance{nil, nil, instAt(temp, "creating", nil), instAt(temp, "backing-up", nil), instAt(temp, "available", nil)}
	progress, err := stubRun(t, c, fast, plan.DBRestoreParams{Snapshot: snap, Identifier: temp, Settings: plan.DBSettings{MultiAZ: plan.Ptr(true), Port: 5433, VPCSecurityGroupIDs: []string{"sg-1", "sg-2"}}}, &log)
	if err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, log, "RestoreDBInstanceFromDBSnapshot")
	var msgs []string
	for _, p := range progress {
		msgs = append(msgs, p.Message)
	}
	want := []string{
		"waiting for DB instance " + temp + " to be available: not visible yet",
		"waiting for DB instance " + temp + " to be available: creating",
		"waiting for DB instance " + temp + " to be available: backing-up",
		"DB instance " + temp + " is available",
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	in := c.inputs[0].(*rds.RestoreDBInstanceFromDBSnapshotInput)
	if !aws.ToBool(in.MultiAZ) || aws.ToInt32(in.Port) != 5433 || !slices.Equal(in.VpcSecurityGroupIds, []string{"sg-1", "sg-2"}) {
		t.Errorf("restore input = %+v", in)
	}
}

func TestALostCreateResponseIsAdoptedOnlyWhenTagged(t *testing.T) {
	for name, tc := range map[string]struct {
		tags []types.Tag
		want error
	}{
		"ours":    {tags: ourTags},
		"foreign": {tags: nil, want: ErrNotThisRun},
	} {
		t.Run(name, func(t *testing.T) {
			var log []string
			c := newStub(&log)
			c.errs["CreateDBSnapshot"] = &smithy.GenericAPIError{Code: codeSnapshotAlreadyExists}
			c.snaps[snap] = []*types.DBSnapshot{nil, snapAt("available", 100, tc.tags)}
			_, err := stubRun(t, c, fast, plan.DBSnapshotParams{Identifier: orig, Snapshot: snap}, &log)
			if !errors.Is(err, tc.want) {
				t.Errorf("apply = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAWaitThatRunsOutOfTimeFailsResumably(t *testing.T) {
	var log []string
	c := newStub(&log)
	c.insts[temp] = []*types.DBInstance{instAt(temp, "creating", nil)}
	_, err := stubRun(t, c, Options{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: 20 * time.Millisecond, VisibleWithin: 20 * time.Millisecond},
		plan.DBRestoreParams{Snapshot: snap, Identifier: temp}, &log)
	if err == nil || !strings.Contains(err.Error(), "still creating") || !strings.Contains(err.Error(), "envmig resume") {
		t.Errorf("apply = %v, want a timeout that points to resume", err)
	}
}

func TestModifyWaitsUntilNothingIsPending(t *testing.T) {
	var log []string
	c := newStub(&log)
	large := func(i *types.DBInstance) { i.DBInstanceClass = aws.String("db.t3.large") }
	c.insts[temp] = []*types.DBInstance{
		instAt(temp, "available", nil),
		instAt(temp, "available", func(i *types.DBInstance) {
			i.PendingModifiedValues = &types.PendingModifiedValues{DBInstanceClass: aws.String("db.t3.large")}
		}),
		instAt(temp, "modifying", nil),
		instAt(temp, "available", large),
	}
	progress, err := stubRun(t, c, fast, plan.DBModifyParams{Identifier: temp, Change: plan.DBChange{InstanceClass: "db.t3.large", EngineVersion: "16.3"}}, &log)
	if err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, log, "ModifyDBInstance")
	in := c.inputs[0].(*rds.ModifyDBInstanceInput)
	if aws.ToString(in.DBInstanceClass) != "db.t3.large" || !aws.ToBool(in.ApplyImmediately) || in.EngineVersion != nil {
		t.Errorf("modify input = %+v, want only the class, applied immediately", in)
	}
	pending := false
	for _, p := range progress {
		pending = pending || strings.Contains(p.Message, "instance_class pending")
	}
	if !pending {
		t.Errorf("the wait did not report the pending change: %+v", progress)
	}
}

func TestMajorVersionUpgradesAreAllowedOnlyWhenMajor(t *testing.T) {
	for name, tc := range map[string]struct {
		engine, from, to string
		major            bool
	}{
		"postgres minor":      {"postgres", "16.3", "16.4", false},
		"postgres major":      {"postgres", "15.7", "16.4", true},
		"postgres 9.6 minor":  {"postgres", "9.6.1", "9.6.22", false},
		"postgres 9.6 to 10":  {"postgres", "9.6.22", "10.21", true},
		"mysql minor":         {"mysql", "8.0.35", "8.0.36", false},
		"mysql major":         {"mysql", "5.7.44", "8.0.35", true},
		"mariadb 10.6->10.11": {"mariadb", "10.6.16", "10.11.6", true},
	} {
		t.Run(name, func(t *testing.T) {
			inst := instAt(temp, "available", func(i *types.DBInstance) { i.Engine, i.EngineVersion = aws.String(tc.engine), aws.String(tc.from) })
			in, _, _ := modifyInput(inst, map[string]string{"engine_version": tc.to})
			if got := aws.ToBool(in.AllowMajorVersionUpgrade); got != tc.major {
				t.Errorf("AllowMajorVersionUpgrade = %v, want %v", got, tc.major)
			}
		})
	}
}

func TestVerifyComparesEverySetting(t *testing.T) {
	live := instAt(orig, "available", func(i *types.DBInstance) {
		i.AllocatedStorage, i.StorageEncrypted, i.MultiAZ = aws.Int32(50), aws.Bool(true), aws.Bool(false)
		i.KmsKeyId = aws.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab")
		i.DBSubnetGroup = &types.DBSubnetGroup{DBSubnetGroupName: aws.String("private")}
		i.DBParameterGroups = []types.DBParameterGroupStatus{{DBParameterGroupName: aws.String("pg16")}}
		i.TagList = append(slices.Clone(ourTags), types.Tag{Key: aws.String("owner"), Value: aws.String("platform")})
	})
	for name, tc := range map[string]struct {
		params plan.DBExpect
		tags   map[string]string
		want   []string
	}{
		"all equal": {params: plan.DBExpect{Engine: "postgres", EngineVersion: "16.3", InstanceClass: "db.t3.medium", AllocatedStorage: 50,
			StorageEncrypted: plan.Ptr(true), MultiAZ: plan.Ptr(false), DBSubnetGroup: "private", ParameterGroup: "pg16", DeletionProtection: plan.Ptr(false)},
			tags: map[string]string{"owner": "platform"}},
		"key by ID":                  {params: plan.DBExpect{KMSKeyID: "1234abcd-12ab"}},
		"key by ARN":                 {params: plan.DBExpect{KMSKeyID: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"}},
		"other key":                  {params: plan.DBExpect{KMSKeyID: "9999"}, want: []string{"kms_key_id: want 9999, got arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"}},
		"alias no KMS":               {params: plan.DBExpect{KMSKeyID: "alias/app"}, want: []string{"kms_key_id: want alias/app, got arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"}},
		"empty param is not checked": {params: plan.DBExpect{DBSubnetGroup: ""}},
		"several": {params: plan.DBExpect{InstanceClass: "db.t3.large", AllocatedStorage: 100, MultiAZ: plan.Ptr(true)},
			tags: map[string]string{"owner": "data", "team": "db"},
			want: []string{"instance_class: want db.t3.large, got db.t3.medium", "allocated_storage: want 100, got 50", "multi_az: want true, got false",
				"tags.owner: want data, got platform", "tags.team: want db, got (none)"}},
		"extra user tag": {tags: map[string]string{}, want: []string{"tags.owner: want (none), got platform"}},
	} {
		t.Run(name, func(t *testing.T) {
			var log []string
			c := newStub(&log)
			c.insts[orig] = []*types.DBInstance{live}
			params := plan.VerifyDatabaseParams{Identifier: orig, Expect: tc.params, Tags: tc.tags}
			p := &plan.Plan{Lineage: "run1", Steps: []plan.Step{{ID: "v", Action: plan.VerifyDatabase, Params: params}}}
			err := Handlers(c, nil, fast)[plan.VerifyDatabase].Apply(context.Background(), executor.NewStepContext(p, p.Steps[0], "apply", nil))
			var got []string
			var ve *VerifyError
			if errors.As(err, &ve) {
				got = ve.Mismatches
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenameWaitsWhileTheNewNameIsNotVisible(t *testing.T) {
	var log []string
	c := newStub(&log)
	c.insts[orig] = []*types.DBInstance{instAt(orig, "available", func(i *types.DBInstance) { i.DbiResourceId = aws.String("db-ABC") })}
	c.insts[retired] = []*types.DBInstance{nil, nil, nil, instAt(retired, "renaming", nil), instAt(retired, "available", nil)}
	progress, err := stubRun(t, c, fast, plan.DBRenameParams{From: orig, To: retired}, &log)
	if err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, log, "ModifyDBInstance")
	in := c.inputs[0].(*rds.ModifyDBInstanceInput)
	if aws.ToString(in.NewDBInstanceIdentifier) != retired || !aws.ToBool(in.ApplyImmediately) {
		t.Errorf("rename input = %+v", in)
	}
	if len(progress) < 3 || !strings.Contains(progress[0].Message, "not visible yet") {
		t.Errorf("progress = %+v, want the NotFound answers reported as not visible yet", progress)
	}
}

func TestARetriedCallWhoseFirstAttemptWasAppliedCountsAsDone(t *testing.T) {
	invalid := &smithy.GenericAPIError{Code: codeInvalidInstanceState}
	large := func(i *types.DBInstance) { i.DBInstanceClass = aws.String("db.t3.large") }
	for name, tc := range map[string]struct {
		params plan.Params
		insts  map[string][]*types.DBInstance
		ok     bool
	}{
		"rename under way": {params: plan.DBRenameParams{From: orig, To: retired}, ok: true,
			insts: map[string][]*types.DBInstance{orig: {instAt(orig, "available", nil), instAt(orig, "renaming", nil)}, retired: {nil, instAt(retired, "available", nil)}}},
		"rename refused": {params: plan.DBRenameParams{From: orig, To: retired},
			insts: map[string][]*types.DBInstance{orig: {instAt(orig, "available", nil)}, retired: {nil}}},
		"modify under way": {params: plan.DBModifyParams{Identifier: temp, Change: plan.DBChange{InstanceClass: "db.t3.large"}}, ok: true,
			insts: map[string][]*types.DBInstance{temp: {instAt(temp, "available", nil), instAt(temp, "modifying", nil), instAt(temp, "available", large)}}},
		"modify refused": {params: plan.DBModifyParams{Identifier: temp, Change: plan.DBChange{InstanceClass: "db.t3.large"}},
			insts: map[string][]*types.DBInstance{temp: {instAt(temp, "available", nil)}}},
	} {
		t.Run(name, func(t *testing.T) {
			var log []string
			c := newStub(&log)
			c.insts = tc.insts
			c.errs["ModifyDBInstance"] = invalid
			_, err := stubRun(t, c, fast, tc.params, &log)
			if (err == nil) != tc.ok {
				t.Errorf("apply = %v, want ok=%v", err, tc.ok)
			}
			// After the re-observation, the call counts as accepted.
			i := slices.Index(log, "call:ModifyDBInstance")
			if accepted := slices.Contains(log[i:], "hook:"+executor.PointAccepted); accepted != tc.ok {
				t.Errorf("accepted crash point after the call = %v, want %v: %v", accepted, tc.ok, log)
			}
		})
	}
}

func (s *stubRDS) DeleteDBSnapshot(_ context.Context, in *rds.DeleteDBSnapshotInput, _ ...func(*rds.Options)) (*rds.DeleteDBSnapshotOutput, error) {
	return &rds.DeleteDBSnapshotOutput{}, s.call("DeleteDBSnapshot", in)
}

// Found by the API fault suite: RDS reads are eventually consistent, and a
// rollback that believed a NotFound right after the create left the
// snapshot behind. A snapshot whose create was sent is looked for again.
func TestRevertFindsASnapshotRDSDoesNotShowYet(t *testing.T) {
	var log []string
	c := newStub(&log)
	// NotFound twice, then the snapshot; after the delete, gone.
	c.snaps[snap] = []*types.DBSnapshot{nil, nil, snapAt("available", 100, ourTags), snapAt("available", 100, ourTags), nil}
	p := &plan.Plan{Lineage: "run1", Steps: []plan.Step{{ID: "s", Action: plan.DBSnapshot, Params: plan.DBSnapshotParams{Identifier: orig, Snapshot: snap}}}}
	sc := executor.NewStepContext(p, p.Steps[0], "revert", map[string]string{KeyCreateSent: "true"})
	o := Options{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: time.Second, VisibleWithin: 5 * time.Second}
	if err := Handlers(c, nil, o)[plan.DBSnapshot].Revert(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(log, "call:DeleteDBSnapshot") {
		t.Fatalf("the snapshot was not deleted: %v", log)
	}
	// Without the create sent, a NotFound is believed at once.
	log = nil
	c.snaps[snap] = []*types.DBSnapshot{nil, snapAt("available", 100, ourTags)}
	sc = executor.NewStepContext(p, p.Steps[0], "revert", nil)
	if err := Handlers(c, nil, o)[plan.DBSnapshot].Revert(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(log, "call:DeleteDBSnapshot") {
		t.Fatalf("a snapshot never asked for was looked for: %v", log)
	}
}

package database

import (
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

var fast = Options{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, MaxWait: 10 * time.Second, VisibleWithin: 20 * time.Millisecond}

const (
	orig    = "shop-prod-db"
	temp    = "shop-prod-db-envmig"
	retired = "shop-prod-db-retired-run1"
	snap    = "envmig-run1-main"
	enc     = "envmig-run1-main-enc"
	final   = "envmig-run1-main-final"
)

// fixture is a moto account with the original database and a KMS key, and
// the handlers wired to a recorded client.
type fixture struct {
	t        *testing.T
	admin    *rds.Client // unrecorded: the test's own observations
	rec      *testaws.Recording
	handlers map[plan.StepAction]executor.Handler
	p        *plan.Plan
	values   map[string]map[string]string
	progress []executor.Progress
	keyID    string
	keyARN   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testaws.Reset(t)
	ctx := context.Background()
	admin := rds.NewFromConfig(testaws.Config(t, nil))
	if _, err := admin.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(orig), Engine: aws.String("postgres"), EngineVersion: aws.String("16.3"),
		DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("app"), MasterUserPassword: aws.String("test-only-password"),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}},
	}); err != nil {
		t.Fatal(err)
	}
	key, err := kms.NewFromConfig(testaws.Config(t, nil)).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("envmig test")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testaws.Config(t, nil)
	rec := testaws.Record(&cfg)
	f := &fixture{
		t: t, admin: admin, rec: rec,
		handlers: Handlers(rds.NewFromConfig(cfg), kms.NewFromConfig(cfg), fast),
		values:   map[string]map[string]string{},
		keyID:    aws.ToString(key.KeyMetadata.KeyId), keyARN: aws.ToString(key.KeyMetadata.Arn),
	}
	tags := map[string]string{"owner": "platform", "team": "data"}
	f.p = &plan.Plan{Lineage: "run1", Steps: []plan.Step{
		{ID: "db.snapshot.main", Action: plan.DBSnapshot, Resource: "database.main", Params: plan.DBSnapshotParams{Identifier: orig, Snapshot: snap}},
		{ID: "db.copy-snapshot.main", Action: plan.DBCopySnapshot, Resource: "database.main", Params: plan.DBCopySnapshotParams{Source: snap, Snapshot: enc, KMSKeyID: f.keyID}},
		{ID: "db.restore.main", Action: plan.DBRestore, Resource: "database.main",
			Params: plan.DBRestoreParams{Snapshot: enc, Identifier: temp, Settings: plan.DBSettings{InstanceClass: "db.t3.large"}, Tags: tags}},
		{ID: "db.modify.main", Action: plan.DBModify, Resource: "database.main", Params: plan.DBModifyParams{Identifier: temp, Change: plan.DBChange{AllocatedStorage: 50, EngineVersion: "16.4"}}},
		{ID: "verify.database.main.clone", Action: plan.VerifyDatabase, Resource: "database.main", Params: plan.VerifyDatabaseParams{Identifier: temp, Tags: tags,
			Expect: plan.DBExpect{Engine: "postgres", EngineVersion: "16.4", InstanceClass: "db.t3.large", StorageEncrypted: plan.Ptr(true), KMSKeyID: f.keyID}}},
		{ID: "db.rename.main.retire", Action: plan.DBRename, Resource: "database.main", Params: plan.DBRenameParams{From: orig, To: retired}},
		{ID: "db.rename.main.swap", Action: plan.DBRename, Resource: "database.main", Params: plan.DBRenameParams{From: temp, To: orig}},
		{ID: "verify.database.main.final", Action: plan.VerifyDatabase, Resource: "database.main", Params: plan.VerifyDatabaseParams{Identifier: orig, Tags: tags,
			Expect: plan.DBExpect{Engine: "postgres", EngineVersion: "16.4", InstanceClass: "db.t3.large", AllocatedStorage: 50,
				StorageEncrypted: plan.Ptr(true), KMSKeyID: f.keyID, MultiAZ: plan.Ptr(false), DeletionProtection: plan.Ptr(false)}}},
		// clone-swap
		{ID: "db.delete.main", Action: plan.DBDelete, Resource: "database.main", Params: plan.DBDeleteParams{Identifier: orig, FinalSnapshot: final}},
		{ID: "db.restore.main.original", Action: plan.DBRestore, Resource: "database.main",
			Params: plan.DBRestoreParams{Snapshot: final, Identifier: orig, Settings: plan.DBSettings{InstanceClass: "db.t3.large"}, Tags: tags}},
		{ID: "verify.database.main.restored", Action: plan.VerifyDatabase, Resource: "database.main", Params: plan.VerifyDatabaseParams{Identifier: orig, Tags: tags,
			Expect: plan.DBExpect{Engine: "postgres", InstanceClass: "db.t3.large", AllocatedStorage: 20, StorageEncrypted: plan.Ptr(false)}}},
		// in place
		{ID: "db.update.main", Action: plan.DBUpdate, Resource: "database.main",
			Params: plan.DBUpdateParams{Identifier: orig, Change: plan.DBChange{InstanceClass: "db.t3.large"}, Tags: &map[string]string{"owner": "data", "cost": "42"}}},
	}}
	return f
}

func (f *fixture) sc(stepID, op string) *executor.StepContext {
	step, ok := f.p.Step(stepID)
	if !ok {
		f.t.Fatalf("no step %s", stepID)
	}
	if f.values[stepID] == nil {
		f.values[stepID] = map[string]string{}
	}
	sc := executor.NewStepContext(f.p, step, op, f.values[stepID])
	sc.TestHooks(nil, nil, func(p executor.Progress) { f.progress = append(f.progress, p) })
	return sc
}

func (f *fixture) do(stepID, op string) error {
	sc := f.sc(stepID, op)
	h := f.handlers[sc.Step.Action]
	if op == "apply" {
		return h.Apply(context.Background(), sc)
	}
	return h.Revert(context.Background(), sc)
}

// twice runs op, then runs it again and asserts the second made no
// mutating call.
func (f *fixture) twice(stepID, op string) {
	f.t.Helper()
	if err := f.do(stepID, op); err != nil {
		f.t.Fatalf("%s %s: %v", op, stepID, err)
	}
	n := len(f.rec.Mutating())
	if err := f.do(stepID, op); err != nil {
		f.t.Fatalf("%s %s again: %v", op, stepID, err)
	}
	if m := f.rec.Mutating()[n:]; len(m) > 0 {
		f.t.Errorf("%s %s again made %d mutating calls, want 0: %v", op, stepID, len(m), m)
	}
}

// refused runs op, expects an error wrapping want, and no mutating call.
func (f *fixture) refused(stepID, op string, want error) {
	f.t.Helper()
	n := len(f.rec.Mutating())
	err := f.do(stepID, op)
	if !errors.Is(err, want) {
		f.t.Errorf("%s %s = %v, want %v", op, stepID, err, want)
	}
	if m := f.rec.Mutating()[n:]; len(m) > 0 {
		f.t.Errorf("%s %s refused but made %d mutating calls: %v", op, stepID, len(m), m)
	}
}

func (f *fixture) instance(id string) *types.DBInstance {
	out, err := f.admin.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if errorCode(err) == codeInstanceNotFound {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return &out.DBInstances[0]
}

func (f *fixture) snapshot(id string) *types.DBSnapshot {
	out, err := f.admin.DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)})
	if errorCode(err) == codeSnapshotNotFound {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return &out.DBSnapshots[0]
}

// tagged lists the instances and snapshots carrying the run's tag.
func (f *fixture) tagged() []string {
	ctx := context.Background()
	var out []string
	insts, err := f.admin.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, i := range insts.DBInstances {
		if tagMap(i.TagList)[executor.RunTagKey] == "run1" {
			out = append(out, "instance "+aws.ToString(i.DBInstanceIdentifier))
		}
	}
	snaps, err := f.admin.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range snaps.DBSnapshots {
		if tagMap(s.TagList)[executor.RunTagKey] == "run1" {
			out = append(out, "snapshot "+aws.ToString(s.DBSnapshotIdentifier))
		}
	}
	return out
}

func TestRenameSwapLeavesTheEncryptedResizedCloneUnderTheOriginalName(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{
		"db.snapshot.main", "db.copy-snapshot.main", "db.restore.main", "db.modify.main",
		"verify.database.main.clone", "db.rename.main.retire", "db.rename.main.swap", "verify.database.main.final",
	} {
		f.twice(id, "apply")
	}
	got := f.instance(orig)
	if got == nil {
		t.Fatalf("%s does not exist after the swap", orig)
	}
	if !aws.ToBool(got.StorageEncrypted) || aws.ToString(got.KmsKeyId) != f.keyARN {
		t.Errorf("%s encrypted=%v key=%s, want encrypted with %s", orig, aws.ToBool(got.StorageEncrypted), aws.ToString(got.KmsKeyId), f.keyARN)
	}
	if aws.ToString(got.DBInstanceClass) != "db.t3.large" || aws.ToInt32(got.AllocatedStorage) != 50 || aws.ToString(got.EngineVersion) != "16.4" {
		t.Errorf("%s class=%s storage=%d version=%s, want db.t3.large 50 16.4", orig, aws.ToString(got.DBInstanceClass), aws.ToInt32(got.AllocatedStorage), aws.ToString(got.EngineVersion))
	}
	wantTags := map[string]string{"owner": "platform", "team": "data", executor.RunTagKey: "run1", ResourceTagKey: "database.main"}
	if diff := cmp.Diff(wantTags, tagMap(got.TagList)); diff != "" {
		t.Errorf("tags of %s (-want +got):\n%s", orig, diff)
	}
	old := f.instance(retired)
	if old == nil || aws.ToBool(old.StorageEncrypted) || aws.ToString(old.DBInstanceClass) != "db.t3.medium" {
		t.Errorf("the original was not kept as %s: %+v", retired, old)
	}
	if f.instance(temp) != nil {
		t.Errorf("%s still exists after the swap", temp)
	}
	for _, id := range []string{snap, enc} {
		s := f.snapshot(id)
		if s == nil || tagMap(s.TagList)[executor.RunTagKey] != "run1" {
			t.Errorf("snapshot %s = %+v, want it tagged with the run", id, s)
		}
	}
	if s := f.snapshot(enc); s == nil || !aws.ToBool(s.Encrypted) {
		t.Errorf("the copy %s is not encrypted", enc)
	}
}

func TestCloneSwapRestoresTheOriginalNameFromTheFinalSnapshot(t *testing.T) {
	f := newFixture(t)
	f.twice("db.delete.main", "apply")
	if f.instance(orig) != nil {
		t.Fatalf("%s still exists after the delete", orig)
	}
	s := f.snapshot(final)
	if s == nil || aws.ToString(s.Status) != "available" || tagMap(s.TagList)[executor.RunTagKey] != "run1" {
		t.Fatalf("final snapshot = %+v, want available and tagged with the run", s)
	}
	// The original's automated backups go with it: the final snapshot is
	// the way back, and the restore under the same name must not collide.
	auto, err := f.admin.DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String(orig), SnapshotType: aws.String("automated")})
	if err != nil || len(auto.DBSnapshots) != 0 {
		t.Fatalf("automated backups of %s after the delete: %v, %v; want none", orig, auto, err)
	}
	f.twice("db.restore.main.original", "apply")
	f.twice("verify.database.main.restored", "apply")
	if got := f.instance(orig); got == nil || aws.ToString(got.DBInstanceClass) != "db.t3.large" {
		t.Errorf("restored %s = %+v", orig, got)
	}
}

func TestRevertsUndoEveryStepAndAreIdempotent(t *testing.T) {
	f := newFixture(t)
	prepare := []string{"db.snapshot.main", "db.copy-snapshot.main", "db.restore.main", "db.modify.main", "db.rename.main.retire"}
	for _, id := range prepare {
		if err := f.do(id, "apply"); err != nil {
			t.Fatalf("apply %s: %v", id, err)
		}
	}
	if len(f.tagged()) != 3 {
		t.Fatalf("tagged with the run after apply: %v, want 3", f.tagged())
	}
	for i := len(prepare) - 1; i >= 0; i-- {
		f.twice(prepare[i], "revert")
	}
	if left := f.tagged(); len(left) != 0 {
		t.Errorf("left behind with the run's tag: %v", left)
	}
	if f.instance(orig) == nil || f.instance(retired) != nil {
		t.Errorf("the rename was not undone: %s exists=%v, %s exists=%v", orig, f.instance(orig) != nil, retired, f.instance(retired) != nil)
	}
}

func TestRevertWhenApplyNeverRanChangesNothing(t *testing.T) {
	f := newFixture(t)
	for _, s := range f.p.Steps {
		if err := f.do(s.ID, "revert"); err != nil {
			t.Errorf("revert %s: %v", s.ID, err)
		}
	}
	if m := f.rec.Mutating(); len(m) > 0 {
		t.Errorf("reverts without applies made mutating calls: %v", m)
	}
	if f.instance(orig) == nil {
		t.Errorf("%s is gone", orig)
	}
}

func TestRefusesToAdoptWhatIsNotThisRuns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Under the run's snapshot name: one untagged, then one of another run.
	if _, err := f.admin.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(orig), DBSnapshotIdentifier: aws.String(snap)}); err != nil {
		t.Fatal(err)
	}
	f.refused("db.snapshot.main", "apply", ErrNotThisRun)
	if _, err := f.admin.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(snap), TargetDBSnapshotIdentifier: aws.String(enc),
		Tags: []types.Tag{{Key: aws.String(executor.RunTagKey), Value: aws.String("run0")}}}); err != nil {
		t.Fatal(err)
	}
	f.refused("db.copy-snapshot.main", "apply", ErrNotThisRun)
	// Under the temporary name: an instance the run did not restore.
	if _, err := f.admin.RestoreDBInstanceFromDBSnapshot(ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{
		DBSnapshotIdentifier: aws.String(snap), DBInstanceIdentifier: aws.String(temp),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("someone")}}}); err != nil {
		t.Fatal(err)
	}
	f.refused("db.restore.main", "apply", ErrNotThisRun)
	f.refused("db.modify.main", "apply", ErrNotThisRun)
	// Reverts leave all of it alone.
	for _, id := range []string{"db.restore.main", "db.copy-snapshot.main", "db.snapshot.main"} {
		n := len(f.rec.Mutating())
		if err := f.do(id, "revert"); err != nil {
			t.Errorf("revert %s: %v", id, err)
		}
		if m := f.rec.Mutating()[n:]; len(m) > 0 {
			t.Errorf("revert %s touched what is not the run's: %v", id, m)
		}
	}
	if f.instance(temp) == nil || f.snapshot(snap) == nil || f.snapshot(enc) == nil {
		t.Error("something not the run's was deleted")
	}
}

func TestRenameRefusesATakenName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.admin.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(orig), DBSnapshotIdentifier: aws.String("manual")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.RestoreDBInstanceFromDBSnapshot(ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{
		DBSnapshotIdentifier: aws.String("manual"), DBInstanceIdentifier: aws.String(retired)}); err != nil {
		t.Fatal(err)
	}
	f.refused("db.rename.main.retire", "apply", ErrNameTaken)
	if f.instance(orig) == nil || f.instance(retired) == nil {
		t.Error("an instance disappeared: the emulator deletes a rename's target, so the check must come first")
	}
}

func TestRenameDoesNotFinishARenameItNeverStarted(t *testing.T) {
	f := newFixture(t)
	// Someone else renamed the original away and put another in the target.
	if _, err := f.admin.ModifyDBInstance(context.Background(), &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(orig), NewDBInstanceIdentifier: aws.String(retired), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	n := len(f.rec.Mutating())
	if err := f.do("db.rename.main.retire", "apply"); err == nil || !strings.Contains(err.Error(), "never renamed") {
		t.Errorf("rename = %v, want a refusal", err)
	}
	if err := f.do("db.rename.main.retire", "revert"); err != nil {
		t.Errorf("revert = %v, want nothing to do", err)
	}
	if m := f.rec.Mutating()[n:]; len(m) > 0 {
		t.Errorf("mutating calls: %v", m)
	}
}

func TestDeleteRefusesDeletionProtectionAndUnsnapshottedOriginals(t *testing.T) {
	f := newFixture(t)
	unsnapshotted := f.p.Steps[len(f.p.Steps)-1]
	unsnapshotted.ID, unsnapshotted.Action, unsnapshotted.Params = "db.delete.main.bare", plan.DBDelete, plan.DBDeleteParams{Identifier: orig}
	f.p.Steps = append(f.p.Steps, unsnapshotted)
	f.refused("db.delete.main.bare", "apply", ErrNotThisRun)

	if _, err := f.admin.ModifyDBInstance(context.Background(), &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(orig), DeletionProtection: aws.Bool(true), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	f.refused("db.delete.main", "apply", ErrDeletionProtection)
	if got := f.instance(orig); got == nil || !aws.ToBool(got.DeletionProtection) {
		t.Errorf("%s = %+v, want it untouched with deletion protection on", orig, got)
	}
}

func TestDeleteOfAGoneInstanceWithoutItsFinalSnapshotSaysDataMayBeLost(t *testing.T) {
	f := newFixture(t)
	if _, err := f.admin.DeleteDBInstance(context.Background(), &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(orig), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	err := f.do("db.delete.main", "apply")
	if err == nil || !strings.Contains(err.Error(), "data may be lost") {
		t.Errorf("delete = %v, want a data-loss warning", err)
	}
}

func TestRestoreRevertTurnsOffDeletionProtectionOnlyOnItsOwnInstance(t *testing.T) {
	f := newFixture(t)
	rp := f.p.Steps[2].Params.(plan.DBRestoreParams)
	rp.DeletionProtection = true
	f.p.Steps[2].Params = rp
	for _, id := range []string{"db.snapshot.main", "db.copy-snapshot.main", "db.restore.main"} {
		if err := f.do(id, "apply"); err != nil {
			t.Fatalf("apply %s: %v", id, err)
		}
	}
	if got := f.instance(temp); got == nil || !aws.ToBool(got.DeletionProtection) {
		t.Fatalf("%s = %+v, want deletion protection on", temp, got)
	}
	f.twice("db.restore.main", "revert")
	if f.instance(temp) != nil {
		t.Errorf("%s survived the revert", temp)
	}
	said := false
	for _, p := range f.progress {
		said = said || strings.Contains(p.Message, "turned deletion protection off on this run's temporary DB instance "+temp)
	}
	if !said {
		t.Errorf("no progress message says deletion protection was turned off: %+v", f.progress)
	}
}

func TestVerifyListsEveryMismatch(t *testing.T) {
	f := newFixture(t)
	f.p.Steps = append(f.p.Steps, plan.Step{ID: "verify.wrong", Action: plan.VerifyDatabase,
		Params: plan.VerifyDatabaseParams{Identifier: orig, Tags: map[string]string{"owner": "data"},
			Expect: plan.DBExpect{Engine: "postgres", InstanceClass: "db.t3.large", StorageEncrypted: plan.Ptr(true), AllocatedStorage: 20}}})
	err := f.do("verify.wrong", "apply")
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("verify = %v, want a *VerifyError", err)
	}
	want := []string{
		"instance_class: want db.t3.large, got db.t3.medium",
		"storage_encrypted: want true, got false",
		"tags.owner: want data, got platform",
	}
	if diff := cmp.Diff(want, ve.Mismatches); diff != "" {
		t.Errorf("mismatches (-want +got):\n%s", diff)
	}
}

func TestUpdateReplacesUserTagsAndKeepsEnvmigTags(t *testing.T) {
	f := newFixture(t)
	inst := f.instance(orig)
	if _, err := f.admin.AddTagsToResource(context.Background(), &rds.AddTagsToResourceInput{ResourceName: inst.DBInstanceArn,
		Tags: []types.Tag{{Key: aws.String("stale"), Value: aws.String("x")}, {Key: aws.String("envmig:run"), Value: aws.String("run0")}}}); err != nil {
		t.Fatal(err)
	}
	f.twice("db.update.main", "apply")
	got := f.instance(orig)
	want := map[string]string{"owner": "data", "cost": "42", "envmig:run": "run0"}
	if diff := cmp.Diff(want, tagMap(got.TagList)); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if aws.ToString(got.DBInstanceClass) != "db.t3.large" {
		t.Errorf("class = %s, want db.t3.large", aws.ToString(got.DBInstanceClass))
	}
	if maps.Equal(tagMap(inst.TagList), tagMap(got.TagList)) {
		t.Error("tags did not change")
	}
}

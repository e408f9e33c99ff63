package planner

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/s3settings"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

const (
	testKey    = "arn:aws:kms:us-east-1:123456789012:key/k1"
	testLambda = "arn:aws:lambda:us-east-1:123456789012:function:thumbs"
	testQueue  = "arn:aws:sqs:us-east-1:123456789012:index"
)

// fullBucket is a bucket in us-east-1 with every setting, logging into
// itself, notifying a Lambda function and a queue of its region.
func fullBucket() *live.Bucket {
	b := &live.Bucket{Name: "shop-assets", Exists: true, Region: "us-east-1", Versioning: "Enabled",
		Encryption: "aws:kms", EncryptionKMSKey: testKey, EncryptionBucketKey: true,
		HasPolicy: true, ObjectLock: true, ObjectLockRetention: "GOVERNANCE 30 days",
		NotificationTargets: []string{testLambda, testQueue}, LoggingTarget: "shop-assets",
		ReplicationRole: "arn:aws:iam::123456789012:role/repl", ReplicationDestinations: []string{"arn:aws:s3:::shop-replica"},
		Settings: map[string]live.BucketSetting{}}
	for i, n := range live.BucketSettingNames() {
		b.Settings[n] = live.BucketSetting{State: live.SettingPresent, Summary: s3settings.Label(s3settings.Name(n)) + ": something", Digest: strings.Repeat(string(rune('a'+i)), 16)}
	}
	return b
}

// bareBucket has no setting at all.
func bareBucket() *live.Bucket {
	b := &live.Bucket{Name: "shop-assets", Exists: true, Region: "us-east-1", Settings: map[string]live.BucketSetting{}}
	for _, n := range live.BucketSettingNames() {
		b.Settings[n] = live.BucketSetting{State: live.SettingAbsent, Summary: s3settings.Label(s3settings.Name(n)) + ": none", Digest: "absent"}
	}
	return b
}

func names(cs []CarriedSetting) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Setting)
	}
	return out
}

func codes(ds []plan.Diagnostic) []string {
	var out []string
	for _, d := range ds {
		out = append(out, string(d.Severity)+" "+d.Code)
	}
	slices.Sort(out)
	return out
}

var allSettings = live.BucketSettingNames()

func without(drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(allSettings), func(s string) bool { return slices.Contains(drop, s) })
}

// TestBucketSettingsByKind: what each kind of move carries of a bucket with
// every setting, and what it says about the rest.
func TestBucketSettingsByKind(t *testing.T) {
	tests := map[string]struct {
		move        SettingsMove
		carried     []string
		diagnostics []string
	}{
		"new name, same region": {
			move:    SettingsMove{Kind: MoveNewName, Target: "shop-assets-v2", Region: "us-east-1"},
			carried: allSettings,
			// replication, notifications, retention, website and acceleration endpoints.
			diagnostics: []string{"warning EM162", "warning EM163", "warning EM164", "warning EM169", "warning EM169"},
		},
		"same name re-created in another region": {
			move:    SettingsMove{Kind: MoveRecreate, Target: "shop-assets", Region: "eu-west-1"},
			carried: without(live.SettingNotifications),
			// the key stays in us-east-1; the targets too; website endpoint changes.
			diagnostics: []string{"error EM165", "warning EM162", "warning EM163", "warning EM164", "warning EM169"},
		},
		"temporary in the same region": {
			move:        SettingsMove{Kind: MoveTemporary, Target: "shop-assets-envmig", Region: "us-east-1"},
			carried:     []string{live.SettingPublicAccessBlock, live.SettingOwnership, live.SettingEncryption},
			diagnostics: nil,
		},
		"temporary in another region": {
			move:        SettingsMove{Kind: MoveTemporary, Target: "shop-assets-envmig", Region: "eu-west-1"},
			carried:     []string{live.SettingPublicAccessBlock, live.SettingOwnership, live.SettingEncryption},
			diagnostics: []string{"error EM165"},
		},
		"clone": {
			move:        SettingsMove{Kind: MoveClone, Target: "shop-assets-exp", Region: "us-east-1"},
			carried:     without(live.SettingNotifications, live.SettingReplication, live.SettingObjectLock),
			diagnostics: []string{"warning EM168", "warning EM168", "warning EM168"},
		},
		"new name, the spec manages tags": {
			move:        SettingsMove{Kind: MoveNewName, Target: "shop-assets-v2", Region: "us-east-1", SpecTags: true},
			carried:     without(live.SettingTags),
			diagnostics: []string{"warning EM162", "warning EM163", "warning EM164", "warning EM169", "warning EM169"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := tc.move
			m.Source, m.Address = fullBucket(), "bucket.assets"
			got, diags := BucketSettings(m)
			if diff := cmp.Diff(tc.carried, names(got)); diff != "" {
				t.Errorf("carried (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.diagnostics, codes(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			for _, d := range diags {
				if d.Resource != "bucket.assets" || d.Summary == "" || d.Detail == "" || d.Fix == "" {
					t.Errorf("diagnostic %s lacks a resource, summary, detail or fix: %+v", d.Code, d)
				}
			}
			for _, c := range got {
				if c.Digest != m.Source.Settings[c.Setting].Digest || c.Phase != settingPhases[c.Setting] {
					t.Errorf("%s: digest %q, phase %q; want the source's digest and phase %q", c.Setting, c.Digest, c.Phase, settingPhases[c.Setting])
				}
			}
		})
	}
}

// TestBucketSettingsNotes: what the plan says a carry changes on the way.
func TestBucketSettingsNotes(t *testing.T) {
	note := func(m SettingsMove, setting string) (CarriedSetting, bool) {
		got, _ := BucketSettings(m)
		for _, c := range got {
			if c.Setting == setting {
				return c, true
			}
		}
		return CarriedSetting{}, false
	}
	renamed := SettingsMove{Kind: MoveNewName, Source: fullBucket(), Target: "shop-assets-v2", Region: "us-east-1"}
	for setting, want := range map[string]string{
		live.SettingPolicy:     "arn:aws:s3:::shop-assets-v2",
		live.SettingLogging:    "the target becomes shop-assets-v2",
		live.SettingObjectLock: "default retention is set after the verified copy",
		live.SettingLifecycle:  "object ages restart at the copy",
	} {
		if c, ok := note(renamed, setting); !ok || !strings.Contains(c.Note, want) {
			t.Errorf("%s: note %q, want it to say %q", setting, c.Note, want)
		}
	}
	// The temporary's block is all public access, whatever the source's.
	bare := SettingsMove{Kind: MoveTemporary, Source: bareBucket(), Target: "t", Region: "us-east-1"}
	if c, ok := note(bare, live.SettingPublicAccessBlock); !ok || !c.Present || !c.Shown() || c.Digest != "absent" || !strings.Contains(c.Summary, "all public access blocked") {
		t.Errorf("temporary's public access block: %+v", c)
	}
	// A new bucket loses S3's default block when the source has none: shown.
	bare.Kind = MoveNewName
	if c, ok := note(bare, live.SettingPublicAccessBlock); !ok || c.Present || !c.Shown() || !strings.Contains(c.Note, "removed") {
		t.Errorf("public access block of a bucket without one: %+v", c)
	}
}

// TestBucketSettingsBare: a bucket without settings carries each setting as
// absent (so that the executor refuses one that appears), shows none but
// the removal of S3's default block, and says nothing.
func TestBucketSettingsBare(t *testing.T) {
	got, diags := BucketSettings(SettingsMove{Kind: MoveNewName, Source: bareBucket(), Target: "b2", Region: "us-east-1"})
	if diff := cmp.Diff(allSettings, names(got)); diff != "" {
		t.Errorf("carried (-want +got):\n%s", diff)
	}
	var shown []string
	for _, c := range got {
		if c.Shown() {
			shown = append(shown, c.Setting)
		}
	}
	if diff := cmp.Diff([]string{live.SettingPublicAccessBlock}, shown); diff != "" || len(diags) != 0 {
		t.Errorf("shown (-want +got):\n%s\ndiagnostics %v", diff, diags)
	}
	if d := CarriedDigests(got); len(d) != len(allSettings) || d[live.SettingLifecycle] != "absent" {
		t.Errorf("CarriedDigests = %v", d)
	}
	for _, b := range []*live.Bucket{nil, {Name: "gone"}} {
		if got, diags := BucketSettings(SettingsMove{Kind: MoveNewName, Source: b, Target: "x"}); got != nil || diags != nil {
			t.Errorf("missing source: %v, %v; want nothing", got, diags)
		}
	}
}

// TestBucketSettingsProblems: each problem a setting can have, alone.
func TestBucketSettingsProblems(t *testing.T) {
	tests := map[string]struct {
		kind       SettingsMoveKind
		target     string
		region     string
		mod        func(*live.Bucket)
		setting    string // the setting the case is about
		carried    bool
		diagnostic string // severity and code, "" for none
		says       string // in the diagnostic's summary or detail
	}{
		"KMS key of the same region": {MoveRecreate, "shop-assets", "eu-west-1",
			func(b *live.Bucket) { b.EncryptionKMSKey = "arn:aws:kms:eu-west-1:123456789012:key/k2" }, live.SettingEncryption, true, "", ""},
		"KMS alias resolves in the old region": {MoveNewName, "b2", "eu-west-1",
			func(b *live.Bucket) { b.EncryptionKMSKey = "alias/assets" }, live.SettingEncryption, true, "error EM165", "alias/assets"},
		"AWS managed key moves anywhere": {MoveNewName, "b2", "eu-west-1",
			func(b *live.Bucket) { b.EncryptionKMSKey = "" }, live.SettingEncryption, true, "", ""},
		"notification targets in the new region": {MoveRecreate, "shop-assets", "eu-west-1",
			func(b *live.Bucket) { b.NotificationTargets = []string{"arn:aws:sqs:eu-west-1:123456789012:q"} }, live.SettingNotifications, true, "", ""},
		"notification targets of another region": {MoveNewName, "b2", "eu-west-1", nil, live.SettingNotifications, false, "warning EM163", testQueue},
		"notifications to EventBridge only": {MoveNewName, "b2", "us-east-1",
			func(b *live.Bucket) { b.NotificationTargets, b.NotificationEventBridge = nil, true }, live.SettingNotifications, true, "", ""},
		"notification targets must allow the new name": {MoveNewName, "b2", "us-east-1", nil, live.SettingNotifications, true, "warning EM163", "aws:SourceArn arn:aws:s3:::b2"},
		"logging into another bucket, same region": {MoveNewName, "b2", "us-east-1",
			func(b *live.Bucket) { b.LoggingTarget = "central-logs" }, live.SettingLogging, true, "", ""},
		"logging into another bucket, new region": {MoveRecreate, "shop-assets", "eu-west-1",
			func(b *live.Bucket) { b.LoggingTarget = "central-logs" }, live.SettingLogging, false, "warning EM166", "central-logs"},
		"logging into itself, new region": {MoveRecreate, "shop-assets", "eu-west-1", nil, live.SettingLogging, true, "", ""},
		"clone logging into itself":       {MoveClone, "shop-assets-exp", "us-east-1", nil, live.SettingLogging, true, "", ""},
		"clone logging elsewhere": {MoveClone, "shop-assets-exp", "us-east-1",
			func(b *live.Bucket) { b.LoggingTarget = "central-logs" }, live.SettingLogging, false, "warning EM168", "central-logs"},
		"policy naming itself beyond its ARNs": {MoveNewName, "b2", "us-east-1",
			func(b *live.Bucket) { b.PolicyNameMentions = 2 }, live.SettingPolicy, true, "warning EM167", "2 place(s)"},
		"policy re-created under its name": {MoveRecreate, "shop-assets", "us-east-1",
			func(b *live.Bucket) { b.PolicyNameMentions = 2 }, live.SettingPolicy, true, "", ""},
		"acceleration on a dotted name": {MoveClone, "shop.assets", "us-east-1", nil, live.SettingAccelerate, false, "warning EM169", "dot"},
		"clone's website":               {MoveClone, "shop-assets-exp", "us-east-1", nil, live.SettingWebsite, true, "", ""},
		"replication to a clone":        {MoveClone, "shop-assets-exp", "us-east-1", nil, live.SettingReplication, false, "warning EM168", "replicas"},
		"object lock to a clone":        {MoveClone, "shop-assets-exp", "us-east-1", nil, live.SettingObjectLock, false, "warning EM168", "destroyed"},
		"replication to a new name":     {MoveNewName, "b2", "us-east-1", nil, live.SettingReplication, true, "warning EM162", "iam:PassRole"},
		"lifecycle unsupported by the endpoint": {MoveNewName, "b2", "us-east-1",
			func(b *live.Bucket) { unsupported(b, live.SettingLifecycle) }, live.SettingLifecycle, false, "warning EM160", "not supported by this endpoint"},
		"lifecycle unsupported, not carried anyway": {MoveTemporary, "t", "us-east-1",
			func(b *live.Bucket) { unsupported(b, live.SettingLifecycle) }, live.SettingLifecycle, false, "", ""},
		"temporary's block unsupported": {MoveTemporary, "t", "us-east-1",
			func(b *live.Bucket) { unsupported(b, live.SettingPublicAccessBlock) }, live.SettingPublicAccessBlock, false, "warning EM160", "public access"},
		"tags unsupported": {MoveClone, "c", "us-east-1",
			func(b *live.Bucket) { unsupported(b, live.SettingTags) }, live.SettingTags, false, "error EM161", "envmig:run"},
		"tags unsupported, temporary": {MoveTemporary, "t", "us-east-1",
			func(b *live.Bucket) { unsupported(b, live.SettingTags) }, live.SettingTags, false, "error EM161", "envmig:run"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := fullBucket()
			if tc.mod != nil {
				tc.mod(b)
			}
			got, diags := BucketSettings(SettingsMove{Kind: tc.kind, Source: b, Target: tc.target, Region: tc.region, Address: "bucket.assets"})
			if carried := slices.Contains(names(got), tc.setting); carried != tc.carried {
				t.Errorf("%s carried = %v, want %v", tc.setting, carried, tc.carried)
			}
			var about []plan.Diagnostic
			for _, d := range diags {
				if strings.Contains(d.Summary, keywords[tc.setting]) {
					about = append(about, d)
				}
			}
			if tc.diagnostic == "" {
				if len(about) != 0 {
					t.Errorf("diagnostics about %s: %v, want none", tc.setting, codes(about))
				}
				return
			}
			if len(about) != 1 || string(about[0].Severity)+" "+about[0].Code != tc.diagnostic {
				t.Fatalf("diagnostics about %s: %v (all: %v), want one %s", tc.setting, codes(about), codes(diags), tc.diagnostic)
			}
			if text := about[0].Summary + " " + about[0].Detail + " " + about[0].Fix; !strings.Contains(text, tc.says) {
				t.Errorf("%s says %q, want it to mention %q", tc.diagnostic, text, tc.says)
			}
		})
	}
}

// keywords find the diagnostics about a setting by their summary.
var keywords = map[string]string{
	live.SettingPolicy: "policy", live.SettingPublicAccessBlock: "public access", live.SettingEncryption: "encryption",
	live.SettingLifecycle: "lifecycle", live.SettingNotifications: "notification", live.SettingLogging: "logging",
	live.SettingWebsite: "website", live.SettingTags: "tags", live.SettingObjectLock: "object lock",
	live.SettingReplication: "replication", live.SettingAccelerate: "accelerat",
}

func unsupported(b *live.Bucket, setting string) {
	b.Settings[setting] = live.BucketSetting{State: live.SettingUnsupported, Summary: s3settings.Label(s3settings.Name(setting)) + ": not supported by this endpoint", Digest: "unsupported"}
}

package database

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// verify runs plan.VerifyDatabase.
type verify struct{ d *deps }

var _ executor.Handler = (*verify)(nil)

// verified are the settings verify.database compares, in report order.
var verified = []string{
	"engine", "engine_version", "instance_class", "allocated_storage", "storage_encrypted",
	"kms_key_id", "multi_az", "db_subnet_group", "parameter_group", "deletion_protection",
}

// VerifyError lists every way an instance differs from the plan.
type VerifyError struct {
	Identifier string
	// Mismatches read "instance_class: want db.t3.large, got db.t3.medium".
	Mismatches []string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("DB instance %s does not have the desired settings: %s", e.Identifier, strings.Join(e.Mismatches, "; "))
}

// Apply checks that the instance exists, is available and has every
// setting the step names (an empty parameter is not checked) and, when the
// step has tags, exactly those user tags. It changes nothing.
func (h *verify) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.VerifyDatabaseParams](sc)
	if err != nil {
		return err
	}
	if err := required(sc, "identifier", p.Identifier); err != nil {
		return err
	}
	id := p.Identifier
	expect := p.Expect.Settings()
	inst, err := h.d.expectInstance(ctx, sc, id)
	if err != nil {
		return err
	}
	if inst == nil {
		return fmt.Errorf("verify DB instance %s: it does not exist", id)
	}
	var bad []string
	// After a storage change RDS optimizes the storage for hours while the
	// instance serves normally.
	if s := aws.ToString(inst.DBInstanceStatus); s != "available" && s != "storage-optimization" {
		bad = append(bad, fmt.Sprintf("status: want available, got %s", s))
	}
	for _, k := range verified {
		want := expect[k]
		if want == "" {
			continue
		}
		got := current(inst, k)
		same, err := h.same(ctx, inst, k, want, got)
		if err != nil {
			return fmt.Errorf("verify DB instance %s: %w", id, err)
		}
		if !same {
			bad = append(bad, fmt.Sprintf("%s: want %s, got %s", k, want, show(got)))
		}
	}
	if p.Tags != nil {
		bad = append(bad, tagMismatches(userTags(p.Tags), userTags(tagMap(inst.TagList)))...)
	}
	if len(bad) > 0 {
		return &VerifyError{Identifier: id, Mismatches: bad}
	}
	return nil
}

// Revert does nothing: a check changes nothing.
func (h *verify) Revert(context.Context, *executor.StepContext) error { return nil }

// same compares one setting.
func (h *verify) same(ctx context.Context, inst *types.DBInstance, key, want, got string) (bool, error) {
	switch key {
	case "storage_encrypted", "multi_az", "deletion_protection":
		w, err := strconv.ParseBool(want)
		return err == nil && strconv.FormatBool(w) == got, nil
	case "allocated_storage":
		w, err := strconv.Atoi(want)
		return err == nil && strconv.Itoa(w) == got, nil
	case "kms_key_id":
		return h.sameKey(ctx, want, aws.ToString(inst.KmsKeyId))
	}
	return want == got, nil
}

// sameKey compares a key reference (ID, ARN or alias) with the key ARN RDS
// reports: through KMS when a client is given, else by key ID.
func (h *verify) sameKey(ctx context.Context, want, got string) (bool, error) {
	if want == got {
		return true, nil
	}
	if got == "" {
		return false, nil
	}
	if h.d.keys != nil {
		out, err := h.d.keys.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(want)})
		if err != nil {
			return false, fmt.Errorf("resolve KMS key %s: %w", want, err)
		}
		if m := out.KeyMetadata; m != nil {
			return aws.ToString(m.Arn) == got || aws.ToString(m.KeyId) == keyID(got), nil
		}
		return false, nil
	}
	return keyID(want) == keyID(got), nil
}

// keyID returns the key ID of a key ARN ("arn:...:key/ID"), or ref itself.
func keyID(ref string) string {
	if i := strings.LastIndex(ref, ":key/"); i >= 0 {
		return ref[i+len(":key/"):]
	}
	return ref
}

// tagMismatches lists every user tag that differs, missing or extra.
func tagMismatches(want, got map[string]string) []string {
	var out []string
	keys := slices.Collect(maps.Keys(want))
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		w, inW := want[k]
		g, inG := got[k]
		if inW && inG && w == g {
			continue
		}
		if !inW {
			w = "(none)"
		}
		if !inG {
			g = "(none)"
		}
		out = append(out, fmt.Sprintf("tags.%s: want %s, got %s", k, w, g))
	}
	return out
}

package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sample() *Plan {
	return &Plan{Lineage: "3fa2c91b", Environment: "production", Account: "123456789012", Region: "us-east-1",
		Observations: []Observation{{Address: "database.main", Kind: KindDatabase, ID: "shop-db", Exists: true, Attrs: map[string]string{"instance_class": "db.t3.medium"}}},
		Steps: []Step{
			{ID: "preflight", Phase: PhasePrepare, Action: Preflight, Params: PreflightParams{}},
			{ID: "gate", Phase: PhaseGate, Action: Gate, Params: GateParams{Environment: "production"}},
			{ID: "db.update.main", Phase: PhaseCommit, Action: DBUpdate, Params: DBUpdateParams{Identifier: "shop-db", Change: DBChange{InstanceClass: "db.t3.large"}}},
		}}
}

func encode(t *testing.T, p *Plan) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	b := encode(t, sample())
	p, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sample().Steps, p.Steps); diff != "" {
		t.Fatal(diff)
	}
	if p.Fingerprint != Fingerprint(sample().Observations) {
		t.Fatal("fingerprint lost")
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := encode(t, sample())
	reseal := func(edit func(*Plan)) []byte {
		p := sample()
		edit(p)
		return encode(t, p)
	}
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":        {nil, "empty"},
		"truncated":    {good[:len(good)/2], "truncated"},
		"not json":     {[]byte("hello"), "not a plan"},
		"no version":   {[]byte(`{"lineage":"x"}`), "no format_version"},
		"newer major":  {bytes.Replace(good, []byte(`"format_version": "1.0"`), []byte(`"format_version": "2.1"`), 1), "2.1"},
		"edited":       {bytes.Replace(good, []byte("db.t3.medium"), []byte("db.t3.large"), 1), "modified after it was made"},
		"unknown key":  {bytes.Replace(good, []byte(`"lineage"`), []byte(`"extra": 1, "lineage"`), 1), "unknown field"},
		"two gates":    {reseal(func(p *Plan) { p.Steps[2].Phase = PhaseGate }), "2 points of no return"},
		"commit first": {reseal(func(p *Plan) { p.Steps[0].Phase = PhaseCommit }), "before the point of no return"},
		"repeated id":  {reseal(func(p *Plan) { p.Steps[2].ID = "preflight" }), "repeated id"},
		"unknown action": {bytes.Replace(reseal(func(p *Plan) { p.Steps[2].Action = "bucket.delete-everything" }), nil, nil, 0),
			`unknown action "bucket.delete-everything"`},
		"unknown parameter": {bytes.Replace(good, []byte(`"identifier": "shop-db"`), []byte(`"identifier": "shop-db", "force": true`), 1),
			`unknown field "force"`},
		"parameters of another action": {reseal(func(p *Plan) { p.Steps[2].Params = BucketDeleteParams{Bucket: "x"} }),
			`unknown field "bucket"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			var fe *FormatError
			var te *TamperedError
			if !errors.As(err, &fe) && !errors.As(err, &te) {
				t.Fatalf("untyped error %T", err)
			}
		})
	}
}

func TestFingerprintIgnoresInfoAndOrder(t *testing.T) {
	a := []Observation{{Address: "a", Attrs: map[string]string{"x": "1"}, Info: map[string]string{"objects": "1"}}, {Address: "b"}}
	b := []Observation{{Address: "b"}, {Address: "a", Attrs: map[string]string{"x": "1"}, Info: map[string]string{"objects": "999"}}}
	if Fingerprint(a) != Fingerprint(b) {
		t.Fatal("volatile info or order changed the fingerprint")
	}
	b[1].Attrs["x"] = "2"
	if Fingerprint(a) == Fingerprint(b) {
		t.Fatal("an attribute change did not change the fingerprint")
	}
}

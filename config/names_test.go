package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

func TestDerivedNames(t *testing.T) {
	db := &Database{Identifier: "shop-prod-db"}
	b := &Bucket{BucketName: "shop-prod-uploads"}
	custom := Migration{TemporarySuffix: "-next"}
	got := []string{
		db.TemporaryIdentifier(Migration{}), db.RetiredIdentifier(Migration{}), b.TemporaryName(Migration{}),
		db.TemporaryIdentifier(custom), db.RetiredIdentifier(custom), b.TemporaryName(custom),
		(&Database{LogicalID: "Database"}).TemporaryIdentifier(custom), (&Bucket{LogicalID: "B"}).TemporaryName(custom),
	}
	want := []string{
		"shop-prod-db-envmig", "shop-prod-db-envmig-old", "shop-prod-uploads-envmig",
		"shop-prod-db-next", "shop-prod-db-next-old", "shop-prod-uploads-next",
		"", "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestRDSIdentifierRules(t *testing.T) {
	for id, wantOK := range map[string]bool{
		"a":                       true,
		"shop-prod-db":            true,
		"Shop-Prod-DB1":           true,
		strings.Repeat("a", 63):   true,
		strings.Repeat("a", 64):   false,
		"":                        false,
		"1db":                     false,
		"-db":                     false,
		"db-":                     false,
		"db--1":                   false,
		"db_1":                    false,
		"db.1":                    false,
		"dé":                      false,
		"shop-prod-db-envmig-old": true,
	} {
		if got := rdsIdentifierProblem(id) == ""; got != wantOK {
			t.Errorf("%q: valid %v, want %v (%s)", id, got, wantOK, rdsIdentifierProblem(id))
		}
	}
}

func TestBucketNameRules(t *testing.T) {
	for name, wantOK := range map[string]bool{
		"abc":                   true,
		"shop-prod-uploads":     true,
		"logs.example.com":      true,
		"1bucket9":              true,
		strings.Repeat("b", 63): true,
		strings.Repeat("b", 64): false,
		"ab":                    false,
		"Shop":                  false,
		"shop_uploads":          false,
		"-shop":                 false,
		"shop-":                 false,
		"shop.":                 false,
		"shop..logs":            false,
		"192.168.5.4":           false,
		"xn--shop":              false,
		"sthree-shop":           false,
		"amzn-s3-demo-shop":     false,
		"shop-s3alias":          false,
		"shop--ol-s3":           false,
		"shop.mrap":             false,
		"shop--x-s3":            false,
		"shop--table-s3":        false,
		"café-bucket":           false,
		"192.168.5.4.5":         true,
	} {
		if got := bucketNameProblem(name) == ""; got != wantOK {
			t.Errorf("%q: valid %v, want %v (%s)", name, got, wantOK, bucketNameProblem(name))
		}
	}
}

func TestSuffixRules(t *testing.T) {
	for suffix, wantOK := range map[string]bool{
		"-envmig":                     true,
		"-next":                       true,
		"2":                           true,
		"":                            false,
		"_tmp":                        false,
		"-Envmig":                     false,
		"-tmp-":                       false,
		"--tmp":                       false,
		".tmp":                        false,
		"-s3alias":                    false,
		"-" + strings.Repeat("x", 57): true,
		"-" + strings.Repeat("x", 58): false,
	} {
		l := newLoader(&Config{}, LoadOptions{})
		if got := l.checkSuffix(suffix, hclRange()); got != wantOK {
			t.Errorf("%q: valid %v, want %v (%v)", suffix, got, wantOK, l.diags)
		}
		if wantOK != (len(l.diags) == 0) {
			t.Errorf("%q: %d diagnostics", suffix, len(l.diags))
		}
	}
}

func hclRange() hcl.Range {
	return hcl.Range{Filename: "x.envmig.hcl", Start: hcl.InitialPos, End: hcl.InitialPos}
}

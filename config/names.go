package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"unicode/utf8"
)

// RetiredSuffix follows the temporary suffix in the name of a retired
// original DB instance.
const RetiredSuffix = "-old"

// suffixOf is m's temporary suffix, or the default for a zero Migration.
func suffixOf(m Migration) string {
	if m.TemporarySuffix == "" {
		return DefaultTemporarySuffix
	}
	return m.TemporarySuffix
}

// TemporaryName is the name of the temporary copy a migration makes of the
// resource physically named name (a DB instance or a bucket):
// name + temporary_suffix.
func TemporaryName(name string, m Migration) string { return name + suffixOf(m) }

// RetiredName is the identifier a rename-swap renames an original DB
// instance to: identifier + temporary_suffix + "-old".
func RetiredName(id string, m Migration) string { return id + suffixOf(m) + RetiredSuffix }

// TemporaryIdentifier is the identifier of the DB instance a migration
// restores d into: identifier + temporary_suffix. It is "" when d is named
// by logical ID (the planner derives it from the physical name the same
// way).
func (d *Database) TemporaryIdentifier(m Migration) string {
	if d.Identifier == "" {
		return ""
	}
	return TemporaryName(d.Identifier, m)
}

// RetiredIdentifier is the identifier a rename-swap renames the original DB
// instance to: identifier + temporary_suffix + "-old". It is "" when d is
// named by logical ID.
func (d *Database) RetiredIdentifier(m Migration) string {
	if d.Identifier == "" {
		return ""
	}
	return RetiredName(d.Identifier, m)
}

// TemporaryName is the name of the bucket a migration copies b into when
// its change needs a new bucket: name + temporary_suffix. It is "" when b
// is named by logical ID.
func (b *Bucket) TemporaryName(m Migration) string {
	if b.BucketName == "" {
		return ""
	}
	return TemporaryName(b.BucketName, m)
}

// Limits AWS puts on names.
const (
	maxRDSIdentifier = 63
	minBucketName    = 3
	maxBucketName    = 63
)

// rdsIdentifierProblem says what makes id an invalid RDS DB instance
// identifier, as a phrase following the quoted id, or "".
func rdsIdentifierProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > maxRDSIdentifier:
		return fmt.Sprintf("is %d characters long; the limit is %d", len(id), maxRDSIdentifier)
	case !isASCIILetter(id[0]):
		return "does not start with a letter"
	}
	for _, r := range id {
		if !isASCIILetter(byte(r)) && !isDigit(byte(r)) && r != '-' || r > 127 {
			return fmt.Sprintf("contains %q, which is not a letter, digit or hyphen", r)
		}
	}
	switch {
	case strings.Contains(id, "--"):
		return "contains two hyphens in a row"
	case strings.HasSuffix(id, "-"):
		return "ends with a hyphen"
	}
	return ""
}

// Prefixes and suffixes S3 reserves for its own kinds of names.
var (
	reservedBucketPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	reservedBucketSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// bucketNameProblem says what makes name an invalid S3 general purpose
// bucket name, as a phrase following the quoted name, or "".
func bucketNameProblem(name string) string {
	if n := utf8.RuneCountInString(name); n < minBucketName || n > maxBucketName {
		return fmt.Sprintf("is %d characters long; bucket names have %d to %d", n, minBucketName, maxBucketName)
	}
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z':
			return fmt.Sprintf("contains the uppercase letter %q; bucket names are lowercase", r)
		case r > 127 || !(isASCIILetter(byte(r)) || isDigit(byte(r)) || r == '.' || r == '-'):
			return fmt.Sprintf("contains %q, which is not a lowercase letter, digit, dot or hyphen", r)
		}
	}
	first, last := name[0], name[len(name)-1]
	switch {
	case !isASCIILetter(first) && !isDigit(first):
		return "does not start with a letter or digit"
	case !isASCIILetter(last) && !isDigit(last):
		return "does not end with a letter or digit"
	case strings.Contains(name, ".."):
		return "contains two dots in a row"
	case net.ParseIP(name) != nil:
		return "is formatted like an IP address"
	}
	for _, p := range reservedBucketPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Sprintf("starts with %q, which S3 reserves", p)
		}
	}
	for _, s := range reservedBucketSuffixes {
		if strings.HasSuffix(name, s) {
			return fmt.Sprintf("ends with %q, which S3 reserves", s)
		}
	}
	return ""
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool       { return c >= '0' && c <= '9' }

// Shapes of other AWS names.
var (
	accountID     = regexp.MustCompile(`^[0-9]{12}$`)
	awsRegion     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	instanceClass = regexp.MustCompile(`^db\.[a-z0-9]+\.[a-z0-9.]+$`)
	stackName     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	logicalID     = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
	envName       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
)

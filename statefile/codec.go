package statefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The content of a state, as every backend stores it: the indented JSON
// encoding of State and a newline. These functions are what a backend
// outside this package (s3state) needs to keep the same format and checks.

// Seal prepares st for a write by a backend whose journal was last seen at
// serial last: Serial becomes max(st.Serial, last)+1 (serials never go
// back, even when a new run's state replaces a finished one), and
// FormatVersion and Checksum are set. It returns the content to store.
func Seal(st *State, last uint64) ([]byte, error) {
	st.Serial = max(st.Serial, last) + 1
	st.FormatVersion = FormatVersion
	st.Checksum = ""
	sum, err := Checksum(st)
	if err != nil {
		return nil, err
	}
	st.Checksum = sum
	return marshal(st)
}

// Encode returns the content of a state that was sealed before (a loaded
// one), unchanged: it refuses a state whose checksum does not match.
func Encode(st *State) ([]byte, error) {
	sum, err := Checksum(st)
	if err != nil {
		return nil, err
	}
	if sum != st.Checksum {
		return nil, fmt.Errorf("state of %q (serial %d) does not match its checksum: it was changed after it was loaded", st.Environment, st.Serial)
	}
	return marshal(st)
}

func marshal(st *State) ([]byte, error) {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return append(data, '\n'), nil
}

// Decode parses the content of journal's state found at location (a path
// or a URL, for messages), with every check Load makes of the content:
// format version, checksum, and that it records the journal's environment.
// A *CorruptError's Hint is left empty for the backend to say how to
// restore a previous version.
func Decode(location, journal string, data []byte) (*State, error) {
	st, err := decode(location, data)
	if err != nil {
		return nil, err
	}
	if !Belongs(st.Environment, journal) {
		return nil, &CorruptError{Path: location, Problem: ProblemEnvironment,
			Reason: fmt.Sprintf("records environment %q, not %q: it was copied or renamed from another journal", st.Environment, journal)}
	}
	return st, nil
}

// Belongs reports whether a state of environment env may be the journal
// name's: its own name, or the environment a clone journal belongs to
// ("production" for "production.clone-exp1").
func Belongs(env, name string) bool {
	return env == name || env == EnvironmentOf(name)
}

// contentSum identifies a state file's exact content (the compare-and-swap
// of a local Save); "" stands for no file.
func contentSum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// decode parses a state file and checks its format version and checksum.
// A *CorruptError's Hint is left for load to complete.
func decode(path string, data []byte) (*State, error) {
	corrupt := func(p Problem, reason, hint string) error {
		return &CorruptError{Path: path, Problem: p, Reason: reason, Hint: hint}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, corrupt(ProblemEmpty, "is empty (0 bytes): the disk lost it or another program truncated it", "")
	}
	var head struct {
		FormatVersion *string `json:"format_version"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&head); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, corrupt(ProblemTruncated, fmt.Sprintf("is truncated (its JSON ends early, at byte %d)", len(data)), "")
		}
		return nil, corrupt(ProblemInvalid, "is not an envmig state ("+jsonReason(err)+")", "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corrupt(ProblemInvalid, "has data after its JSON value", "")
	}
	if head.FormatVersion == nil {
		return nil, corrupt(ProblemInvalid, "is not an envmig state: it has no format_version", "")
	}
	v := *head.FormatVersion
	if _, err := strconv.Atoi(major(v)); err != nil {
		return nil, corrupt(ProblemInvalid, fmt.Sprintf("has an invalid format_version %q", v), "")
	}
	if major(v) != major(FormatVersion) {
		return nil, &VersionError{Path: path, Version: v}
	}
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	var st State
	if err := strict.Decode(&st); err != nil {
		if newerFormat(v) {
			return nil, &VersionError{Path: path, Version: v}
		}
		return nil, corrupt(ProblemInvalid, "is not a valid envmig state ("+jsonReason(err)+")", "")
	}
	sum, err := Checksum(&st)
	if err != nil {
		return nil, corrupt(ProblemInvalid, "cannot be encoded again ("+err.Error()+")", "")
	}
	if sum != st.Checksum {
		if newerFormat(v) {
			return nil, &VersionError{Path: path, Version: v}
		}
		return nil, corrupt(ProblemChecksum, "does not match its checksum: it was edited by hand or by another program",
			"undo the edit, or ")
	}
	return &st, nil
}

func jsonReason(err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%v at byte %d", syn, syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("it holds a JSON %s, not an object", typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("its field %s holds a JSON %s of the wrong type, at byte %d", typ.Field, typ.Value, typ.Offset)
	}
	return err.Error()
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

// newerFormat reports whether version v is newer than FormatVersion.
func newerFormat(v string) bool {
	num := func(v string) (int, int) {
		ma, mi, _ := strings.Cut(v, ".")
		a, _ := strconv.Atoi(ma)
		b, _ := strconv.Atoi(mi)
		return a, b
	}
	a, b := num(v)
	x, y := num(FormatVersion)
	return a > x || (a == x && b > y)
}

// Checksum returns the SHA-256 over st's canonical (compact) JSON encoding
// with the Checksum field empty, as "sha256:<hex>".
func Checksum(st *State) (string, error) {
	c := *st
	c.Checksum = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("encode state: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

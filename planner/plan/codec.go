package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// FormatError reports a plan file that cannot be read: not JSON, truncated,
// or of a format version this build does not know.
type FormatError struct {
	Reason string
}

func (e *FormatError) Error() string { return "plan file: " + e.Reason }

// TamperedError reports a plan whose content does not match its digest.
type TamperedError struct {
	Want, Got string
}

func (e *TamperedError) Error() string {
	return fmt.Sprintf("plan file was modified after it was made: digest %s does not match its content (%s); run envmig plan again", short(e.Want), short(e.Got))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// ComputeDigest returns the SHA-256 over p's canonical encoding with the
// Digest field empty, as "sha256:<hex>".
func ComputeDigest(p *Plan) string {
	c := *p
	c.Digest = ""
	b, err := json.Marshal(&c)
	if err != nil {
		panic(fmt.Sprintf("plan: marshal for digest: %v", err)) // only plain data
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Fingerprint returns a digest over the fingerprinted part of observations
// (address, existence and Attrs; never Info), independent of their order.
func Fingerprint(obs []Observation) string {
	type fp struct {
		Address string            `json:"a"`
		ID      string            `json:"i"`
		Exists  bool              `json:"e"`
		Attrs   map[string]string `json:"x,omitempty"`
	}
	list := make([]fp, 0, len(obs))
	for _, o := range obs {
		list = append(list, fp{o.Address, o.ID, o.Exists, o.Attrs})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Address < list[j].Address })
	b, err := json.Marshal(list)
	if err != nil {
		panic(fmt.Sprintf("plan: marshal fingerprint: %v", err))
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Seal sets the plan's fingerprint, format version and digest.
func Seal(p *Plan) {
	p.FormatVersion = FormatVersion
	p.Fingerprint = Fingerprint(p.Observations)
	p.Digest = ComputeDigest(p)
}

// Encode seals p and writes it as indented JSON.
func Encode(w io.Writer, p *Plan) error {
	Seal(p)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// Decode reads a plan file and checks its format version and digest.
func Decode(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FormatError{Reason: "the file is empty"}
	}
	var head struct {
		FormatVersion *string `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		if truncated(err, data) {
			return nil, &FormatError{Reason: "the file is truncated (its JSON ends early)"}
		}
		return nil, &FormatError{Reason: "not a plan (invalid JSON: " + jsonReason(err) + ")"}
	}
	if head.FormatVersion == nil {
		return nil, &FormatError{Reason: "not a plan: it has no format_version"}
	}
	if major(*head.FormatVersion) != major(FormatVersion) {
		return nil, &FormatError{Reason: fmt.Sprintf("format_version %q is not supported by this envmig (it reads %s.x); use the envmig version that wrote it", *head.FormatVersion, major(FormatVersion))}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, &FormatError{Reason: "not a valid plan: " + jsonReason(err)}
	}
	if got := ComputeDigest(&p); got != p.Digest {
		return nil, &TamperedError{Want: p.Digest, Got: got}
	}
	if err := p.check(); err != nil {
		return nil, &FormatError{Reason: err.Error()}
	}
	return &p, nil
}

// truncated reports a JSON error at the very end of the input.
func truncated(err error, data []byte) bool {
	var syn *json.SyntaxError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syn) && syn.Offset >= int64(len(bytes.TrimSpace(data)))
}

func jsonReason(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%v at byte %d", syn, syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the file is truncated"
	}
	return err.Error()
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

// check enforces the invariants a sealed plan always has; it catches files
// written by other tools with a recomputed digest.
func (p *Plan) check() error {
	if p.Lineage == "" || p.Environment == "" {
		return errors.New("the plan has no lineage or environment")
	}
	seen := map[string]bool{}
	gates := 0
	phase := PhasePrepare
	for i, s := range p.Steps {
		if s.ID == "" || seen[s.ID] {
			return fmt.Errorf("step %d has an empty or repeated id %q", i+1, s.ID)
		}
		seen[s.ID] = true
		if err := s.checkParams(); err != nil {
			return err
		}
		switch s.Phase {
		case PhasePrepare:
			if phase != PhasePrepare {
				return fmt.Errorf("step %q is a prepare step after the point of no return", s.ID)
			}
		case PhaseGate:
			gates++
			phase = PhaseCommit
		case PhaseCommit:
			if phase != PhaseCommit {
				return fmt.Errorf("step %q is a commit step before the point of no return", s.ID)
			}
		default:
			return fmt.Errorf("step %q has unknown phase %q", s.ID, s.Phase)
		}
	}
	if len(p.Steps) > 0 && gates != 1 {
		return fmt.Errorf("the plan has %d points of no return; it must have exactly one", gates)
	}
	if p.Fingerprint != Fingerprint(p.Observations) {
		return errors.New("the fingerprint does not match the observations")
	}
	return nil
}

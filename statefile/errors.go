package statefile

import (
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// ErrInvalidName is wrapped by every error about a journal name that is not
// letters, digits, '.', '-' and '_'.
var ErrInvalidName = errors.New("invalid journal name")

// NotFoundError reports that no state has been saved for the journal.
// errors.Is(err, fs.ErrNotExist) holds.
type NotFoundError struct {
	Path string
}

func (e *NotFoundError) Error() string { return "no state in " + e.Path }

// Is makes errors.Is(err, fs.ErrNotExist) true.
func (e *NotFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// Problem says what is wrong with a state file's content.
type Problem string

// Problems a CorruptError reports.
const (
	ProblemEmpty       Problem = "empty"       // zero bytes
	ProblemTruncated   Problem = "truncated"   // JSON ends early
	ProblemInvalid     Problem = "invalid"     // not JSON, or not a state
	ProblemChecksum    Problem = "checksum"    // content does not match its checksum
	ProblemEnvironment Problem = "environment" // records another environment
	ProblemMissing     Problem = "missing"     // removed, but its backup is there
)

// CorruptError reports a state file Load refuses to use because of its
// content. The state directory is left as it was.
type CorruptError struct {
	Path    string
	Problem Problem
	// Reason says what is wrong, in a sentence.
	Reason string
	// Hint says what to do: which backup to restore, and how.
	Hint string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s %s; %s", e.Path, e.Reason, e.Hint)
}

// VersionError reports a state file of a format major version this envmig
// does not read.
type VersionError struct {
	Path    string
	Version string
}

func (e *VersionError) Error() string {
	if newerFormat(e.Version) {
		return fmt.Sprintf("state file %s was written by a newer envmig (format_version %s; this envmig reads %s.x): upgrade envmig to continue this run", e.Path, e.Version, major(FormatVersion))
	}
	return fmt.Sprintf("state file %s has format_version %q, which this envmig does not read (it reads %s.x): use the envmig version that wrote it", e.Path, e.Version, major(FormatVersion))
}

// UnsafeError reports a state file or directory that someone other than its
// owner could have written, or that is not a plain file: Load refuses to
// steer a migration with it.
type UnsafeError struct {
	Path   string
	Reason string
	// Fix is the command that makes it safe again.
	Fix string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("refusing to use %s: it %s; %s", e.Path, e.Reason, e.Fix)
}

// LockError reports a journal locked by a live process. Info is the zero
// value when the holder has not (yet) written its lock information.
type LockError struct {
	Name string // the journal
	Path string // the lock file
	Info LockInfo
}

func (e *LockError) Error() string {
	if e.Info.ID == "" {
		return fmt.Sprintf("the state of %q is locked by another process (no lock information beside %s); wait for it to finish, or pass -lock-timeout to wait", e.Name, e.Path)
	}
	return fmt.Sprintf("the state of %q is locked by %s; wait for it to finish (or pass -lock-timeout to wait), or if that process is gone run: envmig force-unlock -environment %s %s",
		e.Name, e.Info.describe(), e.Name, e.Info.ID)
}

// LockMismatchError reports a force-unlock whose ID is not the current
// holder's.
type LockMismatchError struct {
	Name    string
	Given   string
	Current *LockInfo // nil when no lock is recorded
}

func (e *LockMismatchError) Error() string {
	if e.Current == nil {
		return fmt.Sprintf("no lock is recorded for %q: nothing to unlock", e.Name)
	}
	return fmt.Sprintf("lock ID %q is not the lock of %q: it is held by %s with lock ID %s; run `envmig status` to see it, and force-unlock that ID only if that process is gone",
		e.Given, e.Name, e.Current.describe(), e.Current.ID)
}

// describe says who holds a lock: "apply (pid 4242 on host, run 3fa2..., since ...)".
func (i LockInfo) describe() string {
	op := i.Operation
	if op == "" {
		op = "envmig"
	}
	s := fmt.Sprintf("%s (pid %d", op, i.PID)
	if i.Host != "" {
		s += " on " + i.Host
	}
	if i.Who != "" {
		s += " by " + i.Who
	}
	if i.Run != "" {
		s += ", run " + i.Run
	}
	if !i.Since.IsZero() {
		s += ", since " + i.Since.Local().Format(time.DateTime+" MST")
	}
	return s + ")"
}

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
	if i.CI != "" {
		s += ", CI job " + i.CI
	}
	if !i.Expires.IsZero() {
		s += ", lease renewed until " + i.Expires.Local().Format(time.TimeOnly)
	}
	return s + ")"
}

// ConflictError reports a Save or Import refused because the journal is
// not what this process last read or wrote: another process wrote it (or
// removed it) since. Nothing was written. Two processes can never both
// write one journal: the second gets this error.
type ConflictError struct {
	Name     string // the journal
	Location string // where it lives (a path or an s3:// URL)
	// Found is what the journal holds now: nil when it holds no state or
	// could not be read.
	Found *State
}

func (e *ConflictError) Error() string {
	if e.Found == nil {
		return fmt.Sprintf("the journal of %q (%s) was removed or replaced by another process since this one read it; nothing was written: run `envmig status` to see where things stand", e.Name, e.Location)
	}
	return fmt.Sprintf("the journal of %q (%s) was written by another process since this one read it (it now holds serial %d of run %s, %s); nothing was written, and this process stops: run `envmig status` to see where that run is",
		e.Name, e.Location, e.Found.Serial, e.Found.Lineage, e.Found.Status)
}

// LockLostError reports that a held lock was lost: its lease ran out before
// it could be renewed, or another process took it over or force-unlocked
// it. From then on the journal refuses this process's saves.
type LockLostError struct {
	Name string   // the journal
	Lock LockInfo // the lock that was lost
	// By is the holder now, when known.
	By *LockInfo
	// Reason says what happened, in a sentence.
	Reason string
	// Err is the error that kept the lease from being renewed, if any.
	Err error
}

func (e *LockLostError) Error() string {
	s := fmt.Sprintf("lost the state lock of %q (lock ID %s): %s", e.Name, e.Lock.ID, e.Reason)
	if e.By != nil {
		s += "; it is now held by " + e.By.describe()
	}
	return s + "; this process no longer writes the journal"
}

func (e *LockLostError) Unwrap() error { return e.Err }

// MigratedError reports a journal that `envmig state migrate` moved to
// another backend: it is not used where it was. It does not match
// fs.ErrNotExist, so no caller mistakes it for "no runs yet".
type MigratedError struct {
	Name     string // the journal
	Location string // where it was
	Note     MigrationNote
}

func (e *MigratedError) Error() string {
	return fmt.Sprintf("the journal of %q was moved from %s to %s (envmig state migrate, %s); continue with that state backend (the spec's state block), or migrate it back",
		e.Name, e.Location, e.Note.To, e.Note.At.Local().Format(time.DateTime+" MST"))
}

package statefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Migration says what Migrate did.
type Migration struct {
	Name     string
	From, To string // the journal's locations
	Lineage  string // the run of the state moved
	Serial   uint64
	Backup   bool // a previous version was moved too
	Blobs    int  // blobs copied
	// AlreadyDone is set when an earlier Migrate had finished the copy and
	// this one only completed what it left.
	AlreadyDone bool
}

// Migrate moves the journal name from src to dst without losing anything:
// its state (with the history and leftovers it holds), the previous version
// (which becomes dst's backup) and the blobs of its runs. holder identifies
// the process in the locks (Operation "state-migrate").
//
// It holds both journals' locks throughout and refuses, with a *LockError,
// when either is held; it refuses when dst already holds a state other than
// src's (the same state is not a conflict: the copy was made before). When
// dst holds everything, src is retired (Journal.Retire): its state is moved
// aside and Load there answers a *MigratedError naming dst.
//
// Migrate is safe to run again after a crash at any point: blobs are copied
// again (each write is atomic), the state import is idempotent, and a
// source already retired to dst is only tidied (AlreadyDone).
func Migrate(ctx context.Context, src, dst Backend, name string, holder LockInfo) (*Migration, error) {
	from, to := src.Journal(name), dst.Journal(name)
	m := &Migration{Name: name, From: from.Location(), To: to.Location()}
	if m.From == m.To {
		return nil, fmt.Errorf("migrate %q: the source and the destination are both %s", name, m.From)
	}
	if holder.Operation == "" {
		holder.Operation = "state-migrate"
	}
	for _, j := range []Journal{from, to} {
		l, err := j.Lock(ctx, holder, 0)
		if err != nil {
			return nil, fmt.Errorf("migrate %q: %w", name, err)
		}
		defer l.Unlock() // an unlock error leaves at worst a lock the next run takes over
	}

	cur, err := from.Load()
	var me *MigratedError
	switch {
	case errors.As(err, &me) && me.Note.To == m.To:
		// An earlier Migrate copied everything and retired the source.
		st, lerr := to.Load()
		if lerr != nil {
			return nil, fmt.Errorf("migrate %q: the source was retired to %s, but there: %w", name, m.To, lerr)
		}
		if err := from.Retire(me.Note); err != nil {
			return nil, fmt.Errorf("migrate %q: %w", name, err)
		}
		m.Lineage, m.Serial, m.AlreadyDone = st.Lineage, st.Serial, true
		return m, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("migrate %q: no journal at %s: nothing to migrate", name, m.From)
	case err != nil:
		return nil, fmt.Errorf("migrate %q: %w", name, err)
	}
	prev, err := from.LoadBackup()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		prev = nil
	case err != nil:
		return nil, fmt.Errorf("migrate %q: the previous version at the source: %w", name, err)
	case prev.Serial >= cur.Serial:
		prev = nil // a crash left the backup equal to the state
	}
	m.Lineage, m.Serial, m.Backup = cur.Lineage, cur.Serial, prev != nil

	// Refuse a conflicting destination before writing anything there. The
	// source's state, or its previous version (an import interrupted
	// between the two), is not a conflict.
	there, err := to.Load()
	switch {
	case err == nil && there.Checksum != cur.Checksum && (prev == nil || there.Checksum != prev.Checksum):
		return nil, fmt.Errorf("migrate %q: %s already holds a journal (serial %d of run %s, %s) that differs from the one at %s (serial %d of run %s, %s); refusing to overwrite it: run `envmig status` with each backend, and remove the one that is not wanted",
			name, m.To, there.Serial, there.Lineage, there.Status, m.From, cur.Serial, cur.Lineage, cur.Status)
	case err == nil, errors.Is(err, fs.ErrNotExist), errors.As(err, &me):
	default:
		return nil, fmt.Errorf("migrate %q: the destination: %w", name, err)
	}

	blobs, err := from.Blobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %q: %w", name, err)
	}
	for _, b := range blobs {
		if err := copyBlob(ctx, from, to, b); err != nil {
			return nil, fmt.Errorf("migrate %q: %w", name, err)
		}
	}
	m.Blobs = len(blobs)

	if err := to.Import(prev, cur); err != nil {
		return nil, fmt.Errorf("migrate %q: %w", name, err)
	}
	if got, err := to.Load(); err != nil || got.Checksum != cur.Checksum {
		if err == nil {
			err = fmt.Errorf("it holds serial %d of run %s", got.Serial, got.Lineage)
		}
		return nil, fmt.Errorf("migrate %q: the copy at %s does not read back: %w", name, m.To, err)
	}
	note := MigrationNote{To: m.To, Kind: dst.Kind(), At: time.Now().UTC(), Lineage: cur.Lineage, Serial: cur.Serial}
	if err := from.Retire(note); err != nil {
		return nil, fmt.Errorf("migrate %q: the journal was copied to %s, but the source could not be retired (run the migration again): %w", name, m.To, err)
	}
	return m, nil
}

// copyBlob streams one blob from one journal to another.
func copyBlob(ctx context.Context, from, to Journal, b BlobInfo) (err error) {
	r, err := from.OpenBlob(ctx, b.Run, b.Name)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := to.CreateBlob(ctx, b.Run, b.Name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Abort() // the copy error is what matters
		return fmt.Errorf("copy blob %s of run %s: %w", b.Name, b.Run, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("copy blob %s of run %s: %w", b.Name, b.Run, err)
	}
	return nil
}

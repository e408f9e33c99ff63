// Package statefile is envmig's journal: the state of one run of one
// environment, written so that a crash, a kill -9 or a power failure at any
// instant leaves a journal that loads and says where the run stopped, and
// locked so that two runs never act on one environment at once.
//
// # Backends
//
// A Backend holds a project's journals; a Journal is one of them, with the
// same contract everywhere (see Journal): Load, LoadBackup, a Save that is
// a compare-and-swap, Lock with holder information, LockInfo that never
// locks, ForceUnlock, and named blobs beside each run (copy manifests,
// streamed). Local(dir) is the state directory described below, whose
// journals are Stores; package s3state keeps journals in an S3 bucket, for
// runs that must survive the machine they started on (CI runners).
// Migrate moves a journal from one backend to another.
//
// # Files
//
// A state directory (".envmig" beside the config, mode 0700) holds, for
// each journal name (the environment for apply, resume, rollback and
// cleanup; "<env>.clone-<name>" for a clone):
//
//	<name>.state.json          the State, indented JSON, mode 0600
//	<name>.state.json.backup   the previous version (the previous file itself)
//	<name>.lock                the file the lock is held on (empty)
//	<name>.lock.json           the holder's LockInfo
//	<name>.save.lock           flocked for the instant a Save compares and renames
//	<name>.blobs/<run>/<blob>  blobs of the journal's runs
//	<name>.migrated.json       where the journal went, once migrated away
//	<name>.state.json[.backup].migrated-to-<kind>   its state, kept aside
//
// A crash may also leave hidden ".<file>.tmp-<random>" files: writes that
// never completed. Load ignores them and they are safe to delete.
//
// # Format
//
// The state file is the JSON encoding of State. format_version is read
// first: a major version other than this package's FormatVersion is refused
// (*VersionError), as is a newer minor version whose additions this build
// cannot keep. checksum is "sha256:<hex>" over the compact JSON encoding of
// the State with the checksum empty; a file whose content does not match it
// was edited by hand and is refused (*CorruptError), as are empty,
// truncated and non-state files, and a state of another environment than
// the journal's. Every refusal says what to do (usually: which backup to
// restore and how) and Load never changes anything. A state file that is a
// symbolic link, or a state file or directory writable by group or others,
// is refused (*UnsafeError): whoever can write the journal can steer what a
// resume or rollback does to production. No state at all is a
// *NotFoundError, which matches fs.ErrNotExist.
//
// # Durability
//
// Save writes a new file and never changes the current one in place:
//
//  1. create a temp file beside the state (O_EXCL, 0600, fchmod 0600, so
//     the umask changes nothing), write it, fsync it, close it. The fsync
//     makes the content durable before any name points at it; without it a
//     power failure after the rename can leave a state file that is empty
//     or torn (filesystems with delayed allocation allow this).
//  2. hard-link the current state file to a temp name and rename that over
//     the backup. The backup becomes the previous file's inode, already
//     durable; nothing is copied or rewritten.
//  3. rename the temp file over the state file. rename(2) is atomic: any
//     reader, and any disk after a crash, sees the old file or the new one.
//  4. fsync the directory. The renames are changes of the directory, not of
//     the files: until the directory is fsynced, a power failure may undo
//     them, and an acknowledged record would be lost. Only after this fsync
//     does Save return nil.
//
// Save is also a compare-and-swap. Each Store remembers the content of the
// state it last loaded or saved (none, for a Store that has loaded
// nothing); under <name>.save.lock, Save reads the state file again and
// writes only if it is still that, and otherwise returns a *ConflictError
// naming what another process wrote, and writes nothing. The save lock is
// a second flock, held for a few filesystem operations and never removed,
// so the comparison and the rename are one step even for two processes
// that both think they hold the journal's lock (a live holder that was
// force-unlocked): two processes can never both write one journal. A Save
// that failed after its rename may have reached the disk: the same Store's
// next Save accepts either version. Serials never go back: a new run's
// state continues from the journal's serial.
//
// When Save creates the state directory it also fsyncs each parent it
// created a directory in, for the same reason. On any error the temp file is
// removed. A crash between steps 2 and 3 leaves the backup equal to the
// state; otherwise the backup is exactly the previous version.
//
// Suite J (journal_test.go) proves this against a filesystem model that
// loses every write not made durable by these fsyncs: it crashes a 30-record
// run after every one of its filesystem operations, loads every disk a
// reboot could find, and requires each to load with the last acknowledged
// record or the one in flight. With the directory fsync (or the file fsync)
// removed, the same enumeration finds lost records: its negative controls.
//
// # Locks
//
// Lock takes an exclusive flock(2) on <name>.lock (github.com/gofrs/flock)
// and then writes the holder's LockInfo (random ID, operation, pid, host,
// run, user, start time) atomically to <name>.lock.json. The kernel
// releases an flock when its holder exits however it exits, so:
//
//   - a live holder is detected by the flock alone: Lock fails with a
//     *LockError naming it, at once or after waiting up to a timeout;
//   - a dead holder (flock free, lock.json left behind) is taken over
//     safely, and Lock reports whose lock it took over (Lock.TookOver);
//   - flock belongs to an open file description, so two Locks in one
//     process exclude each other just as two processes do.
//
// LockInfo, what `envmig status` reads, never takes the lock: it asks the
// kernel whether the flock is held (/proc/locks on Linux, matched by the
// lock file's device and inode), so a status run at the wrong instant never
// makes an apply fail. Where the kernel cannot tell, a holder on this host
// is live while its process runs and one on another host is reported live.
//
// Unlock removes lock.json (if it is still its own) and releases the flock;
// it keeps the lock file, because unlinking a lock file others may have
// open lets two processes hold "the" lock. ForceUnlock(ID) is for a holder
// that is gone but still holds the lock (a hung process, a machine that
// shares the directory): it checks the ID against the holder's, then
// removes lock.json and the lock file. If that holder is in fact alive it
// keeps its flock on the unlinked file and no longer excludes anyone.
//
// A command that must say "locked" whenever a live process holds the
// journal (exit 3), whatever the journal holds, checks CheckUnlocked before
// anything else that could refuse, then Locks, then loads.
//
// # Migration
//
// Migrate holds both journals' locks, refuses a destination that holds a
// different journal, copies the blobs, then imports the previous version
// and the state exactly (Journal.Import: serials and checksums kept, so
// the destination's LoadBackup is the source's), reads the copy back, and
// only then retires the source (Journal.Retire): locally, the note
// <name>.migrated.json is written, then the state file and its backup are
// renamed to <name>.state.json.migrated-to-<kind> (the rename is the
// commit); Load there answers a *MigratedError naming the destination, and
// a Save of a new run is refused the same way. Every step is idempotent, so
// a migration interrupted anywhere is finished by running it again (suite:
// TestMigrateRerunAfterCrash). Migrating back into a retired journal
// clears its note.
//
// Every filesystem operation goes through the FS interface; OSFS is the
// real one.
package statefile

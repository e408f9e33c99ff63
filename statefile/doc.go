// Package statefile is envmig's on-disk journal: the state of one run of
// one environment, written so that a crash, a kill -9 or a power failure at
// any instant leaves a journal that loads and says where the run stopped,
// and locked so that two runs never act on one environment at once.
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
// Unlock removes lock.json (if it is still its own) and releases the flock;
// it keeps the lock file, because unlinking a lock file others may have
// open lets two processes hold "the" lock. ForceUnlock(ID) is for a holder
// that is gone but still holds the lock (a hung process, a machine that
// shares the directory): it checks the ID against the holder's, then
// removes lock.json and the lock file. If that holder is in fact alive it
// keeps its flock on the unlinked file and no longer excludes anyone.
//
// Every filesystem operation goes through the FS interface; OSFS is the
// real one.
package statefile

// Package database holds the step handlers for RDS DB instances: the
// persistent resource a migration clones, changes on the clone, verifies,
// and swaps into the original's name.
//
// # Concept
//
// A database is migrated through snapshots. db.snapshot takes a manual
// snapshot of the original (named envmig-<run>-<resource>, deterministic);
// db.copy-snapshot copies it encrypted with a KMS key when the migration
// encrypts; db.restore restores a temporary instance from it with the
// desired settings and tags; db.modify upgrades or resizes that temporary
// instance; verify.database checks it. After the point of no return the
// strategy swaps it in: rename-swap renames the original aside and the
// temporary into the original identifier (db.rename, twice); clone-swap
// deletes the original keeping a final snapshot (db.delete), snapshots the
// temporary and restores the original identifier from it (db.snapshot,
// db.restore). db.update changes a live instance in place (settings and
// user tags).
//
// Every wait uses the SDK's waiters (rds.NewDBSnapshotAvailableWaiter,
// rds.NewDBInstanceAvailableWaiter, and the Deleted ones) with Options'
// delays, reporting each observation through StepContext.Report (status
// and percent) and treating "not found" right after a create or rename as
// "not visible yet". When MaxWait runs out the step fails resumably: AWS
// carries on, and `envmig resume` waits again.
//
// # Idempotency and adoption
//
// Every handler observes before it acts. What a step creates carries the
// run's envmig:run tag (and envmig:resource), set in the create call
// itself. A snapshot or instance found under the step's name is adopted
// (waited for, not created again) only when it carries this run's tag;
// anything else under that name is refused with an error wrapping
// ErrNotThisRun. A create whose response was lost and that the SDK retried
// ("already exists") is re-observed and adopted the same way. db.modify and
// db.update compare live values first and change only what differs, so a
// second Apply makes no mutating call.
//
// db.rename and db.delete act on originals, which carry no run tag, so
// they record what they act on before acting (KeyRenamed, KeyDeleted, and
// the instance's DbiResourceId as KeyResourceID, which a rename does not
// change). A rename whose target exists while its source does not is
// finished only when this step recorded the rename; a rename onto an
// existing instance is refused (ErrNameTaken). A final snapshot is tagged
// with the run after the delete (DeleteDBInstance cannot tag it); an
// untagged snapshot under its name is accepted only as the snapshot of the
// instance this step deleted.
//
// Deletion protection changes only through an explicit step setting
// deletion_protection (db.restore, db.modify, db.update). db.delete refuses
// an instance that has it on (ErrDeletionProtection), and deletes without a
// final snapshot only an instance this run created or one a run retired
// (tagged envmig:retired-by, for cleanup). A deleted instance's automated
// backups go with it: the run's snapshots are the ways back. The one exception is
// db.restore's Revert, which may turn deletion protection off on the run's
// own temporary instance (RDS can carry it over from the snapshot) and
// reports that it did.
//
// # What Revert does
//
//   - db.snapshot, db.copy-snapshot: delete the snapshot when it exists and
//     is this run's; wait until it is gone.
//   - db.restore: delete the instance, without a final snapshot and with
//     its automated backups, when it exists and is this run's; wait until it
//     is gone. An instance not tagged with the run is never touched.
//   - db.rename: rename back, when this step recorded a rename and the
//     target is still the instance it renamed.
//   - db.modify, db.update, db.delete, verify.database: nothing (the clone
//     goes with db.restore's undo; the others run after the point of no
//     return or change nothing).
//
// Every Revert succeeds when Apply never acted, and is idempotent. Every
// mutating call is followed by StepContext.Accepted (a crash point).
package database

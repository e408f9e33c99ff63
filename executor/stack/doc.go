// Package stack holds the cores of the CloudFormation stack operations a
// migration runs: create a stack, delete one, and review then execute an
// in-place update as a change set. Each core takes plain Go arguments and
// the step's *executor.StepContext (Record, Value, Report, Accepted); the
// plan's step handlers wrap them.
//
// # Concept
//
// An environment kept as a stack is migrated through the stack, never
// behind its back. stack-swap (the origin's double clone) creates a
// temporary stack from the new template (Create with OwnerTag
// executor.RunTagKey), fills and checks it, deletes the original (Delete
// with the ExpectedID the plan observed), creates the stack again under
// its name (Create with OwnerTag TagRecreatedBy, so that the environment's
// resources do not look like a run's temporaries) and deletes the
// temporary stack (Delete with OwnerTag executor.RunTagKey). The in-place
// path creates a change set (CreateChangeSet), shows every change with its
// Replacement value, and executes it (ExecuteChangeSet).
//
// Ops.Handlers wraps them as the handlers of the plan's stack.create,
// stack.delete, stack.change-set and stack.update steps (planner's
// stack-swap and its in-place path); stack.create records the stack's
// outputs for the checks.
//
// Every wait uses the SDK's waiters (StackCreateComplete,
// StackDeleteComplete, StackUpdateComplete, ChangeSetCreateComplete),
// reporting each observation through StepContext.Report; when one runs
// out of time the operation fails resumably. A stack that ends in a failed
// state is a *StackError carrying the stack's failed events with their
// reasons, each also shown as a line of progress.
//
// # Idempotency and adoption
//
// Every core observes first. A stack is found by name (and, once
// recorded, by ID: a deleted stack is only found by ID). Create adopts
// only a stack tagged OwnerTag=lineage, and only while it still runs the
// template and parameters it was created with (ErrChangedOutOfBand
// otherwise); anything else under its name is refused (ErrNotThisRun). An
// earlier attempt that failed (ROLLBACK_COMPLETE) is deleted and created
// again. Delete records the stack's ID, resources and deletion policies
// before deleting, refuses a stack that is not the one the plan observed,
// and refuses before any change a stack whose buckets would be deleted
// while they hold objects (*NonEmptyBucketsError: AWS would fail half-way
// with DELETE_FAILED). The change set is named after the run
// (ChangeSetName) and found again after a crash. Mutating calls carry
// request tokens made of the run, the step and the attempt, and are
// followed by StepContext.Accepted (a crash point).
//
// # What Delete reports, and what moto does not do
//
// Resources kept by DeletionPolicy Retain; the final snapshot of each
// database whose DeletionPolicy is Snapshot (moto takes none: reported as
// MissingFinalSnapshots); buckets still there once the stack is gone (moto
// silently leaves a non-empty bucket behind where AWS fails the delete:
// reported, and returned as a *LeftBehindError).
//
// # Undo
//
// Create's undo is RevertCreate: delete the stack only when it is this
// run's, optionally emptying its buckets first (a temporary stack's
// buckets hold only copies). CreateChangeSet's undo is DeleteChangeSet.
// Delete and ExecuteChangeSet run after the point of no return and have no
// undo.
package stack

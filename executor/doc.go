// Package executor runs a reviewed plan step by step.
//
// It never re-plans. For each step it journals the intent (started), calls
// the step's Handler, and journals the outcome (done or failed), so that a
// crash at any moment leaves a state file from which Resume finishes the run
// and, before the point of no return, Rollback undoes it.
//
// Phases decide what a failure means: a failing prepare step makes the
// executor undo every started step in reverse order (itself journaled, so an
// interrupted rollback resumes); the gate step is the point of no return;
// after it, a failure can only be resumed.
//
// Handlers live in the database, bucket and group subpackages, one per
// resource kind; the command wires them into a table keyed by
// plan.StepAction.
package executor

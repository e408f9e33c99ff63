// Package stack reads CloudFormation templates and reasons about them, with
// no AWS calls: it is pure, like the planner that uses it.
//
// # Concept
//
// An environment kept as a CloudFormation stack is migrated through the
// stack, never behind its back. Two questions decide how:
//
//   - Can the template be instantiated twice? stack-swap (the origin's
//     double clone) creates a temporary copy of the stack from the new
//     template, with a temporary environment name and the database's
//     snapshot as parameters. Analyze finds the databases, buckets and
//     groups, the physical names that do not vary with the environment
//     parameter (a second copy would collide on them: CheckSwap refuses
//     such a template naming the resource and property), and whether the
//     snapshot parameter feeds each database's DBSnapshotIdentifier.
//   - Would an in-place update lose data? ReviewUpdate compares the live
//     template and parameters with the new ones and says, per database and
//     bucket, whether CloudFormation would keep, update, replace or remove
//     it, by envmig's own table of the properties that force replacement
//     (replacement.go, each entry citing its source), because a change
//     set's preview can be weak (moto's is). It also flags a database
//     restored from a snapshot whose DBSnapshotIdentifier the update drops
//     or changes: CloudFormation would create an empty database.
//
// # Reading and evaluating
//
// Parse reads JSON and YAML templates (short-form intrinsics such as !Ref,
// !Sub, !GetAtt and !If included) with github.com/awslabs/goformation/v7,
// keeping every value as written. Evaluate resolves parameters (given,
// else the template's default, else a *ParameterError), conditions and the
// intrinsics whose values are known before CloudFormation acts (Ref to a
// parameter or pseudo parameter, Fn::Sub, Fn::Join, Fn::If, Fn::Equals,
// Fn::And, Fn::Or, Fn::Not, Fn::Select, Fn::Split, Fn::FindInMap,
// Fn::Base64). Everything else (a resource's Ref or attribute, an import,
// Availability Zones, a NoEcho parameter DescribeStacks masked) evaluates
// to an Unknown carrying a canonical expression and the resources it
// depends on: never an invented value.
//
// # Contracts
//
// Every function is pure and safe for concurrent use; a *Template is not
// modified after Parse. NoEcho values never appear in an error, a
// rendering or an analysis: they are masked before anything is shown.
package stack

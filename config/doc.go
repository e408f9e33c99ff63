// Package config turns an environment spec — the *.envmig.hcl and
// *.envmig.json files of one directory — into a fully evaluated [Config],
// or into hcl.Diagnostics that point at the exact place in the file that is
// wrong and say what to do about it.
//
// # Concept
//
// A spec declares, per environment, the persistent resources envmig may move
// (database, bucket), the availability switch in front of them (service) and
// how the move is done (migration). The package knows nothing of AWS beyond
// the naming rules AWS enforces: it never makes a call. Everything it checks
// can be checked from the files alone; what needs live observations (a
// logical ID's physical name, whether a bucket exists) belongs to the
// planner.
//
// # Loading
//
// [Load] reads every *.envmig.hcl (native syntax) and *.envmig.json (HCL's
// JSON syntax, same schema) in one directory, not recursively, in name
// order. A file that is binary, not UTF-8, or does not parse stops the load
// with a diagnostic naming the file; otherwise every problem in every file is
// reported in one pass.
//
// Load always returns a non-nil *Config whose Files can render the
// diagnostics' snippets (pass them to [WriteDiagnostics]). The rest of the
// Config is meaningful only when the diagnostics have no errors.
//
// # Variables, locals and functions
//
// A variable's value comes from, lowest precedence first (as in Terraform):
//
//  1. its default;
//  2. the environment variable ENVMIG_VAR_<name> (LoadOptions.Environ);
//  3. -var-file files, in the order given (LoadOptions.VarFiles);
//  4. -var name=value options, in the order given (LoadOptions.Vars).
//
// A later source replaces an earlier one. (Terraform interleaves -var and
// -var-file in command-line order; LoadOptions keeps them apart, so every
// -var beats every -var-file.) A -var-file in the native syntax, or in JSON
// when its name ends in .json, assigns variables by attribute; a value for
// a variable the spec does not declare is a warning there (one file may
// serve several specs) and an error in -var. Values given as text (-var and
// ENVMIG_VAR_) are taken literally when the variable's type is string or not
// declared, and parsed as an HCL expression otherwise (-var 'tags={a="b"}',
// -var count=3). A variable without a default that gets no value is an error
// that says how to set it.
//
// Expressions may reference var.NAME and local.NAME and call the cty
// standard library functions (format, join, lower, upper, replace, merge,
// ...). Locals may reference other locals; they are evaluated in dependency
// order and a cycle is an error.
//
// # Sensitive variables
//
// A variable declared sensitive = true is carried through evaluation as a
// marked value. Using it, directly or through a local or a function, in any
// attribute of the spec is an error: plans and state files are written to
// disk. Secrets reach checks through environment variables the command reads
// at run time. Every sensitive string value is listed in
// Config.SensitiveValues so that output can be redacted as a last line of
// defence, and diagnostics never quote a sensitive value.
//
// # Formatting
//
// [Format] and [FormatDir] compute the canonical (hclwrite) form of native
// syntax files; JSON files are left as they are. [UnifiedDiff] shows the
// change. The package never writes files: the command does.
//
// # Derived names
//
// envmig derives the names of the resources it creates: a temporary DB
// instance identifier + temporary_suffix, a retired original identifier +
// temporary_suffix + "-old", a temporary bucket name + temporary_suffix
// ([Database.TemporaryIdentifier], [Database.RetiredIdentifier],
// [Bucket.TemporaryName]). Load checks that these names are valid for AWS and
// collide with no original name of the environment, whenever the original
// name is written in the spec (a logical ID's physical name is known only at
// plan time).
package config

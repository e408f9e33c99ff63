package stack

import (
	"fmt"
	"slices"
	"strings"
)

// Side is one state of a stack: a template and what it is evaluated with.
// For a live stack, Inputs.Parameters are the values DescribeStacks reports
// (NoEcho ones masked as MaskedValue) and Inputs.StackName its name.
type Side struct {
	Template *Template
	Inputs   Inputs
}

// Action is what an update does to one resource.
type Action string

const (
	ActionNone    Action = "none"
	ActionModify  Action = "modify"  // updated in place
	ActionReplace Action = "replace" // created anew, then the old one deleted
	ActionAdd     Action = "add"
	ActionRemove  Action = "remove" // deleted
)

// ResourceChange is what an update does to one database or bucket.
type ResourceChange struct {
	LogicalID string
	Type      string
	Action    Action
	// Reasons say why the resource is replaced or removed.
	Reasons []PropertyChange
	// InPlace are the property changes applied without replacement.
	InPlace []PropertyChange
}

// PropertyChange is one property that differs. Old and New are rendered
// from an evaluation in which NoEcho parameters are masked, so they never
// hold a secret.
type PropertyChange struct {
	Property string
	Old, New string
	// Rule cites the entry of envmig's table that decided it.
	Rule string
}

// SnapshotChange is a DB instance whose DBSnapshotIdentifier (the snapshot
// it was restored from) the update drops or changes.
type SnapshotChange struct {
	LogicalID string
	Old, New  string // New is "" when dropped
	Dropped   bool
}

func (s SnapshotChange) String() string {
	if s.Dropped {
		return fmt.Sprintf("DB instance %s was restored from snapshot %s and the update drops it: CloudFormation would create an EMPTY database and delete the original; keep the snapshot parameter's value", s.LogicalID, s.Old)
	}
	return fmt.Sprintf("DB instance %s was restored from snapshot %s and the update names %s: CloudFormation would restore a new database from it and delete the original", s.LogicalID, s.Old, s.New)
}

// UpdateReview is envmig's own review of an in-place stack update.
type UpdateReview struct {
	// Resources are the databases and buckets of either template, by
	// logical ID.
	Resources []ResourceChange
	// Snapshots are the DB instances whose snapshot the update drops or
	// changes (each also in Resources as replaced).
	Snapshots []SnapshotChange
	// KeepSnapshots are the snapshots the updated stack still names, by DB
	// instance logical ID: they must be kept as long as the stack needs
	// them.
	KeepSnapshots map[string]string
}

// Destructive returns the databases and buckets the update replaces or
// removes: an in-place update that loses their data.
func (r *UpdateReview) Destructive() []ResourceChange {
	var out []ResourceChange
	for _, c := range r.Resources {
		if c.Action == ActionReplace || c.Action == ActionRemove {
			out = append(out, c)
		}
	}
	return out
}

// ReplacementError refuses an in-place update that would replace or
// remove a database or bucket.
type ReplacementError struct {
	Changes   []ResourceChange
	Snapshots []SnapshotChange
}

func (e *ReplacementError) Error() string {
	var b strings.Builder
	b.WriteString("updating the stack in place would lose data:")
	for _, c := range e.Changes {
		verb := "replace"
		if c.Action == ActionRemove {
			verb = "delete"
		}
		fmt.Fprintf(&b, "\n  - CloudFormation would %s %s (%s)", verb, c.LogicalID, c.Type)
		for _, r := range c.Reasons {
			if r.Old == r.New {
				fmt.Fprintf(&b, "\n      %s: %s", r.Property, r.Rule)
				continue
			}
			fmt.Fprintf(&b, "\n      %s: %s -> %s: %s", r.Property, r.Old, r.New, r.Rule)
		}
	}
	for _, s := range e.Snapshots {
		b.WriteString("\n  - " + s.String())
	}
	b.WriteString("\nmigrate with strategy = \"stack-swap\", which builds the new version beside the old one and copies the data")
	return b.String()
}

// Err returns a *ReplacementError when the update replaces or removes a
// database or bucket, nil otherwise.
func (r *UpdateReview) Err() error {
	d := r.Destructive()
	if len(d) == 0 && len(r.Snapshots) == 0 {
		return nil
	}
	return &ReplacementError{Changes: d, Snapshots: r.Snapshots}
}

// ReviewUpdate compares a live stack with the template and parameters it
// would be updated to, and says, for every database and bucket, whether
// CloudFormation would keep, update, replace, add or remove it, according
// to envmig's own table (see replacement.go) rather than a change set's
// preview. It is conservative: a property whose new value cannot be known
// before CloudFormation acts (it refers to a resource whose definition
// changes) counts as changed, and a property the table does not know
// replaces.
func ReviewUpdate(live, next Side) (*UpdateReview, error) {
	oldEv, err := Evaluate(live.Template, live.Inputs)
	if err != nil {
		return nil, fmt.Errorf("evaluate the live template: %w", err)
	}
	newEv, err := Evaluate(next.Template, next.Inputs)
	if err != nil {
		return nil, fmt.Errorf("evaluate the new template: %w", err)
	}
	// Renderings come from evaluations with every NoEcho value masked.
	oldShow, err := Evaluate(live.Template, masked(live))
	if err != nil {
		return nil, fmt.Errorf("evaluate the live template: %w", err)
	}
	newShow, err := Evaluate(next.Template, masked(next))
	if err != nil {
		return nil, fmt.Errorf("evaluate the new template: %w", err)
	}
	changed := changedResources(oldEv, newEv)
	review := &UpdateReview{KeepSnapshots: map[string]string{}}
	ids := sortedUnique(append(sortedKeys(oldEv.Resources), sortedKeys(newEv.Resources)...))
	for _, id := range ids {
		o, inOld := oldEv.Resources[id]
		n, inNew := newEv.Resources[id]
		typ := n.Type
		if !inNew {
			typ = o.Type
		}
		if replacementRules[typ] == nil && (!inOld || replacementRules[o.Type] == nil) {
			continue
		}
		if inNew && n.Type == TypeDBInstance && n.Created {
			if s := scalarString(n.Props["DBSnapshotIdentifier"]); s != "" && !hasUnknown(n.Props["DBSnapshotIdentifier"]) {
				review.KeepSnapshots[id] = s
			}
		}
		c := ResourceChange{LogicalID: id, Type: typ, Action: ActionNone}
		oldThere := inOld && o.Created
		newThere := inNew && n.Created
		switch {
		case !oldThere && !newThere:
			continue
		case inOld && !o.CreatedKnown, inNew && !n.CreatedKnown:
			c.Action = ActionReplace
			c.Reasons = append(c.Reasons, PropertyChange{Property: "Condition", Rule: "its Condition cannot be evaluated before CloudFormation acts: assumed to replace (conservative)"})
		case !oldThere:
			c.Action = ActionAdd
		case !newThere:
			c.Action = ActionRemove
			why := "the new template does not declare it"
			if inNew {
				why = "its Condition " + n.Condition + " is false with the new parameters"
			}
			c.Reasons = append(c.Reasons, PropertyChange{Property: "(resource)", Rule: why})
		case o.Type != n.Type:
			c.Action = ActionReplace
			c.Reasons = append(c.Reasons, PropertyChange{Property: "Type", Old: o.Type, New: n.Type, Rule: "a new type is a new resource"})
		default:
			c = compareProps(c, o, n, oldShow.Resources[id], newShow.Resources[id], changed)
			for _, pc := range c.Reasons {
				if pc.Property != "DBSnapshotIdentifier" || o.Type != TypeDBInstance || emptyValue(o.Props["DBSnapshotIdentifier"]) {
					continue
				}
				sc := SnapshotChange{LogicalID: id, Old: pc.Old, New: pc.New, Dropped: emptyValue(n.Props["DBSnapshotIdentifier"])}
				if sc.Dropped {
					sc.New = ""
				}
				review.Snapshots = append(review.Snapshots, sc)
			}
		}
		review.Resources = append(review.Resources, c)
	}
	return review, nil
}

// compareProps compares a resource's properties and fills c.
func compareProps(c ResourceChange, o, n, oShow, nShow EvaluatedResource, changed map[string]bool) ResourceChange {
	props := sortedUnique(append(sortedKeys(o.Props), sortedKeys(n.Props)...))
	for _, p := range props {
		ov, nv := o.Props[p], n.Props[p]
		if lowercased[c.Type][p] {
			ov, nv = lower(ov), lower(nv)
		}
		same := Equal(ov, nv)
		if same {
			for _, ref := range refsOf(nv) {
				if changed[ref] {
					same = false
				}
			}
		}
		if same {
			continue
		}
		v := replaces(c.Type, p, ov, nv, o.Props, n.Props)
		pc := PropertyChange{Property: p, Old: Render(oShow.Props[p]), New: Render(nShow.Props[p]), Rule: v.rule}
		if Equal(ov, nv) {
			pc.Rule += fmt.Sprintf("; its value refers to %s, whose definition changes", strings.Join(refsOf(nv), ", "))
		}
		if v.replaces {
			c.Action = ActionReplace
			c.Reasons = append(c.Reasons, pc)
			continue
		}
		if c.Action == ActionNone {
			c.Action = ActionModify
		}
		c.InPlace = append(c.InPlace, pc)
	}
	return c
}

// changedResources returns the logical IDs of every resource whose
// definition differs between the two evaluations, or that refers to one
// that does: what CloudFormation may give a new physical ID or attributes.
func changedResources(o, n *Evaluated) map[string]bool {
	changed := map[string]bool{}
	ids := sortedUnique(append(sortedKeys(o.Resources), sortedKeys(n.Resources)...))
	for _, id := range ids {
		a, inA := o.Resources[id]
		b, inB := n.Resources[id]
		if !inA || !inB || a.Type != b.Type || a.Created != b.Created || !a.CreatedKnown || !b.CreatedKnown || !Equal(a.Props, b.Props) {
			changed[id] = true
		}
	}
	for grew := true; grew; {
		grew = false
		for _, id := range ids {
			b, ok := n.Resources[id]
			if !ok || changed[id] {
				continue
			}
			if slices.ContainsFunc(refsOf(b.Props), func(r string) bool { return changed[r] }) {
				changed[id], grew = true, true
			}
		}
	}
	return changed
}

// masked returns s's inputs with every NoEcho parameter masked.
func masked(s Side) Inputs {
	in := s.Inputs
	in.Parameters = map[string]string{}
	for k, v := range s.Inputs.Parameters {
		in.Parameters[k] = v
	}
	for name, p := range s.Template.Parameters {
		if p.NoEcho {
			in.Parameters[name] = MaskedValue
		}
	}
	return in
}

func lower(v any) any {
	if s, ok := v.(string); ok {
		return strings.ToLower(s)
	}
	return v
}

package bucket

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// MaxChangedKeys is how many keys of each kind a Changes names.
const MaxChangedKeys = 100

// Changes is what differs between a bucket and a manifest of it taken
// earlier. Counts are complete; key lists hold the first MaxChangedKeys of
// each kind, in key order.
type Changes struct {
	Bucket string
	// Versions: compared version by version (a manifest of versions).
	Versions bool
	// Keys is how many keys the manifest and the bucket hold together.
	Keys int64
	// Added: keys with a current object that the manifest lacks (or where
	// the manifest had only delete markers).
	Added     int64
	AddedKeys []string
	// Removed: keys whose current object in the manifest is gone (deleted,
	// or hidden by a delete marker).
	Removed     int64
	RemovedKeys []string
	// Changed: keys whose current object differs in size, ETag or
	// last-modified time or, for versions, whose set of versions and
	// delete markers differs in any way.
	Changed     int64
	ChangedKeys []string
}

// None reports whether the bucket still matches the manifest.
func (c Changes) None() bool { return c.Added+c.Removed+c.Changed == 0 }

// String names the bucket, the counts and the first keys of each kind.
func (c Changes) String() string {
	if c.None() {
		return fmt.Sprintf("s3://%s matches its manifest (%d keys)", c.Bucket, c.Keys)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "s3://%s changed since its manifest:", c.Bucket)
	for _, k := range []struct {
		what string
		n    int64
		keys []string
	}{{"added", c.Added, c.AddedKeys}, {"removed", c.Removed, c.RemovedKeys}, {"changed", c.Changed, c.ChangedKeys}} {
		if k.n == 0 {
			continue
		}
		fmt.Fprintf(&b, " %d %s (", k.n, k.what)
		for i, key := range k.keys {
			if i == 3 {
				b.WriteString(", ...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", key)
		}
		b.WriteString(");")
	}
	return strings.TrimSuffix(b.String(), ";")
}

func (c *Changes) add(n *int64, keys *[]string, key string) {
	*n++
	if len(*keys) < MaxChangedKeys {
		*keys = append(*keys, key)
	}
}

// ChangesSince compares bucket as it is now with manifest, a manifest of
// that bucket (TakeManifest, or Syncer.SourceManifest of a copy from it), by
// a streaming merge of a fresh listing with the manifest: memory stays
// flat. A manifest of current objects is compared with the current
// objects (size, ETag, last-modified); a manifest of versions with every
// version and delete marker. It changes nothing. It fails on a manifest of
// another bucket, and on a truncated or altered manifest.
func ChangesSince(ctx context.Context, api ManifestAPI, bucket string, manifest io.Reader) (Changes, error) {
	m, err := OpenManifest(manifest)
	if err != nil {
		return Changes{}, fmt.Errorf("compare %s with its manifest: %w", bucket, err)
	}
	if h := m.Header(); h.Bucket != bucket {
		return Changes{}, fmt.Errorf("compare %s with its manifest: the manifest is of bucket %s", bucket, h.Bucket)
	}
	c := Changes{Bucket: bucket, Versions: m.Header().Versions}
	mc := &manifestCursor{r: m}
	if c.Versions {
		err = c.versions(ctx, api, mc)
	} else {
		err = c.current(ctx, api, mc)
	}
	if err != nil {
		return Changes{}, fmt.Errorf("compare %s with its manifest: %w", bucket, err)
	}
	return c, nil
}

func (c *Changes) current(ctx context.Context, api Lister, mc *manifestCursor) error {
	removed := func(e Entry) {
		c.Keys++
		c.add(&c.Removed, &c.RemovedKeys, e.Key)
	}
	err := eachObject(ctx, api, c.Bucket, func(o *Object) error {
		c.Keys++
		e, ok, err := mc.seek(o.Key, removed)
		switch {
		case err != nil:
			return err
		case !ok:
			c.add(&c.Added, &c.AddedKeys, o.Key)
		case !sameState(e, entryOf(o)):
			c.add(&c.Changed, &c.ChangedKeys, o.Key)
		}
		if ok {
			mc.next()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return mc.rest(removed)
}

func (c *Changes) versions(ctx context.Context, api VersionLister, mc *manifestCursor) error {
	var want []Entry
	// compare classifies one key: live is nil when the bucket lacks it,
	// want when the manifest does.
	compare := func(key string, want, live []Entry) {
		c.Keys++
		if sameGroup(want, live) {
			return
		}
		wasCurrent, isCurrent := hasCurrent(want), hasCurrent(live)
		switch {
		case !wasCurrent && isCurrent:
			c.add(&c.Added, &c.AddedKeys, key)
		case wasCurrent && !isCurrent:
			c.add(&c.Removed, &c.RemovedKeys, key)
		default:
			c.add(&c.Changed, &c.ChangedKeys, key)
		}
	}
	// flushBefore compares every manifest key before key (absent live).
	flushBefore := func(key string, all bool) error {
		for {
			e, ok, err := mc.peek()
			if err != nil || !ok || !all && e.Key >= key {
				return err
			}
			if want, err = mc.group(want); err != nil {
				return err
			}
			compare(want[0].Key, want, nil)
		}
	}
	err := eachVersionGroup(ctx, api, c.Bucket, func(live []Entry) error {
		key := live[0].Key
		if err := flushBefore(key, false); err != nil {
			return err
		}
		e, ok, err := mc.peek()
		if err != nil {
			return err
		}
		var w []Entry
		if ok && e.Key == key {
			if want, err = mc.group(want); err != nil {
				return err
			}
			w = want
		}
		compare(key, w, live)
		return nil
	})
	if err != nil {
		return err
	}
	return flushBefore("", true)
}

func sameGroup(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameState(a[i], b[i]) {
			return false
		}
	}
	return true
}

func hasCurrent(group []Entry) bool {
	for _, e := range group {
		if e.Current() {
			return true
		}
	}
	return false
}

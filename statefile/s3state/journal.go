package s3state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/statefile"
)

// Journal is one journal in the bucket: the object <prefix><name>.state.json
// (its previous versions are the bucket's versions of it), the lock object
// <prefix><name>.lock.json, and blobs under <prefix><name>.blobs/<run>/.
// It remembers the ETag of the state it last loaded or saved: every Save is
// conditional on it (If-Match), or on there being no state (If-None-Match:
// *) when it has loaded none.
type Journal struct {
	b    *Backend
	name string

	mu     sync.Mutex // guards the fields below; held through Save
	etag   string     // of the state last loaded or saved; "" = expect none
	serial uint64     // highest serial seen
	// unsure is the content of a Save whose outcome is unknown (an error
	// after the request was sent): if it is found in the bucket, it was
	// this Journal's own write.
	unsure []byte
	held   *lease // the lock taken through this Journal, until released
}

var _ statefile.Journal = (*Journal)(nil)

func (j *Journal) key() string     { return j.b.o.Prefix + j.name + ".state.json" }
func (j *Journal) lockKey() string { return j.b.o.Prefix + j.name + ".lock.json" }
func (j *Journal) noteKey() string { return j.b.o.Prefix + j.name + ".migrated.json" }

// Name is the journal's name.
func (j *Journal) Name() string { return j.name }

// Location is the state object's s3:// URL.
func (j *Journal) Location() string { return j.b.url(j.key()) }

func (j *Journal) checkName() error {
	if !statefile.ValidName(j.name) {
		return fmt.Errorf("%w %q: use letters, digits, '.', '-' and '_'", statefile.ErrInvalidName, j.name)
	}
	return nil
}

// object is one version of an object as read.
type object struct {
	data    []byte
	etag    string
	version string
}

// get reads key (at version, when not ""); ok is false when it is missing.
func (j *Journal) get(ctx context.Context, key, version string) (obj object, ok bool, err error) {
	in := &s3.GetObjectInput{Bucket: &j.b.o.Bucket, Key: &key, ExpectedBucketOwner: j.b.owner()}
	if version != "" {
		in.VersionId = &version
	}
	out, err := j.b.client.GetObject(ctx, in)
	if notFound(err) {
		return object{}, false, nil
	}
	if err != nil {
		return object{}, false, fmt.Errorf("read %s: %w", j.b.url(key), err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return object{}, false, fmt.Errorf("read %s: %w", j.b.url(key), err)
	}
	return object{data: data, etag: aws.ToString(out.ETag), version: aws.ToString(out.VersionId)}, true, nil
}

// putIf writes body at key if the key's ETag is etag, or, with etag "", if
// the key holds nothing. It returns the new ETag; a refused condition is an
// error for which preconditionFailed holds. S3's 409 (another conditional
// write in progress) is tried again.
func (j *Journal) putIf(ctx context.Context, key string, body []byte, etag string) (string, error) {
	in := &s3.PutObjectInput{Bucket: &j.b.o.Bucket, Key: &key, ExpectedBucketOwner: j.b.owner(), ContentType: aws.String("application/json")}
	if etag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		in.Body = bytes.NewReader(body)
		out, err := j.b.client.PutObject(ctx, in)
		if err == nil {
			return aws.ToString(out.ETag), nil
		}
		if !conditionalConflict(err) || attempt == 5 {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(wait):
			wait *= 2
		}
	}
}

// Load reads the state; see statefile.Journal. It records the ETag read.
func (j *Journal) Load() (*statefile.State, error) {
	if err := j.checkName(); err != nil {
		return nil, err
	}
	ctx, cancel := j.b.call()
	defer cancel()
	j.mu.Lock()
	defer j.mu.Unlock()
	obj, ok, err := j.get(ctx, j.key(), "")
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := j.migrated(ctx); err != nil {
			return nil, err
		}
		j.etag = ""
		return nil, &statefile.NotFoundError{Path: j.Location()}
	}
	st, err := j.decode(ctx, obj, true)
	if err != nil {
		return nil, err
	}
	j.etag, j.serial = obj.etag, max(j.serial, st.Serial)
	return st, nil
}

// migrated returns a *statefile.MigratedError when the journal was moved
// away by a migration.
func (j *Journal) migrated(ctx context.Context) error {
	obj, ok, err := j.get(ctx, j.noteKey(), "")
	if err != nil || !ok {
		return err
	}
	var note statefile.MigrationNote
	if err := json.Unmarshal(obj.data, &note); err != nil || note.To == "" {
		return fmt.Errorf("the migration note %s is unreadable: it says the journal of %q was moved to another state backend; check where it went before removing it", j.b.url(j.noteKey()), j.name)
	}
	return &statefile.MigratedError{Name: j.name, Location: j.Location(), Note: note}
}

// decode checks a version of the state; a *CorruptError says which version
// to restore (for the current state: the previous one).
func (j *Journal) decode(ctx context.Context, obj object, current bool) (*statefile.State, error) {
	where := j.Location()
	if obj.version != "" {
		where += "?versionId=" + obj.version
	}
	st, err := statefile.Decode(where, j.name, obj.data)
	var ce *statefile.CorruptError
	if errors.As(err, &ce) {
		ce.Hint = "list its versions with `aws s3api list-object-versions --bucket " + j.b.o.Bucket + " --prefix " + j.key() + "`"
		if current {
			if prev, perr := j.backup(ctx); perr == nil && prev != nil {
				ce.Hint = fmt.Sprintf("the previous version %s (serial %d, run %s, %s) is good: restore it with `aws s3api copy-object --bucket %s --key %s --copy-source %s/%s?versionId=%s`, then run `envmig status`",
					prev.version, prev.st.Serial, prev.st.Lineage, prev.st.Status, j.b.o.Bucket, j.key(), j.b.o.Bucket, j.key(), prev.version)
			}
		}
	}
	return st, err
}

type version struct {
	version string
	st      *statefile.State
}

// backup reads the version before the current one (when the current one is
// deleted, the newest left), or nil when there is none.
func (j *Journal) backup(ctx context.Context) (*version, error) {
	key := j.key()
	p := s3.NewListObjectVersionsPaginator(j.b.client, &s3.ListObjectVersionsInput{
		Bucket: &j.b.o.Bucket, Prefix: &key, ExpectedBucketOwner: j.b.owner(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the versions of %s: %w", j.Location(), err)
		}
		// Versions of one key come newest first, and our key sorts before
		// every longer key with its prefix.
		for _, v := range page.Versions {
			if aws.ToString(v.Key) != key {
				return nil, nil
			}
			if aws.ToBool(v.IsLatest) {
				continue
			}
			obj, ok, err := j.get(ctx, key, aws.ToString(v.VersionId))
			if err != nil || !ok {
				return nil, err
			}
			st, err := j.decode(ctx, obj, false)
			if err != nil {
				return nil, err
			}
			return &version{version: obj.version, st: st}, nil
		}
	}
	return nil, nil
}

// LoadBackup reads the previous version of the state: the bucket's version
// before the current one.
func (j *Journal) LoadBackup() (*statefile.State, error) {
	if err := j.checkName(); err != nil {
		return nil, err
	}
	ctx, cancel := j.b.call()
	defer cancel()
	v, err := j.backup(ctx)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, &statefile.NotFoundError{Path: j.Location() + " (previous version)"}
	}
	return v.st, nil
}

// Save writes st, conditional on the ETag this Journal last saw; see
// statefile.Journal. A write whose response was lost (the SDK then retries
// it, and the retry finds its own write) is recognised by its content and
// counts as done.
func (j *Journal) Save(st *statefile.State) error {
	if err := j.checkName(); err != nil {
		return err
	}
	if !statefile.Belongs(st.Environment, j.name) {
		return fmt.Errorf("save state of environment %q into journal %q: the journal belongs to another environment", st.Environment, j.name)
	}
	ctx, cancel := j.b.call()
	defer cancel()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.held != nil {
		if err := j.held.check(); err != nil {
			return err
		}
	}
	data, err := statefile.Seal(st, j.serial)
	if err != nil {
		return err
	}
	if j.etag == "" {
		if err := j.migrated(ctx); err != nil {
			return fmt.Errorf("save state %s: %w", j.Location(), err)
		}
	}
	if err := j.write(ctx, data); err != nil {
		return fmt.Errorf("save state %s: %w", j.Location(), err)
	}
	j.serial = st.Serial
	return nil
}

// write puts data as the state, conditional on j.etag.
func (j *Journal) write(ctx context.Context, data []byte) error {
	for range 2 {
		etag, err := j.putIf(ctx, j.key(), data, j.etag)
		if err == nil {
			j.etag, j.unsure = etag, nil
			return nil
		}
		if !preconditionFailed(err) {
			j.unsure = data
			return err
		}
		obj, ok, gerr := j.get(ctx, j.key(), "")
		switch {
		case gerr != nil:
			return errors.Join(err, gerr)
		case ok && bytes.Equal(obj.data, data):
			j.etag, j.unsure = obj.etag, nil // this very write landed
			return nil
		case ok && j.unsure != nil && bytes.Equal(obj.data, j.unsure):
			j.etag, j.unsure = obj.etag, nil // an earlier one did: go on from it
			continue
		}
		e := &statefile.ConflictError{Name: j.name, Location: j.Location()}
		if ok {
			e.Found, _ = statefile.Decode(j.Location(), j.name, obj.data)
		}
		return e
	}
	panic("unreachable")
}

// Import writes prev then cur exactly as they are; see statefile.Journal.
func (j *Journal) Import(prev, cur *statefile.State) error {
	if err := j.checkName(); err != nil {
		return err
	}
	curData, prevData, err := statefile.ImportContent(j.name, prev, cur)
	if err != nil {
		return err
	}
	ctx, cancel := j.b.call()
	defer cancel()
	j.mu.Lock()
	defer j.mu.Unlock()
	obj, ok, err := j.get(ctx, j.key(), "")
	if err != nil {
		return err
	}
	j.etag = obj.etag
	switch {
	case ok && bytes.Equal(obj.data, curData):
	case ok && prevData != nil && bytes.Equal(obj.data, prevData):
		err = j.write(ctx, curData)
	case !ok:
		if prevData != nil {
			err = j.write(ctx, prevData)
		}
		if err == nil {
			err = j.write(ctx, curData)
		}
	default:
		e := &statefile.ConflictError{Name: j.name, Location: j.Location()}
		e.Found, _ = statefile.Decode(j.Location(), j.name, obj.data)
		err = e
	}
	if err == nil {
		_, err = j.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &j.b.o.Bucket, Key: aws.String(j.noteKey()), ExpectedBucketOwner: j.b.owner()})
	}
	if err != nil {
		return fmt.Errorf("import state into %s: %w", j.Location(), err)
	}
	j.serial = max(j.serial, cur.Serial)
	return nil
}

// Retire moves the state aside after a migration: it writes the note
// (<name>.migrated.json) and a copy <name>.state.json.migrated-to-<kind>,
// then deletes the state object, conditional on the ETag last loaded (the
// bucket keeps every version). Load then answers a *MigratedError.
func (j *Journal) Retire(note statefile.MigrationNote) error {
	if err := j.checkName(); err != nil {
		return err
	}
	if !statefile.ValidName(note.Kind) || note.To == "" {
		return fmt.Errorf("retire %q: the note names no destination", j.name)
	}
	noteData, err := json.MarshalIndent(note, "", "  ")
	if err != nil {
		return fmt.Errorf("encode migration note: %w", err)
	}
	ctx, cancel := j.b.call()
	defer cancel()
	j.mu.Lock()
	defer j.mu.Unlock()
	obj, ok, err := j.get(ctx, j.key(), "")
	if err != nil {
		return err
	}
	if !ok {
		if err := j.migrated(ctx); err != nil {
			var me *statefile.MigratedError
			if errors.As(err, &me) {
				return nil // retired already
			}
			return err
		}
		return &statefile.NotFoundError{Path: j.Location()}
	}
	if obj.etag != j.etag {
		e := &statefile.ConflictError{Name: j.name, Location: j.Location()}
		e.Found, _ = statefile.Decode(j.Location(), j.name, obj.data)
		return e
	}
	put := func(key string, data []byte) error {
		_, err := j.b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &j.b.o.Bucket, Key: &key, Body: bytes.NewReader(data),
			ContentType: aws.String("application/json"), ExpectedBucketOwner: j.b.owner()})
		return err
	}
	if err := put(j.noteKey(), append(noteData, '\n')); err != nil {
		return fmt.Errorf("retire %s: write the migration note: %w", j.Location(), err)
	}
	if err := put(j.key()+".migrated-to-"+note.Kind, obj.data); err != nil {
		return fmt.Errorf("retire %s: %w", j.Location(), err)
	}
	_, err = j.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &j.b.o.Bucket, Key: aws.String(j.key()), IfMatch: aws.String(obj.etag), ExpectedBucketOwner: j.b.owner()})
	if preconditionFailed(err) {
		now, ok, gerr := j.get(ctx, j.key(), "")
		switch {
		case gerr != nil:
			return errors.Join(err, gerr)
		case ok:
			e := &statefile.ConflictError{Name: j.name, Location: j.Location()}
			e.Found, _ = statefile.Decode(j.Location(), j.name, now.data)
			return e
		}
		err = nil // gone: this delete's answer was lost and the SDK's retry found it done
	}
	if err != nil {
		return fmt.Errorf("retire %s: %w", j.Location(), err)
	}
	j.etag = ""
	return nil
}

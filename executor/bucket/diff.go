package bucket

import "context"

// cursor walks a stream of pages.
type cursor struct {
	ch   <-chan []Object
	page []Object
	i    int
	done bool
}

// peek returns the current object, nil at the end of the stream. It waits
// for the next page, or for ctx.
func (c *cursor) peek(ctx context.Context) (*Object, error) {
	for !c.done && c.i >= len(c.page) {
		select {
		case page, ok := <-c.ch:
			if !ok {
				c.done = true
				c.page = nil
				break
			}
			c.page, c.i = page, 0
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.done {
		return nil, nil
	}
	return &c.page[c.i], nil
}

// MergeJoin walks two streams sorted by key (as List sends them) and calls
// fn once per key: fn(src, dst) with both set when the key is in both,
// fn(src, nil) when only the source has it, fn(nil, dst) when only the
// destination has it. Keys arrive in increasing order. A stream ends only
// when its channel is closed; a stream whose lister failed stays open, and
// MergeJoin returns when ctx is cancelled.
func MergeJoin(ctx context.Context, src, dst <-chan []Object, fn func(src, dst *Object) error) error {
	a, b := &cursor{ch: src}, &cursor{ch: dst}
	for {
		x, err := a.peek(ctx)
		if err != nil {
			return err
		}
		y, err := b.peek(ctx)
		if err != nil {
			return err
		}
		switch {
		case x == nil && y == nil:
			return nil
		case y == nil || x != nil && x.Key < y.Key:
			err = fn(x, nil)
			a.i++
		case x == nil || y.Key < x.Key:
			err = fn(nil, y)
			b.i++
		default:
			err = fn(x, y)
			a.i++
			b.i++
		}
		if err != nil {
			return err
		}
	}
}

package bucket

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// pageBuffer is how many listing pages each stream holds ahead of its
// reader: listing memory is pageBuffer × 1000 objects per stream.
const pageBuffer = 2

// maxDescend bounds how deep the lister follows a single top-level prefix
// ("data/" holding everything) looking for a level to split.
const maxDescend = 3

// List streams the objects of bucket in key order, one page per send, and
// closes out when done. With parallel > 1 it splits the keyspace by the
// prefixes the delimiter "/" reveals and lists up to parallel of them at a
// time; a flat bucket is listed by one paginator. Memory is bounded by
// parallel × pageBuffer pages. Out-of-order listings are an error.
//
// List closes out only when the listing is complete: on an error it returns
// it with out left open, so a reader that selects on a context the caller
// cancels on that error never takes a failed listing for a short one.
func List(ctx context.Context, api Lister, bucket string, parallel int, out chan<- []Object) error {
	if err := list(ctx, api, bucket, parallel, out); err != nil {
		return err
	}
	close(out)
	return nil
}

func list(ctx context.Context, api Lister, bucket string, parallel int, out chan<- []Object) error {
	if parallel <= 1 {
		return checkedRange(ctx, api, bucket, "", out)
	}
	segs, err := planSegments(ctx, api, bucket, "", 0)
	if err != nil {
		return err
	}
	if len(segs) == 1 && !segs[0].listed {
		return checkedRange(ctx, api, bucket, segs[0].prefix, out)
	}
	return listSegments(ctx, api, bucket, parallel, segs, out)
}

// segment is a run of consecutive keys: either keys already listed
// (listed is true) or everything under prefix ("" = the whole bucket).
type segment struct {
	listed bool
	keys   []Object
	prefix string
}

// planSegments lists one delimiter page under prefix. When it is complete
// (not truncated) its keys and common prefixes become the segments, in key
// order; a lone common prefix is descended into. Otherwise the whole prefix
// is one segment.
func planSegments(ctx context.Context, api Lister, bucket, prefix string, depth int) ([]segment, error) {
	out, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: nonEmpty(prefix), Delimiter: aws.String("/"),
	})
	if err != nil {
		return nil, fmt.Errorf("list bucket %s: %w", bucket, err)
	}
	if aws.ToBool(out.IsTruncated) {
		return []segment{{prefix: prefix}}, nil
	}
	if len(out.Contents) == 0 && len(out.CommonPrefixes) == 1 && depth < maxDescend {
		return planSegments(ctx, api, bucket, aws.ToString(out.CommonPrefixes[0].Prefix), depth+1)
	}
	type entry struct {
		name string
		obj  *Object
	}
	entries := make([]entry, 0, len(out.Contents)+len(out.CommonPrefixes))
	for i := range out.Contents {
		o := objectFromListing(&out.Contents[i])
		entries = append(entries, entry{name: o.Key, obj: &o})
	}
	for _, p := range out.CommonPrefixes {
		entries = append(entries, entry{name: aws.ToString(p.Prefix)})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var segs []segment
	for _, e := range entries {
		switch {
		case e.obj == nil:
			segs = append(segs, segment{prefix: e.name})
		case len(segs) > 0 && segs[len(segs)-1].listed:
			segs[len(segs)-1].keys = append(segs[len(segs)-1].keys, *e.obj)
		default:
			segs = append(segs, segment{listed: true, keys: []Object{*e.obj}})
		}
	}
	if len(segs) == 0 {
		segs = []segment{{listed: true}}
	}
	return segs, nil
}

// listSegments lists the prefix segments, up to parallel at a time, and
// emits every segment in order. Segments start in order, so the one being
// emitted always holds a slot: no deadlock however full the others are.
func listSegments(ctx context.Context, api Lister, bucket string, parallel int, segs []segment, out chan<- []Object) error {
	g, ctx := errgroup.WithContext(ctx)
	chans := make([]chan []Object, len(segs))
	for i := range segs {
		chans[i] = make(chan []Object, pageBuffer)
	}
	g.Go(func() error {
		lg, lctx := errgroup.WithContext(ctx)
		lg.SetLimit(parallel)
		for i, s := range segs {
			ch := chans[i]
			if s.listed {
				if len(s.keys) > 0 {
					ch <- s.keys // capacity pageBuffer ≥ 1: never blocks
				}
				close(ch)
				continue
			}
			lg.Go(func() error {
				defer close(ch)
				return listRange(lctx, api, bucket, s.prefix, ch)
			})
		}
		return lg.Wait()
	})
	g.Go(func() error {
		last := ""
		for i := range chans {
			for page := range chans[i] {
				if err := checkOrder(bucket, &last, page); err != nil {
					return err
				}
				if !send(ctx, out, page) {
					return ctx.Err()
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	})
	return g.Wait()
}

// checkedRange lists prefix sequentially, checking key order.
func checkedRange(ctx context.Context, api Lister, bucket, prefix string, out chan<- []Object) error {
	ch := make(chan []Object, pageBuffer)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(ch)
		return listRange(ctx, api, bucket, prefix, ch)
	})
	g.Go(func() error {
		last := ""
		for page := range ch {
			if err := checkOrder(bucket, &last, page); err != nil {
				return err
			}
			if !send(ctx, out, page) {
				return ctx.Err()
			}
		}
		return nil
	})
	return g.Wait()
}

// listRange sends every page under prefix, in the server's order.
func listRange(ctx context.Context, api Lister, bucket, prefix string, out chan<- []Object) error {
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: nonEmpty(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list bucket %s: %w", bucket, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		objs := make([]Object, len(page.Contents))
		for i := range page.Contents {
			objs[i] = objectFromListing(&page.Contents[i])
		}
		if !send(ctx, out, objs) {
			return ctx.Err()
		}
	}
	return nil
}

// checkOrder fails unless page continues a strictly increasing key order:
// the merge-join would otherwise copy or delete the wrong objects.
func checkOrder(bucket string, last *string, page []Object) error {
	for i := range page {
		k := page[i].Key
		if *last != "" && k <= *last {
			return fmt.Errorf("list bucket %s: the server listed %q after %q, out of key order; refusing to compare by merge", bucket, k, *last)
		}
		*last = k
	}
	return nil
}

func send[T any](ctx context.Context, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

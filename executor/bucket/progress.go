package bucket

import (
	"sync/atomic"
	"time"
)

// Progress counts a copy's work. Workers add to it atomically; a reporter
// reads Snapshot from any goroutine. The zero value is ready; Start sets
// the clock.
type Progress struct {
	start atomic.Int64 // unix nanoseconds

	// Expected is the number of source objects a caller expects (from a
	// plan's observation); 0 = unknown. It makes an ETA possible before the
	// listing ends.
	expected atomic.Int64

	scanned      atomic.Int64 // source objects examined
	scannedBytes atomic.Int64
	copied       atomic.Int64
	copiedBytes  atomic.Int64
	skipped      atomic.Int64
	skippedBytes atomic.Int64
	deleted      atomic.Int64
	vanished     atomic.Int64
	kept         atomic.Int64 // destination objects Protect kept
	listed       atomic.Bool  // both listings finished
	concurrency  atomic.Int64
}

// Start records the start time and the expected number of source objects
// (0 = unknown).
func (p *Progress) Start(now time.Time, expected int64) {
	p.start.Store(now.UnixNano())
	p.expected.Store(expected)
}

// Snapshot is a consistent-enough view of a Progress.
type Snapshot struct {
	Elapsed time.Duration
	// Scanned source objects (and their bytes) so far; Total is the number
	// expected, or Scanned once the listing ended, or 0 when unknown.
	Scanned, ScannedBytes int64
	Total                 int64
	Copied, CopiedBytes   int64
	Skipped, SkippedBytes int64
	Deleted               int64
	// Vanished: source objects gone or changed before their copy.
	Vanished int64
	// Kept: destination objects a protected sync left as they are.
	Kept int64
	// ObjectsPerSec and MiBPerSec are the copy rates since the start.
	ObjectsPerSec, MiBPerSec float64
	// ETA is the time left at the current scan rate; -1 when unknown.
	ETA time.Duration
	// Concurrency is the current limit of copies in flight.
	Concurrency int64
	ListingDone bool
}

// Snapshot reads the counters at now.
func (p *Progress) Snapshot(now time.Time) Snapshot {
	s := Snapshot{
		Scanned: p.scanned.Load(), ScannedBytes: p.scannedBytes.Load(),
		Copied: p.copied.Load(), CopiedBytes: p.copiedBytes.Load(),
		Skipped: p.skipped.Load(), SkippedBytes: p.skippedBytes.Load(),
		Deleted: p.deleted.Load(), Vanished: p.vanished.Load(), Kept: p.kept.Load(), ListingDone: p.listed.Load(),
		Concurrency: p.concurrency.Load(), ETA: -1,
	}
	if st := p.start.Load(); st != 0 {
		s.Elapsed = now.Sub(time.Unix(0, st))
	}
	s.Total = max(p.expected.Load(), s.Scanned)
	if s.ListingDone {
		s.Total = s.Scanned
	}
	if sec := s.Elapsed.Seconds(); sec > 0 {
		s.ObjectsPerSec = float64(s.Copied) / sec
		s.MiBPerSec = float64(s.CopiedBytes) / sec / (1 << 20)
		done := s.Copied + s.Skipped + s.Vanished
		if s.Total > 0 && done > 0 {
			left := float64(s.Total - done)
			s.ETA = time.Duration(left / (float64(done) / sec) * float64(time.Second))
		}
	}
	return s
}

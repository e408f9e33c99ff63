package planner

import (
	"math"
	"strconv"

	"github.com/envmig/envmig/planner/plan"
)

// The cost model. docs/planning.md explains each figure; they are
// deliberately round, and the plan says "~".
const (
	secPreflight       = 5
	secStandbyBase     = 30 // suspend processes, first batch
	secStandbyBatch    = 10 // each further batch of 20 instances
	secResume          = 60 // back to InService, health checks
	secSnapshotBase    = 60
	secSnapshotPerGiB  = 6
	secCopySnapBase    = 60
	secCopySnapPerGiB  = 6
	secRestoreBase     = 600
	secRestorePerGiB   = 3
	secModifyVersion   = 900
	secModifyOther     = 300
	secRename          = 180
	secDelete          = 300
	secVerifyDatabase  = 5
	secUpdate          = 60
	secBucketCreate    = 2
	secBucketDelete    = 10
	copyObjectsPerSec  = 500.0
	copyBytesPerSec    = 100 << 20
	listObjectsPerSec  = 5000.0
	secFrozen          = 10
	secHTTPCheck       = 10
	secCommandCheck    = 30
	recentWindowSecond = 24 * 3600
)

// estimator fills each step's EstimateSeconds and the plan's totals.
type estimator struct {
	buckets map[string]plan.Observation // by bucket name
	dbs     map[string]plan.Observation // by resource address
	groups  map[string]plan.Observation // by group name
}

func newEstimator(obs []plan.Observation) *estimator {
	e := &estimator{buckets: map[string]plan.Observation{}, dbs: map[string]plan.Observation{}, groups: map[string]plan.Observation{}}
	for _, o := range obs {
		switch o.Kind {
		case plan.KindBucket:
			e.buckets[o.ID] = o
		case plan.KindDatabase:
			e.dbs[o.Address] = o
		case plan.KindService:
			e.groups[o.ID] = o
		}
	}
	return e
}

func (e *estimator) num(o plan.Observation, key string) int64 {
	if v, ok := o.Info[key]; ok {
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	n, _ := strconv.ParseInt(o.Attrs[key], 10, 64)
	return n
}

func (e *estimator) run(p *plan.Plan) {
	var est plan.Estimate
	precopy := map[string]int64{} // bucket -> pre-copy seconds
	for i := range p.Steps {
		s := &p.Steps[i]
		sec := e.step(s, &est, precopy)
		s.EstimateSeconds = sec
		est.TotalSeconds += sec
		if s.InStandby {
			est.StandbySeconds += sec
		}
	}
	p.Estimate = est
}

func (e *estimator) step(s *plan.Step, est *plan.Estimate, precopy map[string]int64) int64 {
	switch s.Action {
	case plan.Preflight:
		return secPreflight
	case plan.GroupStandby:
		n := e.num(e.groups[s.Param("group")], "in_service")
		return secStandbyBase + secStandbyBatch*int64(max(0, (n-1)/20))
	case plan.GroupResume:
		return secResume
	case plan.DBSnapshot:
		gib := e.num(e.dbs[s.Resource], "allocated_storage")
		est.SnapshotGiB += gib
		return secSnapshotBase + secSnapshotPerGiB*gib
	case plan.DBCopySnapshot:
		return secCopySnapBase + secCopySnapPerGiB*e.num(e.dbs[s.Resource], "allocated_storage")
	case plan.DBRestore:
		return secRestoreBase + secRestorePerGiB*e.num(e.dbs[s.Resource], "allocated_storage")
	case plan.DBModify:
		if s.Param("engine_version") != "" {
			return secModifyVersion
		}
		return secModifyOther
	case plan.DBRename:
		return secRename
	case plan.DBDelete:
		return secDelete
	case plan.DBUpdate, plan.BucketUpdate:
		return secUpdate
	case plan.VerifyDatabase:
		return secVerifyDatabase
	case plan.BucketCreate:
		return secBucketCreate
	case plan.BucketDelete:
		o := e.buckets[s.Param("bucket")]
		return secBucketDelete + int64(float64(e.num(o, "objects"))/copyObjectsPerSec)
	case plan.BucketCopy:
		return e.copy(s, est, precopy)
	case plan.VerifyBucket:
		o := e.buckets[s.Param("source")]
		return 1 + int64(2*float64(e.num(o, "objects"))/listObjectsPerSec)
	case plan.VerifyFrozen:
		return secFrozen
	case plan.VerifyHTTP:
		return secHTTPCheck
	case plan.VerifyCommand:
		return secCommandCheck
	}
	return 0
}

// copy models a bucket copy. The pre-copy moves everything; the delta
// moves what is written while the pre-copy runs, predicted from the objects
// written in the 24 hours before the plan; the final copy-back moves
// everything again.
func (e *estimator) copy(s *plan.Step, est *plan.Estimate, precopy map[string]int64) int64 {
	o := e.buckets[s.Param("source")]
	if !o.Exists { // copying back from a temporary: it holds what the original held
		o = e.buckets[s.Param("destination")]
	}
	objects, bytes := e.num(o, "objects"), e.num(o, "bytes")
	listing := 2 * float64(objects) / listObjectsPerSec
	switch s.Param("mode") {
	case "delta":
		sec := float64(precopy[s.Param("source")])
		rate := float64(e.num(o, "recent_objects")) / recentWindowSecond
		brate := float64(e.num(o, "recent_bytes")) / recentWindowSecond
		dObj := int64(math.Ceil(rate * sec))
		dBytes := int64(math.Ceil(brate * sec))
		est.DeltaObjects += dObj
		est.DeltaBytes += dBytes
		est.CopyObjects += dObj
		est.CopyBytes += dBytes
		return 1 + int64(listing+float64(dObj)/copyObjectsPerSec+float64(dBytes)/copyBytesPerSec)
	default:
		est.CopyObjects += objects
		est.CopyBytes += bytes
		sec := 1 + int64(listing+float64(objects)/copyObjectsPerSec+float64(bytes)/copyBytesPerSec)
		if s.Param("mode") == "precopy" {
			precopy[s.Param("source")] = sec
		}
		return sec
	}
}

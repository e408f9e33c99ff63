package planner

import (
	"math"
	"strconv"

	"github.com/envmig/envmig/planner/plan"
)

// The cost model. docs/plans.md ("Cost model") lists each figure; they are
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
	secChangeSet       = 15 // CloudFormation computes a change set
	recentWindowSecond = 24 * 3600
)

// estimator fills each step's EstimateSeconds and the plan's totals.
type estimator struct {
	buckets  map[string]plan.Observation // by bucket name
	dbs      map[string]plan.Observation // by resource address
	groups   map[string]plan.Observation // by group name
	switches map[string]plan.Observation // by address
}

func newEstimator(obs []plan.Observation) *estimator {
	e := &estimator{buckets: map[string]plan.Observation{}, dbs: map[string]plan.Observation{}, groups: map[string]plan.Observation{}, switches: map[string]plan.Observation{}}
	for _, o := range obs {
		switch o.Kind {
		case plan.KindBucket:
			e.buckets[o.ID] = o
		case plan.KindDatabase:
			e.dbs[o.Address] = o
		case plan.KindService:
			e.groups[o.ID] = o
		case plan.KindSwitch:
			e.switches[o.Address] = o
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
	switch p := s.Params.(type) {
	case plan.PreflightParams:
		return secPreflight
	case plan.GroupStandbyParams:
		n := e.num(e.groups[p.Group], "in_service")
		return secStandbyBase + secStandbyBatch*int64(max(0, (n-1)/20))
	case plan.GroupResumeParams:
		return secResume
	case plan.SwitchOffParams:
		return e.num(e.switches["switch."+p.Name], "stop_seconds")
	case plan.SwitchOnParams:
		return e.num(e.switches["switch."+p.Name], "start_seconds")
	case plan.BucketConfigureParams, plan.BucketCaptureParams:
		return secBucketCreate
	case plan.DBSnapshotParams:
		gib := e.num(e.dbs[s.Resource], "allocated_storage")
		est.SnapshotGiB += gib
		return secSnapshotBase + secSnapshotPerGiB*gib
	case plan.DBCopySnapshotParams:
		return secCopySnapBase + secCopySnapPerGiB*e.num(e.dbs[s.Resource], "allocated_storage")
	case plan.DBRestoreParams:
		return secRestoreBase + secRestorePerGiB*e.num(e.dbs[s.Resource], "allocated_storage")
	case plan.DBModifyParams:
		if p.Change.EngineVersion != "" {
			return secModifyVersion
		}
		return secModifyOther
	case plan.DBRenameParams:
		return secRename
	case plan.DBDeleteParams:
		return secDelete
	case plan.DBUpdateParams, plan.BucketUpdateParams:
		return secUpdate
	case plan.VerifyDatabaseParams:
		return secVerifyDatabase
	case plan.BucketCreateParams:
		return secBucketCreate
	case plan.BucketDeleteParams:
		o := e.buckets[p.Bucket]
		return secBucketDelete + int64(float64(e.num(o, "objects"))/copyObjectsPerSec)
	case plan.BucketCopyParams:
		return e.copy(p, est, precopy)
	case plan.VerifyBucketParams:
		o := e.buckets[p.Source]
		return 1 + int64(2*float64(e.num(o, "objects"))/listObjectsPerSec)
	case plan.VerifyFrozenParams:
		return secFrozen
	case plan.VerifyHTTPParams:
		return secHTTPCheck
	case plan.VerifyCommandParams:
		return secCommandCheck
	case plan.StackCreateParams:
		// CloudFormation restores the database as a restore would.
		var gib int64
		for _, o := range e.dbs {
			gib += e.num(o, "allocated_storage")
		}
		return secRestoreBase + secRestorePerGiB*gib
	case plan.StackDeleteParams:
		return secDelete
	case plan.StackChangeSetParams:
		return secChangeSet
	case plan.StackUpdateParams:
		return secModifyOther
	}
	return 0
}

// copy models a bucket copy. The pre-copy moves everything; the delta
// moves what is written while the pre-copy runs, predicted from the objects
// written in the 24 hours before the plan; the final copy-back moves
// everything again.
func (e *estimator) copy(p plan.BucketCopyParams, est *plan.Estimate, precopy map[string]int64) int64 {
	o := e.buckets[p.Source]
	if !o.Exists { // copying back from a temporary: it holds what the original held
		o = e.buckets[p.Destination]
	}
	objects, bytes := e.num(o, "objects"), e.num(o, "bytes")
	listing := 2 * float64(objects) / listObjectsPerSec
	switch p.Mode {
	case plan.CopyDelta:
		if _, pre := precopy[p.Source]; !pre {
			break // no pre-copy: the delta is the whole copy
		}
		sec := float64(precopy[p.Source])
		rate := float64(e.num(o, "recent_objects")) / recentWindowSecond
		brate := float64(e.num(o, "recent_bytes")) / recentWindowSecond
		dObj := int64(math.Ceil(rate * sec))
		dBytes := int64(math.Ceil(brate * sec))
		est.DeltaObjects += dObj
		est.DeltaBytes += dBytes
		est.CopyObjects += dObj
		est.CopyBytes += dBytes
		return 1 + int64(listing+float64(dObj)/copyObjectsPerSec+float64(dBytes)/copyBytesPerSec)
	}
	est.CopyObjects += objects
	est.CopyBytes += bytes
	sec := 1 + int64(listing+float64(objects)/copyObjectsPerSec+float64(bytes)/copyBytesPerSec)
	if p.Mode == plan.CopyPrecopy {
		precopy[p.Source] = sec
	}
	return sec
}

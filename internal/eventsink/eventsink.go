// Package eventsink writes the operator's Kubernetes Events (events.k8s.io/v1) from a bounded queue
// by a fixed number of writers. Its Recorder implements client-go's events.EventRecorder, so the
// controllers, and their tests with client-go's fake recorder, do not know the difference.
//
// It is written by hand because client-go's events broadcaster, the one behind the manager's
// recorder, is costly when a thousand logins start at once (docs/performance.md, "Events"):
//   - it sends every event from a goroutine of its own, so a burst of logins becomes a burst of
//     concurrent writes that compete with the status writes that publish the user codes, and a
//     megabyte of goroutine stacks;
//   - it keeps a deep copy of every event for 6 to 12 minutes to count repeats into a series: about
//     3 MiB of the manager's heap with a thousand logins;
//   - its client speaks JSON, where the manager's client speaks protobuf to built-in kinds.
//
// The series stay: the same event repeated within 6 minutes is counted on the first Event object
// (series.count, which kubectl describe shows as "x3 over 2m"), with a fingerprint and a counter
// per event instead of a copy. Unlike client-go, the note is part of what makes two events the
// same, so an event with a new message (a new user code) is never folded into an older one.
package eventsink

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

const (
	// SeriesWindow is how long after its last occurrence an event still counts a repeat on its
	// first Event object (client-go's finishTime).
	SeriesWindow = 6 * time.Minute
	// QueueSize bounds the events waiting for a writer. Beyond it an event is dropped and logged
	// (client-go's broadcaster drops beyond 1,000), so that recording never blocks a reconcile.
	QueueSize = 4096
	// Writers is how many events are written at once: enough to keep up with a thousand logins
	// started together (two events each within half a minute), few enough that the events of a
	// burst never crowd out the status writes that publish its user codes.
	Writers = 8
	// maxSeries bounds the fingerprints kept to count repeats; past it, new events are written
	// without a series until old fingerprints expire.
	maxSeries = 1 << 16
	// maxTries is how often an event is tried when the API server cannot be reached (client-go's
	// maxTriesPerEvent); retryDelay is the wait between tries, jittered by a quarter.
	maxTries   = 12
	retryDelay = 10 * time.Second
	// writeTimeout bounds one write; drainBudget is how long events queued at shutdown still get.
	writeTimeout = 10 * time.Second
	drainBudget  = 5 * time.Second
	// maxNoteLength is the longest note the API server accepts (events.k8s.io/v1 validation).
	maxNoteLength = 1024
)

// fingerprint tells events apart: SHA-256 (truncated) of what makes two events the same.
type fingerprint [16]byte

// series counts the occurrences of one event within SeriesWindow of each other. One write of it
// at a time: a repeat while the first Event is being created, or while a count is being written,
// only marks the count dirty, and the writer writes it once it is done.
type series struct {
	name, namespace string
	count           int32
	last            time.Time
	busy            bool // a write of this series is queued or under way
	dirty           bool // the count changed since that write took it
}

// job is an Event to write: created, or, for a repeat, its series count patched onto the first
// Event (created from event when the first one is gone).
type job struct {
	event  *eventsv1.Event
	series *series // nil for an event whose repeats are not counted
	repeat bool
	tries  int
}

// Sink writes the events of its Recorders. It is a manager.Runnable that runs on every replica
// (only the leader's controllers record events).
type Sink struct {
	client     client.Client
	log        logr.Logger
	clock      clock.Clock
	retryDelay time.Duration
	instance   string
	queue      chan job

	mu        sync.Mutex
	series    map[fingerprint]*series
	lastSweep time.Time
}

// New returns a Sink that writes through c, which must know events.k8s.io/v1 (controller-runtime's
// client writes it as protobuf).
func New(c client.Client, log logr.Logger, clk clock.Clock) *Sink {
	hostname, _ := os.Hostname()
	return &Sink{client: c, log: log, clock: clk, retryDelay: retryDelay, instance: hostname,
		queue: make(chan job, QueueSize), series: map[fingerprint]*series{}}
}

// ForManager returns the recorder of reportingController, whose events a Sink added to mgr writes.
func ForManager(mgr manager.Manager, reportingController string) (events.EventRecorder, error) {
	s := New(mgr.GetClient(), mgr.GetLogger().WithName("events"), clock.RealClock{})
	if err := mgr.Add(s); err != nil {
		return nil, err
	}
	return s.NewRecorder(mgr.GetScheme(), reportingController), nil
}

// NewRecorder returns the recorder of reportingController; scheme names the kinds of the objects
// events are about.
func (s *Sink) NewRecorder(scheme *runtime.Scheme, reportingController string) events.EventRecorder {
	return &Recorder{sink: s, scheme: scheme, controller: reportingController,
		instance: reportingController + "-" + s.instance}
}

// NeedLeaderElection is false: a replica that is not the leader records nothing, and one that just
// lost the lead still writes what it recorded.
func (s *Sink) NeedLeaderElection() bool { return false }

// Start writes events until ctx ends, then what is still queued for up to drainBudget.
func (s *Sink) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range Writers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.queue:
					s.write(ctx, j)
				}
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainBudget)
	defer cancel()
	for drain.Err() == nil {
		select {
		case j := <-s.queue:
			j.tries = maxTries // no retries at shutdown
			s.write(drain, j)
		default:
			return nil
		}
	}
	return nil
}

// record counts ev into its series, and queues it when it is new or its series needs writing.
func (s *Sink) record(ev *eventsv1.Event) {
	key := fingerprintOf(ev)
	now := s.clock.Now()
	s.mu.Lock()
	s.sweep(now)
	if sr, ok := s.series[key]; ok && now.Sub(sr.last) < SeriesWindow {
		sr.count++
		sr.last = now
		if sr.busy {
			sr.dirty = true // written when the write under way is done
			s.mu.Unlock()
			return
		}
		sr.busy = true
		s.mu.Unlock()
		ev.Name, ev.Namespace = sr.name, sr.namespace
		s.enqueue(job{event: ev, series: sr, repeat: true})
		return
	}
	var sr *series
	if len(s.series) < maxSeries {
		sr = &series{name: ev.Name, namespace: ev.Namespace, count: 1, last: now, busy: true}
		s.series[key] = sr
	}
	s.mu.Unlock()
	s.enqueue(job{event: ev, series: sr})
}

// done follows a write of j's that succeeded or was given up: when the series' count changed
// meanwhile, it is written next.
func (s *Sink) done(j job) {
	if j.series == nil {
		return
	}
	s.mu.Lock()
	if !j.series.dirty {
		j.series.busy = false
		s.mu.Unlock()
		return
	}
	j.series.dirty = false
	s.mu.Unlock()
	s.enqueue(job{event: j.event, series: j.series, repeat: true})
}

// sweep forgets the series that ended, at most once a minute; s.mu is held.
func (s *Sink) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for k, sr := range s.series {
		if now.Sub(sr.last) >= SeriesWindow && !sr.busy {
			delete(s.series, k)
		}
	}
}

// enqueue hands j to the writers, or drops it when the queue is full.
func (s *Sink) enqueue(j job) {
	select {
	case s.queue <- j:
	default:
		if j.series != nil {
			s.mu.Lock()
			j.series.busy, j.series.dirty = false, false
			s.mu.Unlock()
		}
		s.log.Error(nil, "Dropped an event: too many events wait to be written", "reason", j.event.Reason,
			"object", klogRef(j.event.Regarding))
	}
}

// write writes j once, and queues it again later when the API server could not be reached.
func (s *Sink) write(ctx context.Context, j job) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	err := s.send(wctx, j)
	var status apierrors.APIStatus
	switch {
	case err == nil:
		s.done(j)
		return
	case j.repeat && apierrors.IsAlreadyExists(err):
		// Someone created the Event between the patch that missed it and this create: the
		// next try patches it.
	case errors.As(err, &status):
		if !apierrors.IsAlreadyExists(err) { // a name taken twice in the same nanosecond is harmless
			s.log.Error(err, "The API server rejected an event", "reason", j.event.Reason, "object", klogRef(j.event.Regarding))
		}
		s.done(j)
		return
	}
	j.tries++
	if j.tries >= maxTries || ctx.Err() != nil {
		s.log.Error(err, "Unable to write an event, giving up", "reason", j.event.Reason, "object", klogRef(j.event.Regarding), "tries", j.tries)
		s.done(j)
		return
	}
	time.AfterFunc(wait.Jitter(s.retryDelay, 0.25), func() { s.enqueue(j) })
}

// send creates j's Event, or patches the count of its series onto the first one (creating it with
// the series when it is gone).
func (s *Sink) send(ctx context.Context, j job) error {
	ev := j.event.DeepCopy() // j.event stays as recorded, for the writes of its repeats
	if !j.repeat {
		return s.client.Create(ctx, ev)
	}
	s.mu.Lock()
	ev.Series = &eventsv1.EventSeries{Count: j.series.count, LastObservedTime: metav1.NewMicroTime(j.series.last)}
	s.mu.Unlock()
	patch, err := json.Marshal(map[string]any{"series": ev.Series})
	if err != nil {
		return err
	}
	first := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: ev.Name, Namespace: ev.Namespace}}
	err = s.client.Patch(ctx, first, client.RawPatch(types.MergePatchType, patch))
	if !apierrors.IsNotFound(err) {
		return err
	}
	return s.client.Create(ctx, ev)
}

// Recorder records the events of one reporting controller.
type Recorder struct {
	sink       *Sink
	scheme     *runtime.Scheme
	controller string
	instance   string
}

var _ events.EventRecorder = &Recorder{}

// Eventf records an event about regarding (and related, which may be nil), as client-go's
// recorder does: the note is formatted with args, and an event of a type other than Normal or
// Warning, or about an object the scheme does not know, is logged and dropped.
func (r *Recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	now := r.sink.clock.Now()
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		r.sink.log.Error(err, "Unable to refer to the object of an event", "reason", reason)
		return
	}
	if eventtype != corev1.EventTypeNormal && eventtype != corev1.EventTypeWarning {
		r.sink.log.Error(nil, "Unsupported event type", "type", eventtype, "reason", reason)
		return
	}
	var relatedRef *corev1.ObjectReference
	if related != nil {
		relatedRef, _ = reference.GetReference(r.scheme, related)
	}
	namespace := ref.Namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	r.sink.record(&eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()),
			Namespace: namespace,
		},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Related:             relatedRef,
		Note:                truncate(fmt.Sprintf(note, args...), maxNoteLength),
		Type:                eventtype,
	})
}

// fingerprintOf hashes what makes two events the same: type, reason, action, note, reporter, and
// the objects, by identity rather than version (a repeat about an object that changed meanwhile
// is still a repeat).
func fingerprintOf(ev *eventsv1.Event) fingerprint {
	h := sha256.New()
	field := func(s string) {
		_, _ = fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	objRef := func(ref *corev1.ObjectReference) {
		if ref == nil {
			field("-")
			return
		}
		for _, s := range []string{ref.APIVersion, ref.Kind, ref.Namespace, ref.Name, string(ref.UID), ref.FieldPath} {
			field(s)
		}
	}
	for _, s := range []string{ev.Type, ev.Reason, ev.Action, ev.Note, ev.ReportingController, ev.ReportingInstance} {
		field(s)
	}
	objRef(&ev.Regarding)
	objRef(ev.Related)
	var fp fingerprint
	copy(fp[:], h.Sum(nil))
	return fp
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// klogRef names an object in a log line.
func klogRef(ref corev1.ObjectReference) string {
	if ref.Namespace == "" {
		return ref.Kind + "/" + ref.Name
	}
	return ref.Kind + "/" + ref.Namespace + "/" + ref.Name
}

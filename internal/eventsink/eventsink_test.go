package eventsink

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func testScheme(t testing.TB) *k8sruntime.Scheme {
	t.Helper()
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// subject is the object the events are about.
var subject = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "login", Namespace: "team-a", UID: "uid-1", ResourceVersion: "7"}}

// newSink returns a sink writing through c, not started.
func newSink(t testing.TB, c client.Client, clk clock.Clock) (*Sink, *Recorder) {
	t.Helper()
	s := New(c, logr.Discard(), clk)
	s.retryDelay = 10 * time.Millisecond
	return s, s.NewRecorder(c.Scheme(), "test-controller").(*Recorder)
}

// start runs s until the test ends.
func start(t testing.TB, s *Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond for up to 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func listEvents(t testing.TB, c client.Client) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestEventfWritesAnEventsV1Event(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	s, rec := newSink(t, c, clk)
	start(t, s)
	rec.Eventf(subject, nil, corev1.EventTypeNormal, "UserCodeIssued", "IssueUserCode", "Enter %s at %s", "WDJB-MJHT", "https://idp.example/device")

	eventually(t, "the event", func() bool { return len(listEvents(t, c)) == 1 })
	ev := listEvents(t, c)[0]
	host, _ := os.Hostname()
	if ev.Namespace != "team-a" || ev.Type != corev1.EventTypeNormal || ev.Reason != "UserCodeIssued" ||
		ev.Action != "IssueUserCode" || ev.Note != "Enter WDJB-MJHT at https://idp.example/device" ||
		ev.ReportingController != "test-controller" || ev.ReportingInstance != "test-controller-"+host ||
		!ev.EventTime.Time.Equal(clk.Now()) || ev.Series != nil || ev.Related != nil {
		t.Errorf("event = %+v", ev)
	}
	if r := ev.Regarding; r.Kind != "ConfigMap" || r.APIVersion != "v1" || r.Namespace != "team-a" || r.Name != "login" || r.UID != "uid-1" {
		t.Errorf("regarding = %+v", r)
	}
	if !strings.HasPrefix(ev.Name, "login.") {
		t.Errorf("name = %q, want login.<hex time>", ev.Name)
	}
}

func TestEventAboutAClusterScopedObjectGoesToDefault(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	rec.Eventf(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "admin"}}, subject, corev1.EventTypeWarning, "ProviderError", "Discover", "down")

	eventually(t, "the event", func() bool { return len(listEvents(t, c)) == 1 })
	ev := listEvents(t, c)[0]
	if ev.Namespace != metav1.NamespaceDefault || ev.Regarding.Name != "admin" || ev.Related == nil || ev.Related.Name != "login" {
		t.Errorf("event = %+v", ev)
	}
}

// A repeat within SeriesWindow counts on the first Event; after it, a new Event starts.
func TestRepeatsCountOnTheFirstEvent(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	s, rec := newSink(t, c, clk)
	start(t, s)
	emit := func() {
		rec.Eventf(subject, nil, corev1.EventTypeWarning, "ProviderError", "Poll", "The provider answered 503")
	}

	emit()
	eventually(t, "the first event", func() bool { return len(listEvents(t, c)) == 1 })
	for range 2 {
		clk.Step(time.Minute)
		emit()
	}
	eventually(t, "a series of 3", func() bool {
		evs := listEvents(t, c)
		return len(evs) == 1 && evs[0].Series != nil && evs[0].Series.Count == 3
	})
	if got := listEvents(t, c)[0].Series.LastObservedTime; !got.Time.Equal(clk.Now()) {
		t.Errorf("lastObservedTime = %v, want %v", got, clk.Now())
	}

	clk.Step(SeriesWindow + time.Minute)
	emit()
	eventually(t, "a second event after the window", func() bool { return len(listEvents(t, c)) == 2 })
}

// A repeat while the first Event is still being created waits for that create, instead of racing
// it with a patch that misses the Event and a second create that collides with the first.
func TestARepeatWaitsForTheFirstCreate(t *testing.T) {
	release := make(chan struct{})
	var creates, patches atomic.Int32
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if creates.Add(1) == 1 {
				<-release
			}
			return c.Create(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			patches.Add(1)
			return c.Patch(ctx, obj, patch, opts...)
		}}).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the sink stops: its writer may be the one blocked
	for range 3 {
		rec.Eventf(subject, nil, corev1.EventTypeWarning, "ProviderError", "Poll", "The provider answered 503")
	}
	eventually(t, "the first create", func() bool { return creates.Load() >= 1 })
	time.Sleep(50 * time.Millisecond)
	if got := patches.Load(); got != 0 {
		t.Fatalf("%d patches while the first Event was being created", got)
	}
	unblock()
	eventually(t, "one Event with a series of 3", func() bool {
		evs := listEvents(t, c)
		return len(evs) == 1 && evs[0].Series != nil && evs[0].Series.Count == 3
	})
	if creates.Load() != 1 || patches.Load() != 1 {
		t.Errorf("%d creates and %d patches, want 1 and 1", creates.Load(), patches.Load())
	}
}

// client-go's broadcaster folds events that differ only in their note into one series, which would
// hide a second user code behind the first one's event.
func TestANewNoteIsANewEvent(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	rec.Eventf(subject, nil, corev1.EventTypeNormal, "UserCodeIssued", "IssueUserCode", "Enter %s", "AAAA-AAAA")
	rec.Eventf(subject, nil, corev1.EventTypeNormal, "UserCodeIssued", "IssueUserCode", "Enter %s", "BBBB-BBBB")

	eventually(t, "two events", func() bool { return len(listEvents(t, c)) == 2 })
	notes := map[string]bool{}
	for _, ev := range listEvents(t, c) {
		notes[ev.Note] = ev.Series == nil
	}
	if !notes["Enter AAAA-AAAA"] || !notes["Enter BBBB-BBBB"] {
		t.Errorf("notes = %v, want both codes, without series", notes)
	}
}

func TestUnsupportedEventsAreDropped(t *testing.T) {
	var creates atomic.Int32
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			creates.Add(1)
			return c.Create(ctx, obj, opts...)
		}}).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	rec.Eventf(subject, nil, "Bogus", "Reason", "Action", "note")
	rec.Eventf(&unknownKind{}, nil, corev1.EventTypeNormal, "Reason", "Action", "note")
	rec.Eventf(subject, nil, corev1.EventTypeNormal, "Marker", "Action", "note")

	eventually(t, "the marker event", func() bool { return creates.Load() >= 1 })
	time.Sleep(50 * time.Millisecond)
	if evs := listEvents(t, c); len(evs) != 1 || evs[0].Reason != "Marker" || creates.Load() != 1 {
		t.Errorf("events = %v, creates = %d; want only the marker", evs, creates.Load())
	}
}

// unknownKind is a kind no scheme knows.
type unknownKind struct{ metav1.ObjectMeta }

func (u *unknownKind) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (u *unknownKind) DeepCopyObject() k8sruntime.Object {
	c := *u
	return &c
}

// A burst of events is written by Writers writers at a time, never one goroutine each.
func TestWritersAreBounded(t *testing.T) {
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			raiseTo(&most, n)
			<-release
			return c.Create(ctx, obj, opts...)
		}}).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	const n = 50
	for i := range n {
		rec.Eventf(subject, nil, corev1.EventTypeNormal, "UserCodeIssued", "IssueUserCode", "code %d", i)
	}
	eventually(t, "the writers to be busy", func() bool { return inFlight.Load() == Writers })
	time.Sleep(50 * time.Millisecond)
	if got := most.Load(); got != Writers {
		t.Fatalf("%d writes at once, want %d", got, Writers)
	}
	close(release)
	eventually(t, "every event", func() bool { return len(listEvents(t, c)) == n })
	if got := most.Load(); got != Writers {
		t.Errorf("%d writes at once, want %d", got, Writers)
	}
}

// raiseTo sets v to n when n is larger.
func raiseTo(v *atomic.Int32, n int32) {
	for m := v.Load(); n > m; m = v.Load() {
		if v.CompareAndSwap(m, n) {
			return
		}
	}
}

// Recording never blocks: beyond QueueSize waiting events, more are dropped.
func TestAFullQueueDropsInsteadOfBlocking(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	s, rec := newSink(t, c, clock.RealClock{}) // not started: nothing is written
	done := make(chan struct{})
	go func() {
		for i := range QueueSize + 10 {
			rec.Eventf(subject, nil, corev1.EventTypeNormal, "UserCodeIssued", "IssueUserCode", "code %d", i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Eventf blocked on a full queue")
	}
	if got := len(s.queue); got != QueueSize {
		t.Errorf("%d events queued, want %d", got, QueueSize)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	var tries atomic.Int32
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if tries.Add(1) <= 2 {
				return errors.New("connect: connection refused")
			}
			return c.Create(ctx, obj, opts...)
		}}).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	rec.Eventf(subject, nil, corev1.EventTypeNormal, "Authorized", "Poll", "approved")
	eventually(t, "the event after two failures", func() bool { return len(listEvents(t, c)) == 1 })
	if got := tries.Load(); got != 3 {
		t.Errorf("%d tries, want 3", got)
	}
}

func TestRejectedEventsAreNotRetried(t *testing.T) {
	var tries atomic.Int32
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			tries.Add(1)
			return apierrors.NewForbidden(schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "x", errors.New("no"))
		}}).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	rec.Eventf(subject, nil, corev1.EventTypeNormal, "Authorized", "Poll", "approved")
	eventually(t, "the first try", func() bool { return tries.Load() == 1 })
	time.Sleep(100 * time.Millisecond) // ten retry delays
	if got := tries.Load(); got != 1 {
		t.Errorf("%d tries of a rejected event, want 1", got)
	}
}

// A repeat whose first Event is gone (deleted, or expired) creates it again, with its count.
func TestARepeatRecreatesAMissingFirstEvent(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	emit := func() { rec.Eventf(subject, nil, corev1.EventTypeWarning, "RefreshFailed", "Refresh", "503") }
	emit()
	eventually(t, "the first event", func() bool { return len(listEvents(t, c)) == 1 })
	first := listEvents(t, c)[0]
	if err := c.Delete(context.Background(), &first); err != nil {
		t.Fatal(err)
	}
	emit()
	eventually(t, "the event again, with its count", func() bool {
		evs := listEvents(t, c)
		return len(evs) == 1 && evs[0].Name == first.Name && evs[0].Series != nil && evs[0].Series.Count == 2 && evs[0].Note == "503"
	})
}

func TestLongNotesAreCut(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	rec.Eventf(subject, nil, corev1.EventTypeWarning, "ProviderError", "Poll", "%s", strings.Repeat("é", 1000))
	eventually(t, "the event", func() bool { return len(listEvents(t, c)) == 1 })
	note := listEvents(t, c)[0].Note
	if len(note) > maxNoteLength || !utf8.ValidString(note) || !strings.HasSuffix(note, "é...") {
		t.Errorf("note of %d bytes, valid UTF-8 %v, ends %q", len(note), utf8.ValidString(note), note[len(note)-8:])
	}
}

// Events recorded before the manager stops are still written.
func TestQueuedEventsAreWrittenAtShutdown(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	for i := range 3 {
		rec.Eventf(subject, nil, corev1.EventTypeNormal, "Revoked", "Delete", "token %d revoked", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(listEvents(t, c)); got != 3 {
		t.Errorf("%d events written at shutdown, want 3", got)
	}
}

// The sink keeps a fingerprint and a counter per event, not the event: client-go's broadcaster
// keeps a deep copy of each for 6 to 12 minutes, about 1.4 KiB apiece with the operator's events.
func TestNoCopyOfAWrittenEventIsKept(t *testing.T) {
	var written atomic.Int32
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			written.Add(1) // the API server keeps it, not this process
			return nil
		}}).Build()
	s, rec := newSink(t, c, clock.RealClock{})
	start(t, s)
	const n = 5000
	note := "Enter the code %s at https://idp.example/device?user_code=%[1]s for the scopes openid, offline_access, " +
		"profile and email; it expires at 2026-11-29T12:15:00Z. ClusterOAuthProvider example asks for it."
	before := heapAfterGC()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec.Eventf(subject, nil, corev1.EventTypeNormal, "UserCodeIssued", "IssueUserCode", note, strings.Repeat("K", 4)+"-"+itoa(i))
		})
		if i%Writers == 0 {
			wg.Wait() // never more than the queue holds
		}
	}
	wg.Wait()
	eventually(t, "every event written", func() bool { return written.Load() == n })
	var perEvent uint64
	if after := heapAfterGC(); after > before {
		perEvent = (after - before) / n
	}
	runtime.KeepAlive(s)
	if perEvent > 400 {
		t.Errorf("%d bytes kept per written event, want at most 400", perEvent)
	}
	t.Logf("%d bytes kept per written event", perEvent)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

package eventsink

import (
	"context"
	"os"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestEventsOnARealAPIServer writes through kube-apiserver and etcd (envtest), whose validation the
// fake client does not have: an Event is created as events.k8s.io/v1 (and listed as core/v1, as
// kubectl describe reads it), a repeat patches its series onto it, and a new note is an Event of its
// own.
func TestEventsOnARealAPIServer(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" && os.Getenv("CI") != "true" {
		t.Skip("KUBEBUILDER_ASSETS is not set (make test sets it; CI never skips)")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "login", Namespace: metav1.NamespaceDefault}}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	s := New(c, logr.Discard(), clock.RealClock{})
	start(t, s)
	rec := s.NewRecorder(c.Scheme(), "devicelogin-controller")

	coreEvents := func() []corev1.Event {
		var list corev1.EventList
		if err := c.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	for range 3 {
		rec.Eventf(cm, nil, corev1.EventTypeWarning, "ProviderError", "Poll", "The provider answered %d", 503)
	}
	eventually(t, "one Event with a series of 3", func() bool {
		evs := coreEvents()
		return len(evs) == 1 && evs[0].Series != nil && evs[0].Series.Count == 3
	})
	ev := coreEvents()[0]
	if ev.Reason != "ProviderError" || ev.Message != "The provider answered 503" || ev.Type != corev1.EventTypeWarning ||
		ev.InvolvedObject.Name != "login" || ev.InvolvedObject.UID != cm.UID || ev.ReportingController != "devicelogin-controller" {
		t.Errorf("event = %+v", ev)
	}

	rec.Eventf(cm, nil, corev1.EventTypeWarning, "ProviderError", "Poll", "The provider answered %d", 502)
	eventually(t, "a second Event for the new message", func() bool { return len(coreEvents()) == 2 })
}

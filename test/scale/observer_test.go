package main

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

func TestObserverLogins(t *testing.T) {
	o := newObserver()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dl := &authv1alpha1.DeviceLogin{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	key := client.ObjectKeyFromObject(dl)
	o.onLogin(dl.DeepCopy(), t0)
	if seen, ok := o.login(key); !ok || seen.UserCode != "" {
		t.Fatalf("after create: %+v %v", seen, ok)
	}
	dl.Status.UserCode = "BCDF-GHJK"
	o.onLogin(dl.DeepCopy(), t0.Add(time.Second))
	dl.Status.UserCode = "LMNP-QRST" // a second code does not move the first sighting
	refresh := metav1.NewTime(t0.Add(time.Hour))
	dl.Status.NextRefreshTime = &refresh
	o.onLogin(dl.DeepCopy(), t0.Add(2*time.Second))
	seen, _ := o.login(key)
	if seen.UserCode != "BCDF-GHJK" || !seen.UserCodeAt.Equal(t0.Add(time.Second)) || !seen.NextRefresh.Equal(refresh.Time) {
		t.Errorf("seen %+v", seen)
	}
	o.onLoginDeleted(toolscache.DeletedFinalStateUnknown{Key: "ns/a", Obj: dl.DeepCopy()})
	if seen, _ := o.login(key); !seen.Deleted {
		t.Errorf("a tombstone did not mark the DeviceLogin deleted")
	}
	other := client.ObjectKey{Namespace: "ns", Name: "b"}
	if n := o.count([]client.ObjectKey{key, other}, func(s loginSeen, _ bool) bool { return s.UserCode != "" }); n != 1 {
		t.Errorf("count = %d", n)
	}
}

func TestObserverSecrets(t *testing.T) {
	o := newObserver()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	key := client.ObjectKeyFromObject(s)
	o.onSecret(s.DeepCopy(), t0)
	if _, ok := o.secretAt(key); ok {
		t.Fatalf("a Secret without a token counted")
	}
	s.Data = map[string][]byte{"access_token": []byte("x")}
	o.onSecret(s.DeepCopy(), t0.Add(time.Second))
	s.Data["access_token"] = []byte("y") // a refresh: the first sighting stays
	o.onSecret(s.DeepCopy(), t0.Add(time.Minute))
	if at, ok := o.secretAt(key); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("secret seen at %v, %v", at, ok)
	}
	if n := o.count([]client.ObjectKey{key}, func(_ loginSeen, secret bool) bool { return secret }); n != 1 {
		t.Errorf("count = %d", n)
	}
}

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// loginSeen is what the benchmark saw of one DeviceLogin through its watch.
type loginSeen struct {
	// UserCode is the first user code seen in status, and UserCodeAt when it was seen.
	UserCode   string
	UserCodeAt time.Time
	// NextRefresh is status.nextRefreshTime as last seen.
	NextRefresh time.Time
	Deleted     bool
}

// observer watches DeviceLogins and their token Secrets and stamps what it sees with the local
// clock, which is also the test provider's clock: a user looking at status, a pod waiting for
// its Secret.
type observer struct {
	mu      sync.Mutex
	logins  map[client.ObjectKey]*loginSeen
	secrets map[client.ObjectKey]time.Time // when a Secret was first seen holding access_token
}

func newObserver() *observer {
	return &observer{logins: map[client.ObjectKey]*loginSeen{}, secrets: map[client.ObjectKey]time.Time{}}
}

// start watches DeviceLogins and labelled Secrets in namespaces until ctx ends.
func (o *observer) start(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, namespaces ...string) error {
	owned, err := labels.NewRequirement(authv1alpha1.DeviceLoginLabel, selection.Exists, nil)
	if err != nil {
		return err
	}
	nss := map[string]cache.Config{}
	for _, ns := range namespaces {
		nss[ns] = cache.Config{}
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: nss, ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: labels.NewSelector().Add(*owned)},
	}})
	if err != nil {
		return err
	}
	for _, w := range []struct {
		obj client.Object
		h   toolscache.ResourceEventHandlerFuncs
	}{
		{&authv1alpha1.DeviceLogin{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.onLogin(obj, time.Now()) },
			UpdateFunc: func(_, obj any) { o.onLogin(obj, time.Now()) },
			DeleteFunc: o.onLoginDeleted,
		}},
		{&corev1.Secret{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.onSecret(obj, time.Now()) },
			UpdateFunc: func(_, obj any) { o.onSecret(obj, time.Now()) },
		}},
	} {
		inf, err := c.GetInformer(ctx, w.obj)
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(w.h); err != nil {
			return err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("the benchmark's watches did not sync")
	}
	return nil
}

func (o *observer) onLogin(obj any, now time.Time) {
	dl, ok := obj.(*authv1alpha1.DeviceLogin)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	key := client.ObjectKeyFromObject(dl)
	seen := o.logins[key]
	if seen == nil {
		seen = &loginSeen{}
		o.logins[key] = seen
	}
	if seen.UserCode == "" && dl.Status.UserCode != "" {
		seen.UserCode, seen.UserCodeAt = dl.Status.UserCode, now
	}
	seen.NextRefresh = time.Time{}
	if t := dl.Status.NextRefreshTime; t != nil {
		seen.NextRefresh = t.Time
	}
}

func (o *observer) onLoginDeleted(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	dl, ok := obj.(*authv1alpha1.DeviceLogin)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if seen := o.logins[client.ObjectKeyFromObject(dl)]; seen != nil {
		seen.Deleted = true
	}
}

func (o *observer) onSecret(obj any, now time.Time) {
	s, ok := obj.(*corev1.Secret)
	if !ok || len(s.Data["access_token"]) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	key := client.ObjectKeyFromObject(s)
	if _, seen := o.secrets[key]; !seen {
		o.secrets[key] = now
	}
}

// login is a copy of what was seen of a DeviceLogin, if anything.
func (o *observer) login(key client.ObjectKey) (loginSeen, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	seen, ok := o.logins[key]
	if !ok {
		return loginSeen{}, false
	}
	return *seen, true
}

// secretAt is when the Secret was first seen with a token.
func (o *observer) secretAt(key client.ObjectKey) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.secrets[key]
	return t, ok
}

// count counts the keys for which f holds.
func (o *observer) count(keys []client.ObjectKey, f func(seen loginSeen, secret bool) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, k := range keys {
		var seen loginSeen
		if p := o.logins[k]; p != nil {
			seen = *p
		}
		_, secret := o.secrets[k]
		if f(seen, secret) {
			n++
		}
	}
	return n
}

package main

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// flows creates N DeviceLogins at once and runs N naive flows beside them; every code is
// approved at its offset after issuance. It ends when every token is in hand, or after
// cfg.PhaseTimeout.
func (b *bench) flows(ctx context.Context) {
	n := b.cfg.N
	b.say("flows: creating %d DeviceLogins and starting %d naive flows", n, n)
	m0 := b.metrics(ctx)
	start := time.Now()
	phaseCtx, cancel := context.WithTimeout(ctx, b.cfg.PhaseTimeout)
	defer cancel()
	naiveDone := make(chan []naiveResult, 1)
	go func() {
		naiveDone <- runNaive(phaseCtx, b.idp.DeviceAuthorizationURL(), b.idp.TokenURL(), "test-client", n)
	}()
	b.flowKeys = b.createLogins(phaseCtx, nsFlows, scopeFlow, n)

	var naive []naiveResult
	secrets := func() int { return b.obs.count(b.flowKeys, func(_ loginSeen, secret bool) bool { return secret }) }
	lastSay := time.Now()
	for naive == nil || secrets() < n {
		select {
		case naive = <-naiveDone:
		case <-time.After(250 * time.Millisecond):
		case <-phaseCtx.Done():
			b.res.note("flows: stopped after %s with %d of %d token Secrets", b.cfg.PhaseTimeout, secrets(), n)
			cancel()
			if naive == nil {
				naive = <-naiveDone
			}
		}
		if phaseCtx.Err() != nil {
			break
		}
		if time.Since(lastSay) > 10*time.Second {
			b.say("flows: %d of %d token Secrets, naive client done: %v", secrets(), n, naive != nil)
			lastSay = time.Now()
		}
	}
	b.res.FlowsDuration = time.Since(start)
	b.res.FlowsRequests = b.metrics(ctx).Requests.sub(m0.Requests)

	tls := b.idp.CodeTimelines()
	inHand := map[string]time.Time{}
	for _, key := range b.flowKeys {
		seen, _ := b.obs.login(key)
		if at, ok := b.obs.secretAt(key); ok && seen.UserCode != "" {
			inHand[seen.UserCode] = at
		}
		b.mu.Lock()
		created := b.createdAt[key]
		b.mu.Unlock()
		if seen.UserCode != "" {
			b.res.CreateToUserCode = append(b.res.CreateToUserCode, seen.UserCodeAt.Sub(created))
		}
	}
	b.res.Op = clientFiguresFrom(tls, scopeFlow, b.res.Interval, inHand)
	b.res.Secrets = secrets()
	naiveInHand := map[string]time.Time{}
	for _, r := range naive {
		if r.Err != nil {
			b.res.NaiveErrors++
			continue
		}
		b.res.NaiveTokens++
		naiveInHand[r.UserCode] = r.TokenAt
	}
	b.res.Naive = clientFiguresFrom(tls, scopeNaive, b.res.Interval, naiveInHand)
	if b.res.NaiveErrors > 0 {
		b.res.note("flows: %d naive flows failed", b.res.NaiveErrors)
	}
	b.cpuPhase("flows")
	b.say("flows: done in %s", secs(b.res.FlowsDuration))
}

// idle counts the API requests of cfg.IdleWindow in which nothing is due: every token held,
// no code pending, no refresh near. It starts once the work queues are empty.
func (b *bench) idle(ctx context.Context) {
	b.say("idle: waiting for empty work queues, then counting for %s", b.cfg.IdleWindow)
	b.quietQueues(ctx, time.Minute)
	m0 := b.metrics(ctx)
	start := time.Now()
	if sleep(ctx, b.cfg.IdleWindow) != nil {
		return
	}
	m1 := b.metrics(ctx)
	if m0.Requests != nil && m1.Requests != nil {
		b.res.IdleWindow = time.Since(start)
		b.res.IdleRequests = m1.Requests.sub(m0.Requests)
	}
	b.res.RSSFlows = b.usage().PeakRSS
	b.cpuPhase("idle")
	b.resetPeak()
}

// pending creates N more DeviceLogins whose codes nobody approves and counts, over
// cfg.PendingWindow, the API requests per poll at the provider; then deletes them.
func (b *bench) pending(ctx context.Context) {
	n := b.cfg.N
	b.say("pending: creating %d DeviceLogins nobody approves", n)
	keys := b.createLogins(ctx, nsPending, scopePending, n)
	coded := func() int { return b.obs.count(keys, func(s loginSeen, _ bool) bool { return s.UserCode != "" }) }
	if err := b.until(ctx, b.cfg.PhaseTimeout, "a user code in every pending DeviceLogin", func() (bool, error) {
		return coded() == n, nil
	}); err != nil {
		b.res.note("pending: %d of %d DeviceLogins had a user code: %v", coded(), n, err)
	}
	// One interval more, so that every code is in its steady polling rhythm.
	if sleep(ctx, b.res.Interval+time.Second) != nil {
		return
	}
	b.say("pending: counting for %s", b.cfg.PendingWindow)
	m0, from := b.metrics(ctx), time.Now()
	b.res.PendingCodes = coded()
	if sleep(ctx, b.cfg.PendingWindow) != nil {
		return
	}
	m1, to := b.metrics(ctx), time.Now()
	if m0.Requests != nil && m1.Requests != nil {
		b.res.PendingWindow = to.Sub(from)
		b.res.PendingRequests = m1.Requests.sub(m0.Requests)
		b.res.PendingTraffic = trafficBetween(b.idp.Requests(), from, to)
	}
	if t := b.res.PendingTraffic; t.Refreshes > 0 || t.NewCodes > 0 {
		b.res.note("pending: the window also saw %d refreshes and %d new codes", t.Refreshes, t.NewCodes)
	}
	b.res.RSSPending = b.usage().PeakRSS
	b.cpuPhase("pending")

	b.say("pending: deleting them")
	if err := b.c.DeleteAllOf(ctx, &authv1alpha1.DeviceLogin{}, client.InNamespace(nsPending)); err != nil {
		b.res.note("pending: deleting: %v", err)
	}
	if err := b.until(ctx, b.cfg.PhaseTimeout, "the pending DeviceLogins to be gone", func() (bool, error) {
		var list authv1alpha1.DeviceLoginList
		err := b.c.List(ctx, &list, client.InNamespace(nsPending))
		return err == nil && len(list.Items) == 0, err
	}); err != nil {
		b.res.note("pending: %v", err)
	}
	b.cpuPhase("delete")
	b.resetPeak()
}

// refresh waits for the flows' tokens to come due and counts the API requests per refresh
// from just before the first is due until every token was refreshed once.
func (b *bench) refresh(ctx context.Context) {
	var first, last time.Time
	for _, key := range b.flowKeys {
		seen, _ := b.obs.login(key)
		if t := seen.NextRefresh; !t.IsZero() {
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
	}
	if first.IsZero() {
		b.res.note("refresh: no DeviceLogin has a nextRefreshTime")
		return
	}
	b.say("refresh: the first is due at %s, the last at %s", first.Format(time.TimeOnly), last.Format(time.TimeOnly))
	if sleep(ctx, time.Until(first.Add(-3*time.Second))) != nil {
		return
	}
	m0, from := b.metrics(ctx), time.Now()
	if err := b.until(ctx, time.Until(last)+b.cfg.PhaseTimeout, "every token to be refreshed", func() (bool, error) {
		granted, refreshed := grantsOf(b.idp.CodeTimelines(), scopeFlow)
		return refreshed == granted, nil
	}); err != nil {
		b.res.note("refresh: %v", err)
	}
	b.quietQueues(ctx, 30*time.Second)
	m1, to := b.metrics(ctx), time.Now()
	tls := b.idp.CodeTimelines()
	if m0.Requests != nil && m1.Requests != nil {
		b.res.RefreshWindow = to.Sub(from)
		b.res.RefreshRequests = m1.Requests.sub(m0.Requests)
		b.res.Refreshes = refreshesBetween(tls, scopeFlow, from, to)
	}
	if early := refreshesBetween(tls, scopeFlow, time.Time{}, from); early > 0 {
		b.res.note("refresh: %d refreshes came before the window", early)
	}
	b.res.RefreshGrants, b.res.RefreshedGrants = grantsOf(tls, scopeFlow)
	wall, aligned := refreshTimes(tls, scopeFlow)
	b.res.RefreshBusiestWall = busiest(wall, spreadWindow)
	b.res.RefreshBusiestAligned = busiest(aligned, spreadWindow)
	b.res.RSSRefresh = b.usage().PeakRSS
	b.cpuPhase("refresh")
}

// memory restarts the manager twice, without and then with cfg.Unrelated unrelated Secrets in
// the cluster, and reads its peak RSS once it has settled.
func (b *bench) memory(ctx context.Context) {
	b.res.UnrelatedSecrets = b.cfg.Unrelated
	b.res.RSSRestart = b.restartAndSettle(ctx, "restart")
	if ctx.Err() != nil || b.res.RSSRestart == 0 {
		return
	}
	b.say("memory: creating %d unrelated Secrets of %d bytes", b.cfg.Unrelated, b.cfg.UnrelatedBytes)
	if err := b.mgr.Stop(); err != nil {
		b.res.note("memory: stopping the manager: %v", err)
		return
	}
	b.createUnrelated(ctx, b.cfg.Unrelated, b.cfg.UnrelatedBytes)
	b.res.RSSRestartUnrelated = b.restartAndSettle(ctx, "restart with Secrets")
}

// restartAndSettle restarts the manager and returns its peak RSS once its work queues are empty
// and it has made no API request for 5 s (at most 3 minutes).
func (b *bench) restartAndSettle(ctx context.Context, phase string) uint64 {
	b.say("memory: %s of the manager", phase)
	if err := b.mgr.Stop(); err != nil {
		b.res.note("memory: stopping the manager: %v", err)
		return 0
	}
	if err := b.mgr.Start(); err != nil {
		b.res.note("memory: starting the manager: %v", err)
		return 0
	}
	b.cpuMark = 0
	var last float64 = -1
	var since time.Time
	if err := b.until(ctx, 3*time.Minute, "the restarted manager to settle", func() (bool, error) {
		m, err := scrape(ctx, b.metricsURL)
		if err != nil || m.QueueDepth > 0 || m.Requests.total() != last {
			last, since = m.Requests.total(), time.Now()
			return false, err
		}
		return time.Since(since) >= 5*time.Second, nil
	}); err != nil {
		b.res.note("memory: %v", err)
	}
	peak := b.usage().PeakRSS
	b.cpuPhase(phase)
	return peak
}

// quietQueues waits until the manager's work queues are empty, at most timeout.
func (b *bench) quietQueues(ctx context.Context, timeout time.Duration) {
	if err := b.until(ctx, timeout, "empty work queues", func() (bool, error) {
		m, err := scrape(ctx, b.metricsURL)
		return err == nil && m.QueueDepth == 0, err
	}); err != nil {
		b.res.note("%v", err)
	}
}

// resetPeak resets the manager's VmHWM so that the next phase's peak is its own.
func (b *bench) resetPeak() {
	err := resetPeak(b.mgr.Process().Pid())
	b.res.RSSReset = err == nil
	if err != nil {
		b.res.note("resetting the peak RSS: %v (later peaks include earlier phases)", err)
	}
}

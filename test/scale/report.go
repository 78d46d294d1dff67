package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// The goals of issue 12, as the report checks them.
const (
	goalExcessP99        = 500 * time.Millisecond
	goalCreateToCodeP99  = 5 * time.Second
	goalRequestsPerPoll  = 0.1
	goalWritesPerRefresh = 4 // 3 API writes plus the TokenRefreshed event
	goalPeakRSS          = 64 << 20
	goalRSSGrowth        = 0.10 // with the unrelated Secrets, relative
	goalBusiestShare     = 0.25 // of the refreshes, in the busiest 5 s
	spreadWindow         = 5 * time.Second
)

// row is one line of the table.
type row struct{ Figure, Operator, Naive, Goal, Met string }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// quantile formats a percentile, or n/a.
func quantile(ds []time.Duration, q float64) string {
	if v, ok := percentile(ds, q); ok {
		return secs(v)
	}
	return "n/a"
}

func average(ds []time.Duration) string {
	if v, ok := mean(ds); ok {
		return secs(v)
	}
	return "n/a"
}

// verdict is "met" or "not met"; an unmeasured figure is not met.
func verdict(measured, ok bool) string {
	if measured && ok {
		return "met"
	}
	return "not met"
}

// rows builds the table.
func (r *results) rows() []row {
	var rows []row
	add := func(figure, op, naive, goal, met string) { rows = append(rows, row{figure, op, naive, goal, met}) }

	opP99, opOK := percentile(r.Op.Excess, 0.99)
	add("excess over the RFC floor, p50", quantile(r.Op.Excess, 0.5), quantile(r.Naive.Excess, 0.5), "–", "–")
	add("excess over the RFC floor, p99", quantile(r.Op.Excess, 0.99), quantile(r.Naive.Excess, 0.99),
		"≤ "+secs(goalExcessP99), verdict(opOK && len(r.Op.Excess) == r.N, opP99 <= goalExcessP99))
	add("approval to token in hand (operator: in the Secret), mean", average(r.Op.ApprovalToToken), average(r.Naive.ApprovalToToken), "–", "–")
	add("approval to token in hand (operator: in the Secret), p99", quantile(r.Op.ApprovalToToken, 0.99), quantile(r.Naive.ApprovalToToken, 0.99), "–", "–")
	c99, cOK := percentile(r.CreateToUserCode, 0.99)
	add("create to user code in status, p50", quantile(r.CreateToUserCode, 0.5), "–", "–", "–")
	add("create to user code in status, p99", quantile(r.CreateToUserCode, 0.99), "–",
		"< "+secs(goalCreateToCodeP99), verdict(cOK && len(r.CreateToUserCode) == r.N, c99 < goalCreateToCodeP99))
	add("tokens delivered", fmt.Sprintf("%d of %d", r.Secrets, r.N), fmt.Sprintf("%d of %d", r.NaiveTokens, r.N),
		"all", verdict(r.N > 0, r.Secrets == r.N))
	add("user codes issued", fmt.Sprintf("%d for %d logins", r.Op.Codes, r.N), fmt.Sprintf("%d for %d flows", r.Naive.Codes, r.N),
		"never a second code", verdict(r.N > 0, r.Op.Codes == r.N))
	add("early polls (slow_down earned)", fmt.Sprint(r.Op.EarlyPolls), fmt.Sprint(r.Naive.EarlyPolls),
		"never an early poll", verdict(r.Op.Codes > 0, r.Op.EarlyPolls == 0))
	add("provider polls per code", perCode(r.Op), perCode(r.Naive), "–", "–")

	polls := float64(r.PendingTraffic.Polls)
	add(fmt.Sprintf("API requests per pending poll (%d codes, %s)", r.PendingCodes, secs(r.PendingWindow)),
		r.PendingRequests.per(polls), "–", fmt.Sprintf("≤ %.1f", goalRequestsPerPoll),
		verdict(r.PendingRequests != nil && polls > 0, r.PendingRequests.total()/polls <= goalRequestsPerPoll))
	refreshes := float64(r.Refreshes)
	perRefresh := r.RefreshRequests.per(refreshes)
	if refreshes > 0 {
		perRefresh += fmt.Sprintf("; writes %.2f", r.RefreshRequests.writes()/refreshes)
	}
	add(fmt.Sprintf("API requests per refresh (%d refreshes)", r.Refreshes), perRefresh, "–",
		fmt.Sprintf("≤ %d writes (3 + its event)", goalWritesPerRefresh),
		verdict(r.RefreshRequests != nil && refreshes > 0, r.RefreshRequests.writes()/refreshes <= goalWritesPerRefresh))
	add(fmt.Sprintf("API requests with nothing due (%s after the flows)", secs(r.IdleWindow)), counts(r.IdleRequests), "–",
		"0", verdict(r.IdleRequests != nil, r.IdleRequests.total() == 0))
	add("API requests per DeviceLogin, flows phase", r.FlowsRequests.per(float64(r.N)), "–", "–", "–")

	peak := max(r.RSSFlows, r.RSSRefresh)
	if !r.RSSReset {
		peak = r.RSSFlows // the refresh phase's figure would include the pending phase's peak
	}
	add(fmt.Sprintf("manager peak RSS, %d logins (flows and refresh phases)", r.N), mibOrNA(peak), "–",
		"≤ "+mib(goalPeakRSS), verdict(peak > 0, peak <= goalPeakRSS))
	growth := "n/a"
	if r.RSSRestart > 0 && r.RSSRestartUnrelated > 0 {
		growth = fmt.Sprintf("%s → %s (%+.1f%%)", mib(r.RSSRestart), mib(r.RSSRestartUnrelated),
			100*(float64(r.RSSRestartUnrelated)/float64(r.RSSRestart)-1))
	}
	add(fmt.Sprintf("manager peak RSS after a restart, without → with %d unrelated Secrets", r.UnrelatedSecrets), growth, "–",
		fmt.Sprintf("within %.0f%%", 100*goalRSSGrowth),
		verdict(r.RSSRestart > 0 && r.RSSRestartUnrelated > 0, float64(r.RSSRestartUnrelated) <= (1+goalRSSGrowth)*float64(r.RSSRestart)))
	add("manager peak RSS, pending phase (N pending + N holding tokens)", mibOrNA(r.RSSPending), "–", "–", "–")
	add("manager CPU seconds, by phase", cpuText(r.CPU), "–", "–", "–")

	add("refresh spread: most first refreshes in 5 s, tokens aligned on issuance", share(r.RefreshBusiestAligned, r.RefreshedGrants), "–",
		fmt.Sprintf("≤ %.0f%%", 100*goalBusiestShare),
		verdict(r.RefreshedGrants > 0 && r.RefreshedGrants == r.RefreshGrants,
			float64(r.RefreshBusiestAligned) <= goalBusiestShare*float64(r.RefreshedGrants)))
	add("refresh spread: most first refreshes in 5 s, wall clock", share(r.RefreshBusiestWall, r.RefreshedGrants), "–", "–", "–")
	return rows
}

func perCode(f clientFigures) string {
	if f.Codes == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(f.Polls)/float64(f.Codes))
}

func counts(c requestCounts) string {
	if c == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", c.total()) + strings.TrimPrefix(c.per(1), fmt.Sprintf("%.2f", c.total()))
}

func mibOrNA(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return mib(b)
}

func share(k, n int) string {
	if n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d of %d (%.0f%%)", k, n, 100*float64(k)/float64(n))
}

func cpuText(ps []phaseCPU) string {
	if len(ps) == 0 {
		return "n/a"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s %.1f", p.Phase, p.Seconds)
	}
	return strings.Join(parts, ", ")
}

// write prints the run's header, the table and the notes as markdown.
func (r *results) write(w io.Writer) {
	fmt.Fprintf(w, "bench-scale: N=%d, manager built from commit %s, %s, %s\n\n", r.N, r.Commit, r.Started.UTC().Format(time.RFC3339), secs(r.Elapsed))
	fmt.Fprintf(w, "Provider interval %s, token lifetime %s, approvals uniform 0.5–4.5 s after issuance. "+
		"Load average at start: %s; at end: %s.\n\n", r.Interval, r.TokenLifetime, r.LoadStart, r.LoadEnd)
	fmt.Fprintln(w, "| figure | operator | naive client | goal (issue 12) | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, x := range r.rows() {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", x.Figure, x.Operator, x.Naive, x.Goal, x.Met)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

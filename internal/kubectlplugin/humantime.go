package kubectlplugin

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// shortDuration writes a positive duration the way a person reads it at a glance, truncated to
// its two largest units: 42s, 4m12s, 3h5m, 2d4h.
func shortDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// timeLeft is how long until the deadline: "4m12s", "expired" once it has passed, "-" when
// there is none.
func timeLeft(now time.Time, deadline *metav1.Time) string {
	if deadline == nil {
		return "-"
	}
	left := deadline.Sub(now)
	if left < time.Second {
		return "expired"
	}
	return shortDuration(left)
}

// when writes an absolute time with how far it lies from now: "2026-11-28T18:20:00Z (in 4m12s)"
// or "2026-11-28T18:20:00Z (3m ago)".
func when(now time.Time, t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	abs := t.UTC().Format(time.RFC3339)
	d := t.Sub(now)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%s (in %s)", abs, shortDuration(d))
	case d <= -time.Second:
		return fmt.Sprintf("%s (%s ago)", abs, shortDuration(-d))
	default:
		return abs + " (now)"
	}
}

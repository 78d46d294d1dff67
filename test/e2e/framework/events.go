package framework

import corev1 "k8s.io/api/core/v1"

// Occurrences counts how many times the events with that reason happened, not how many Event
// objects there are: the events API merges a repeat of an event (same object, reason, action,
// type and reporter, within six minutes) into the first one's object and counts it there
// (events.k8s.io/v1 series.count, which core/v1 shows as series.count; core/v1's own count,
// deprecatedCount in events.k8s.io/v1, for events recorded through the old API).
//
// client-go's recorder writes series.count 2 at the second occurrence and later counts only on
// its 30-minute heartbeat, so the result is exact up to 2 and a lower bound beyond: enough to
// prove "exactly once" and "at least twice", not "exactly three times".
func Occurrences(events []corev1.Event, reason string) int {
	n := 0
	for _, e := range events {
		if e.Reason != reason {
			continue
		}
		count := max(1, int(e.Count))
		if e.Series != nil {
			count = max(count, int(e.Series.Count))
		}
		n += count
	}
	return n
}

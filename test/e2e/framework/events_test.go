package framework

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestOccurrences(t *testing.T) {
	events := []corev1.Event{
		{Reason: "UserCodeIssued"},                                                 // once
		{Reason: "UserCodeIssued", Series: &corev1.EventSeries{Count: 2}},          // merged repeats, events.k8s.io/v1
		{Reason: "UserCodeIssued", Count: 3},                                       // merged repeats, core/v1
		{Reason: "ProviderError", Series: &corev1.EventSeries{Count: 5}, Count: 1}, // another reason
	}
	if got := Occurrences(events, "UserCodeIssued"); got != 6 {
		t.Errorf("Occurrences(UserCodeIssued) = %d, want 6", got)
	}
	if got := Occurrences(events, "ProviderError"); got != 5 {
		t.Errorf("Occurrences(ProviderError) = %d, want 5", got)
	}
	if got := Occurrences(events, "Authorized"); got != 0 {
		t.Errorf("Occurrences(Authorized) = %d, want 0", got)
	}
}

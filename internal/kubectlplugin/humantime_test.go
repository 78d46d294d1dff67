package kubectlplugin

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testNow = time.Date(2026, 11, 28, 18, 15, 48, 0, time.UTC)

func at(d time.Duration) *metav1.Time {
	t := metav1.NewTime(testNow.Add(d))
	return &t
}

func TestShortDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{1 * time.Second, "1s"},
		{59*time.Second + 999*time.Millisecond, "59s"},
		{time.Minute, "1m0s"},
		{4*time.Minute + 12*time.Second, "4m12s"},
		{59*time.Minute + 59*time.Second, "59m59s"},
		{time.Hour, "1h0m"},
		{3*time.Hour + 5*time.Minute + 59*time.Second, "3h5m"},
		{24 * time.Hour, "1d0h"},
		{50*time.Hour + 30*time.Minute, "2d2h"},
	} {
		if got := shortDuration(tc.d); got != tc.want {
			t.Errorf("shortDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestTimeLeft(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline *metav1.Time
		want     string
	}{
		{"no deadline", nil, "-"},
		{"minutes left", at(4*time.Minute + 12*time.Second), "4m12s"},
		{"one second left", at(time.Second), "1s"},
		{"under a second left", at(500 * time.Millisecond), "expired"},
		{"exactly now", at(0), "expired"},
		{"past", at(-3 * time.Minute), "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := timeLeft(testNow, tc.deadline); got != tc.want {
				t.Errorf("timeLeft = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWhen(t *testing.T) {
	for _, tc := range []struct {
		at   *metav1.Time
		want string
	}{
		{nil, "-"},
		{at(52 * time.Minute), "2026-11-28T19:07:48Z (in 52m0s)"},
		{at(-3*time.Minute - 2*time.Second), "2026-11-28T18:12:46Z (3m2s ago)"},
		{at(0), "2026-11-28T18:15:48Z (now)"},
	} {
		if got := when(testNow, tc.at); got != tc.want {
			t.Errorf("when(%v) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// pollSlack is how late the token Secret may be after the poll that can first see an approval:
// the token request, three API writes and a slow machine, and less than any poll interval.
const pollSlack = 3 * time.Second

// expectFirstPollAfter checks that the approval made at approvedAt reached the token Secret
// (at deliveredAt) with the first poll after it. The operator polls every PollInterval seconds
// counted from when the code was issued (the UserCodeIssued event's time, to the microsecond), so
// that poll is due at the first such slot after approvedAt: a controller that waits a whole
// extra cycle delivers a poll interval later and fails.
func expectFirstPollAfter(ctx context.Context, issued *authv1alpha1.DeviceLogin, approvedAt, deliveredAt time.Time) {
	GinkgoHelper()
	evs := events(ctx, issued.Name, "UserCodeIssued")
	Expect(framework.Occurrences(evs, "UserCodeIssued")).To(Equal(1), "one code was issued")
	issuedAt := evs[0].EventTime.Time
	Expect(issuedAt.IsZero()).To(BeFalse(), "the UserCodeIssued event has an eventTime")
	interval := time.Duration(issued.Status.PollInterval) * time.Second
	slots := approvedAt.Sub(issuedAt)/interval + 1
	due := issuedAt.Add(slots * interval)
	fmt.Fprintf(GinkgoWriter, "Code issued at %s; approved %s later; the next poll was due %s after the approval; the Secret came %s after it\n",
		issuedAt.UTC().Format(time.RFC3339Nano), approvedAt.Sub(issuedAt).Round(time.Millisecond),
		due.Sub(approvedAt).Round(time.Millisecond), deliveredAt.Sub(due).Round(time.Millisecond))
	Expect(deliveredAt).To(BeTemporally("<=", due.Add(pollSlack)),
		"the token Secret came %s after the poll that could first see the approval (interval %s)", deliveredAt.Sub(due).Round(time.Millisecond), interval)
	Expect(deliveredAt.Sub(approvedAt)).To(BeNumerically("<=", interval+pollSlack))
}

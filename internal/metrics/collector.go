package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// conditionReady is the DeviceLogin condition the gauges report (controllers.ConditionReady).
const conditionReady = "Ready"

// listTimeout bounds one scrape's list: the cache answers immediately once synced, and waits for the
// sync before that.
const listTimeout = 10 * time.Second

var (
	readyStatusDesc = prometheus.NewDesc("devicelogin_ready_status",
		"The status of a DeviceLogin's Ready condition: 1 on the series of the current status (True, False or "+
			"Unknown, which also stands for no condition yet), 0 on the others.",
		[]string{"namespace", "name", "condition"}, nil)
	readyReasonDesc = prometheus.NewDesc("devicelogin_ready_reason",
		"1 on the series of the current reason of a DeviceLogin's Ready condition (AwaitingApproval, Authorized, "+
			"ReauthorizationRequired, ...); no series before the condition is set.",
		[]string{"namespace", "name", "reason"}, nil)
	awaitingApprovalDesc = prometheus.NewDesc("devicelogin_awaiting_approval",
		"1 while a DeviceLogin publishes a user code that waits for approval, else 0.",
		[]string{"namespace", "name", "provider_kind", "provider"}, nil)
	userCodeExpirationDesc = prometheus.NewDesc("devicelogin_user_code_expiration_timestamp_seconds",
		"When the published user code expires (status.userCodeExpiresAt), in seconds since the epoch.",
		[]string{"namespace", "name"}, nil)
	tokenExpirationDesc = prometheus.NewDesc("devicelogin_token_expiration_timestamp_seconds",
		"When the access token in the token Secret expires (status.tokenExpiresAt), in seconds since the epoch; "+
			"no series for a token that does not expire.",
		[]string{"namespace", "name"}, nil)
	tokenRenewalDesc = prometheus.NewDesc("devicelogin_token_renewal_timestamp_seconds",
		"When the operator refreshes the token next (status.nextRefreshTime), in seconds since the epoch; "+
			"no series while no refresh is scheduled.",
		[]string{"namespace", "name"}, nil)
)

// conditionStatuses are the values of the condition label, in a fixed order.
var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// loginCollector computes the DeviceLogin gauges at scrape time from a list of DeviceLogins, as
// cert-manager's certificate collector does: nothing is kept between scrapes, so a deleted
// DeviceLogin's series vanish with it.
type loginCollector struct {
	reader client.Reader
}

func newLoginCollector(reader client.Reader) *loginCollector {
	return &loginCollector{reader: reader}
}

// Describe sends the descriptors of every gauge.
func (c *loginCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{readyStatusDesc, readyReasonDesc, awaitingApprovalDesc,
		userCodeExpirationDesc, tokenExpirationDesc, tokenRenewalDesc} {
		ch <- d
	}
}

// Collect lists the DeviceLogins and sends their gauges. A failed list is logged and yields no
// DeviceLogin series, as in cert-manager, so that the manager's other metrics are still served.
func (c *loginCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	var list authv1alpha1.DeviceLoginList
	// Read only: the cache's objects need no copy.
	if err := c.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		logf.Log.WithName("metrics").Error(err, "Unable to list DeviceLogins for the metrics")
		return
	}
	for i := range list.Items {
		collectLogin(ch, &list.Items[i])
	}
}

// collectLogin sends the gauges of one DeviceLogin. dl must stay unchanged until the scrape is
// encoded: the gauges' label values point into it.
func collectLogin(ch chan<- prometheus.Metric, dl *authv1alpha1.DeviceLogin) {
	ns := &dto.LabelPair{Name: &labelNamespace, Value: &dl.Namespace}
	name := &dto.LabelPair{Name: &labelName, Value: &dl.Name}
	ready := meta.FindStatusCondition(dl.Status.Conditions, conditionReady)
	current := metav1.ConditionUnknown
	if ready != nil {
		current = ready.Status
	}
	for i, s := range conditionStatuses {
		ch <- &gauge{desc: readyStatusDesc, labels: []*dto.LabelPair{conditionPairs[i], name, ns}, value: boolValue(s == current)}
	}
	if ready != nil && ready.Reason != "" {
		ch <- &gauge{desc: readyReasonDesc, labels: []*dto.LabelPair{name, ns, {Name: &labelReason, Value: &ready.Reason}}, value: 1}
	}

	kind := string(dl.Spec.ProviderRef.Kind)
	if kind == "" {
		kind = string(authv1alpha1.OAuthProviderKind)
	}
	ch <- &gauge{desc: awaitingApprovalDesc, labels: []*dto.LabelPair{name, ns,
		{Name: &labelProvider, Value: &dl.Spec.ProviderRef.Name}, {Name: &labelProviderKind, Value: &kind}},
		value: boolValue(dl.Status.UserCode != "")}

	for _, ts := range []struct {
		desc *prometheus.Desc
		t    *metav1.Time
	}{
		{userCodeExpirationDesc, dl.Status.UserCodeExpiresAt},
		{tokenExpirationDesc, dl.Status.TokenExpiresAt},
		{tokenRenewalDesc, dl.Status.NextRefreshTime},
	} {
		if ts.t != nil && !ts.t.IsZero() {
			ch <- &gauge{desc: ts.desc, labels: []*dto.LabelPair{name, ns}, value: float64(ts.t.Unix())}
		}
	}
}

// Label names, and the condition label's pairs in the order of conditionStatuses: shared by every
// series of every scrape (the registry treats label pairs as immutable).
var (
	labelNamespace, labelName, labelCondition     = "namespace", "name", "condition"
	labelReason, labelProvider, labelProviderKind = "reason", "provider", "provider_kind"
	conditionPairs                                = func() []*dto.LabelPair {
		out := make([]*dto.LabelPair, len(conditionStatuses))
		for i, s := range conditionStatuses {
			v := string(s)
			out[i] = &dto.LabelPair{Name: &labelCondition, Value: &v}
		}
		return out
	}()
)

// gauge is one series of a DeviceLogin gauge, with its label pairs sorted by name as the registry
// expects. It shares the namespace and name pairs with the login's other series, and the label
// values with the DeviceLogin, where prometheus.MustNewConstMetric allocates every pair and value
// of every series again: with a thousand logins a scrape allocated 4.2 MB that way, all garbage
// the moment it ends, and the manager's peak memory is often that of a scrape (BenchmarkScrape,
// docs/performance.md).
type gauge struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
}

func (g *gauge) Desc() *prometheus.Desc { return g.desc }

func (g *gauge) Write(out *dto.Metric) error {
	out.Label = g.labels
	out.Gauge = &dto.Gauge{Value: &g.value}
	return nil
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

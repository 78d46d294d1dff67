package metrics

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

const (
	userCode = "WDJB-MJHT"
	subject  = "alice@example.com"
)

var (
	codeExpires  = time.Date(2026, 11, 28, 18, 20, 0, 0, time.UTC) // 1795890000
	tokenExpires = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)  // 1795892400
	nextRefresh  = time.Date(2026, 11, 28, 18, 40, 0, 0, time.UTC) // 1795891200
)

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(authv1alpha1.AddToScheme(s))
	return s
}

func ready(status metav1.ConditionStatus, reason string) []metav1.Condition {
	return []metav1.Condition{{Type: "Ready", Status: status, Reason: reason, Message: "Visit https://idp.example.com/device and enter code " + userCode,
		LastTransitionTime: metav1.NewTime(codeExpires)}}
}

// testLogins are a DeviceLogin waiting for approval, one authorized, and one no controller has
// looked at yet.
func testLogins() []client.Object {
	pending := &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "pending"},
		Spec:       authv1alpha1.DeviceLoginSpec{ProviderRef: authv1alpha1.ProviderReference{Name: "idp"}},
		Status: authv1alpha1.DeviceLoginStatus{
			Conditions: ready(metav1.ConditionFalse, "AwaitingApproval"),
			UserCode:   userCode, VerificationURI: "https://idp.example.com/device",
			VerificationURIComplete: "https://idp.example.com/device?user_code=" + userCode,
			UserCodeExpiresAt:       &metav1.Time{Time: codeExpires},
		},
	}
	authorized := &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "authorized"},
		Spec: authv1alpha1.DeviceLoginSpec{ProviderRef: authv1alpha1.ProviderReference{
			Kind: authv1alpha1.ClusterOAuthProviderKind, Name: "dex"}},
		Status: authv1alpha1.DeviceLoginStatus{
			Conditions:        ready(metav1.ConditionTrue, "Authorized"),
			AuthorizedSubject: subject,
			TokenExpiresAt:    &metav1.Time{Time: tokenExpires},
			NextRefreshTime:   &metav1.Time{Time: nextRefresh},
			SecretName:        "authorized",
		},
	}
	fresh := &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "fresh"},
		Spec:       authv1alpha1.DeviceLoginSpec{ProviderRef: authv1alpha1.ProviderReference{Name: "idp"}},
	}
	return []client.Object{pending, authorized, fresh}
}

// gaugeNames are the gauges the collector exports.
var gaugeNames = []string{"devicelogin_ready_status", "devicelogin_ready_reason", "devicelogin_awaiting_approval",
	"devicelogin_user_code_expiration_timestamp_seconds", "devicelogin_token_expiration_timestamp_seconds",
	"devicelogin_token_renewal_timestamp_seconds"}

const gaugeHelp = `
# HELP devicelogin_awaiting_approval 1 while a DeviceLogin publishes a user code that waits for approval, else 0.
# TYPE devicelogin_awaiting_approval gauge
# HELP devicelogin_ready_reason 1 on the series of the current reason of a DeviceLogin's Ready condition (AwaitingApproval, Authorized, ReauthorizationRequired, ...); no series before the condition is set.
# TYPE devicelogin_ready_reason gauge
# HELP devicelogin_ready_status The status of a DeviceLogin's Ready condition: 1 on the series of the current status (True, False or Unknown, which also stands for no condition yet), 0 on the others.
# TYPE devicelogin_ready_status gauge
# HELP devicelogin_token_expiration_timestamp_seconds When the access token in the token Secret expires (status.tokenExpiresAt), in seconds since the epoch; no series for a token that does not expire.
# TYPE devicelogin_token_expiration_timestamp_seconds gauge
# HELP devicelogin_token_renewal_timestamp_seconds When the operator refreshes the token next (status.nextRefreshTime), in seconds since the epoch; no series while no refresh is scheduled.
# TYPE devicelogin_token_renewal_timestamp_seconds gauge
# HELP devicelogin_user_code_expiration_timestamp_seconds When the published user code expires (status.userCodeExpiresAt), in seconds since the epoch.
# TYPE devicelogin_user_code_expiration_timestamp_seconds gauge
`

// helpFor keeps the HELP and TYPE lines of the metrics whose series appear in want.
func helpFor(want string) string {
	var out []string
	lines := strings.Split(strings.TrimSpace(gaugeHelp), "\n")
	for i := 0; i < len(lines); i += 2 {
		name := strings.Fields(lines[i])[2]
		if strings.Contains(want, "\n"+name+"{") {
			out = append(out, lines[i], lines[i+1])
		}
	}
	return strings.Join(out, "\n") + "\n"
}

func TestCollectorSeries(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(testLogins()...).Build()
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}

	series := `
devicelogin_awaiting_approval{name="authorized",namespace="team-b",provider="dex",provider_kind="ClusterOAuthProvider"} 0
devicelogin_awaiting_approval{name="fresh",namespace="team-a",provider="idp",provider_kind="OAuthProvider"} 0
devicelogin_awaiting_approval{name="pending",namespace="team-a",provider="idp",provider_kind="OAuthProvider"} 1
devicelogin_ready_reason{name="authorized",namespace="team-b",reason="Authorized"} 1
devicelogin_ready_reason{name="pending",namespace="team-a",reason="AwaitingApproval"} 1
devicelogin_ready_status{condition="False",name="authorized",namespace="team-b"} 0
devicelogin_ready_status{condition="False",name="fresh",namespace="team-a"} 0
devicelogin_ready_status{condition="False",name="pending",namespace="team-a"} 1
devicelogin_ready_status{condition="True",name="authorized",namespace="team-b"} 1
devicelogin_ready_status{condition="True",name="fresh",namespace="team-a"} 0
devicelogin_ready_status{condition="True",name="pending",namespace="team-a"} 0
devicelogin_ready_status{condition="Unknown",name="authorized",namespace="team-b"} 0
devicelogin_ready_status{condition="Unknown",name="fresh",namespace="team-a"} 1
devicelogin_ready_status{condition="Unknown",name="pending",namespace="team-a"} 0
devicelogin_token_expiration_timestamp_seconds{name="authorized",namespace="team-b"} 1.7958924e+09
devicelogin_token_renewal_timestamp_seconds{name="authorized",namespace="team-b"} 1.7958912e+09
devicelogin_user_code_expiration_timestamp_seconds{name="pending",namespace="team-a"} 1.79589e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(helpFor(series)+series), gaugeNames...); err != nil {
		t.Fatal(err)
	}

	// A deleted DeviceLogin leaves no series: nothing is kept between scrapes.
	if err := c.Delete(context.Background(), testLogins()[0]); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, line := range strings.Split(series, "\n") {
		if !strings.Contains(line, `name="pending"`) {
			left = append(left, line)
		}
	}
	series = strings.Join(left, "\n")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(helpFor(series)+series), gaugeNames...); err != nil {
		t.Fatalf("after deleting team-a/pending: %v", err)
	}
}

// TestNoSecretInLabels scrapes everything a registry with DeviceLogins and counters exports, and
// looks for the user code, the subject, and the verification URIs in every label value.
func TestNoSecretInLabels(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(testLogins()...).Build()
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}
	ObserveProviderRequest("OAuthProvider/idp", oauth.EndpointToken, oauth.OutcomeAuthorizationPending)
	ObserveProviderRequest("OAuthProvider/idp", oauth.EndpointToken, "invalid_grant: refresh token "+userCode)
	RecordRefresh("ClusterOAuthProvider/dex", true)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels++
				for _, secret := range []string{userCode, subject, "https://"} {
					if strings.Contains(l.GetValue(), secret) {
						t.Errorf("%s{%s=%q} holds %q", f.GetName(), l.GetName(), l.GetValue(), secret)
					}
				}
			}
		}
	}
	if labels < 40 {
		t.Fatalf("only %d label values scraped", labels)
	}
}

// listOnly is a reader whose List copies a fixed list, for the benchmark: it measures the
// collector, not the fake client's serialisation.
type listOnly struct {
	client.Reader
	items []authv1alpha1.DeviceLogin
}

func (l listOnly) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	list.(*authv1alpha1.DeviceLoginList).Items = l.items
	return nil
}

// scrapeRegistry is a registry with the gauges of n DeviceLogins.
func scrapeRegistry(tb testing.TB, n int) *prometheus.Registry {
	var items []authv1alpha1.DeviceLogin
	for i := range n {
		dl := testLogins()[i%3].(*authv1alpha1.DeviceLogin).DeepCopy()
		dl.Name = fmt.Sprintf("%s-%d", dl.Name, i)
		items = append(items, *dl)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(newLoginCollector(listOnly{items: items})); err != nil {
		tb.Fatal(err)
	}
	return reg
}

// A scrape's garbage is often the manager's peak memory: the gauges share their label pairs and
// values instead of allocating them per series (4.2 KB per DeviceLogin with
// prometheus.MustNewConstMetric, 2.2 KB now; BenchmarkScrape measures it).
func TestScrapeAllocatesLittlePerLogin(t *testing.T) {
	const n = 1000
	reg := scrapeRegistry(t, n)
	if _, err := reg.Gather(); err != nil { // the registry's own first-time allocations
		t.Fatal(err)
	}
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	for range 3 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	goruntime.ReadMemStats(&after)
	if perLogin := (after.TotalAlloc - before.TotalAlloc) / 3 / n; perLogin > 3000 {
		t.Errorf("a scrape allocates %d bytes per DeviceLogin, want at most 3000", perLogin)
	}
}

// BenchmarkScrape gathers the gauges of 1000 DeviceLogins.
func BenchmarkScrape(b *testing.B) {
	reg := scrapeRegistry(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

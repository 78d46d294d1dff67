package controllers

// The leak scan that runs after the whole envtest suite (AfterSuite in suite_test.go): every value
// the suite's providers issued, searched for in every place the operator writes to that is not
// meant to hold it.

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/providersim"
)

// leakScanMinimums is how many values of each kind a full run of the suite issues at least, so
// that a scan of an empty or shrunken list cannot pass. Device codes and client secrets are
// fixed by the specs (85 and 4 in every measured run); tokens vary with how many refreshes the
// short-lived ones get in while the suite runs (45 to 84 access, 40 to 79 refresh and 32 to 70 ID
// tokens in three runs), so their floors sit well below the least of those.
var leakScanMinimums = map[string]int{
	"access tokens": 25, "refresh tokens": 20, "ID tokens": 15, "device codes": 60, "client secrets": 3,
}

// issuedValues collects, by kind, every value the suite's providers issued (the strict test
// providers and the Presets specs' simulations) and every client secret the specs used.
func issuedValues() map[string][]string {
	idpsMu.Lock()
	sims := make([]*providersim.Server, 0, len(idps)+len(presetSims))
	for _, s := range idps {
		sims = append(sims, s.Server)
	}
	idpsMu.Unlock()
	sims = append(sims, presetSims...)
	kinds := map[string][]string{"client secrets": slices.Clone(clientSecrets)}
	for _, s := range sims {
		kinds["access tokens"] = append(kinds["access tokens"], s.AccessTokens()...)
		kinds["refresh tokens"] = append(kinds["refresh tokens"], s.RefreshTokens()...)
		kinds["ID tokens"] = append(kinds["ID tokens"], s.IDTokens()...)
		kinds["device codes"] = append(kinds["device codes"], s.DeviceCodes()...)
		if c := s.ClientSecret(); c != "" {
			kinds["client secrets"] = append(kinds["client secrets"], c)
		}
	}
	for k, v := range kinds {
		slices.Sort(v)
		kinds[k] = slices.Compact(v)
	}
	return kinds
}

// fullRun says whether every spec of the suite was selected to run.
func fullRun() bool {
	c, _ := GinkgoConfiguration()
	return len(c.FocusStrings)+len(c.SkipStrings)+len(c.FocusFiles)+len(c.SkipFiles) == 0 && c.LabelFilter == ""
}

// scanForLeaks searches the manager's logs (at the highest verbosity), every event, every
// DeviceLogin, OAuthProvider and ClusterOAuthProvider, and every Secret that is not the operator's
// own for every access, refresh and ID token and device code the test providers issued and every
// client secret the specs used. It runs after all specs, whatever their order; on a full run it
// first checks that there is something to search for: leakScanMinimums values of each kind.
func scanForLeaks() {
	ctx := context.Background()
	kinds := issuedValues()
	total := 0
	for kind, values := range kinds {
		total += len(values)
		GinkgoWriter.Printf("MEASURE leak scan: %d %s\n", len(values), kind)
	}
	if fullRun() {
		for kind, least := range leakScanMinimums {
			Expect(len(kinds[kind])).To(BeNumerically(">=", least), "the specs issued too few %s for the leak scan to mean anything", kind)
		}
	} else if total == 0 {
		return // a focused run of specs that talk to no provider
	}

	texts, items := leakTexts(ctx)
	found := 0
	for kind, values := range kinds {
		for _, v := range values {
			for where, text := range texts {
				if where == "Secrets" && kind == "client secrets" {
					continue
				}
				if containsAnyEncoding(text, v) {
					found++
					GinkgoWriter.Printf("LEAK: one of the %s (length %d) appears in %s\n", kind, len(v), where)
				}
			}
		}
	}
	GinkgoWriter.Printf("MEASURE leak scan: %d secret values, %d log bytes, %d events, %d DeviceLogins, %d providers, %d foreign Secrets; %d found\n",
		total, len(texts["logs"]), items["events"], items["DeviceLogins"], items["OAuthProviders"]+items["ClusterOAuthProviders"], items["Secrets"], found)
	Expect(found).To(BeZero())
}

// leakTexts is every place the operator writes to that must hold no issued value, as text: the
// manager's logs (at the highest verbosity, with client-go's hex dumps decoded), every event, every
// DeviceLogin, OAuthProvider and ClusterOAuthProvider, and every Secret that is not the operator's
// own ("Secrets"). items counts the objects in each place.
func leakTexts(ctx context.Context) (texts map[string]string, items map[string]int) {
	var events corev1.EventList
	Expect(k8s.List(ctx, &events)).To(Succeed())
	var logins authv1alpha1.DeviceLoginList
	Expect(k8s.List(ctx, &logins)).To(Succeed())
	var providers authv1alpha1.OAuthProviderList
	Expect(k8s.List(ctx, &providers)).To(Succeed())
	var clusterProviders authv1alpha1.ClusterOAuthProviderList
	Expect(k8s.List(ctx, &clusterProviders)).To(Succeed())
	var secrets corev1.SecretList
	Expect(k8s.List(ctx, &secrets)).To(Succeed())
	// The operator's own Secrets hold tokens on purpose, and the specs' client-secret Secrets hold
	// client secrets: other Secrets hold nothing issued.
	var foreign []corev1.Secret
	for _, sec := range secrets.Items {
		if _, ours := sec.Labels[authv1alpha1.DeviceLoginLabel]; !ours {
			foreign = append(foreign, sec)
		}
	}
	logs := mgrLogs.String()
	Expect(logs).To(ContainSubstring("User code issued"), "the log buffer holds the manager's logs")
	// Secrets travel base64-encoded in API bodies, and client-go dumps binary bodies as hex: search
	// for every encoding, in the text and in whatever hex dumps the logs hold.
	logs += "\n" + string(undumpHex(logs))
	texts = map[string]string{"logs": logs}
	items = map[string]int{"events": len(events.Items), "DeviceLogins": len(logins.Items), "OAuthProviders": len(providers.Items),
		"ClusterOAuthProviders": len(clusterProviders.Items), "Secrets": len(foreign)}
	for where, v := range map[string]any{"events": events.Items, "DeviceLogins": logins.Items,
		"OAuthProviders": providers.Items, "ClusterOAuthProviders": clusterProviders.Items, "Secrets": foreign} {
		b, err := json.Marshal(v)
		Expect(err).NotTo(HaveOccurred())
		texts[where] = string(b)
	}
	return texts, items
}

// containsAnyEncoding finds v in text as is, or base64-encoded (as Secret data travels), from
// any of the three byte alignments it can take inside a longer encoded value.
func containsAnyEncoding(text, v string) bool {
	if strings.Contains(text, v) {
		return true
	}
	for shift := 0; shift < 3; shift++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, shift), v...))
		// Drop the characters that depend on the padding bytes and on what follows.
		inner := enc[(shift*4+2)/3 : len(enc)-4]
		if len(inner) >= 12 && strings.Contains(text, inner) {
			return true
		}
	}
	return false
}

// hexDumpLine matches one line of encoding/hex.Dump output: offset, up to 16 bytes in hex.
var hexDumpLine = regexp.MustCompile(`(?m)^\s*[0-9a-f]{8} {2}((?:[0-9a-f]{2} {1,2}){1,16})`)

// undumpHex turns every hex dump in the logs back into the bytes it shows, concatenated.
func undumpHex(logs string) []byte {
	var out []byte
	for _, m := range hexDumpLine.FindAllStringSubmatch(strings.ReplaceAll(logs, `\n`, "\n"), -1) {
		b, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
		if err == nil {
			out = append(out, b...)
		}
	}
	return out
}

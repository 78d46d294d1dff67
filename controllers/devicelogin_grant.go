package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// grantFingerprint identifies what a grant was requested for: a change to any of these asks for a
// new approval; other spec changes only rewrite the Secret.
func grantFingerprint(dl *authv1alpha1.DeviceLogin, clientID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", dl.Spec.ProviderRef.Kind, dl.Spec.ProviderRef.Name, clientID)
	fmt.Fprintf(h, "%s\x00%s\x00", strings.Join(dl.Spec.Scopes, " "), dl.Spec.Audience)
	keys := make([]string, 0, len(dl.Spec.Parameters))
	for k := range dl.Spec.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, dl.Spec.Parameters[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

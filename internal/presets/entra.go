package presets

import (
	"regexp"
	"strings"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// entraIssuerHost is where Entra's v2.0 ID tokens say they come from, in the public cloud.
const entraIssuerHost = "https://login.microsoftonline.com/"

// entraConsumersTenant is the tenant of personal Microsoft accounts: the consumers authority
// issues its ID tokens as this tenant, and its discovery document names it.
const entraConsumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// entraIssuer is the issuer of the v2.0 ID tokens that the authority base (…/<tenant>) gives:
//   - a tenant named by its ID issues as itself: https://login.microsoftonline.com/<id>/v2.0;
//   - consumers issues as the personal-accounts tenant;
//   - common and organizations serve every tenant, and their discovery documents advertise the
//     template https://login.microsoftonline.com/{tenantid}/v2.0: each token's iss must be the
//     template with its own tid put in (oauth.TenantIDPlaceholder);
//   - a tenant named by a domain (contoso.onmicrosoft.com) is checked with the same template,
//     since its ID is not known without asking Entra; the audience still binds the token to this
//     application. Naming the tenant by its ID pins the issuer.
//
// The sovereign clouds issue under their own hosts, which this does not know: their ID tokens
// fail verification, and nobody is named.
func entraIssuer(base string) string {
	tenant := strings.ToLower(base[strings.LastIndex(base, "/")+1:])
	switch {
	case guid.MatchString(tenant):
		return entraIssuerHost + tenant + "/v2.0"
	case tenant == "consumers":
		return entraIssuerHost + entraConsumersTenant + "/v2.0"
	}
	return entraIssuerHost + oauth.TenantIDPlaceholder + "/v2.0"
}

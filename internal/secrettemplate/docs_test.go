package secrettemplate

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestDocsExamples renders every secretTemplate in docs/secret-templates.md, so that the
// examples users copy work: JSON values must be valid JSON, and a dockerconfigjson's auth must
// decode to user:token.
func TestDocsExamples(t *testing.T) {
	raw, err := os.ReadFile("../../docs/secret-templates.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	seen := 0
	for _, b := range blocks {
		var doc struct {
			Spec struct {
				SecretTemplate struct{ Data map[string]string }
			} `json:"spec"`
			SecretTemplate struct{ Data map[string]string } `json:"secretTemplate"`
		}
		if err := yaml.Unmarshal([]byte(b[1]), &doc); err != nil {
			t.Fatalf("example does not parse as YAML: %v\n%s", err, b[1])
		}
		data := doc.SecretTemplate.Data
		if data == nil {
			data = doc.Spec.SecretTemplate.Data
		}
		for key, text := range data {
			seen++
			tm, err := Parse(key, text)
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			out, err := tm.Render(Values{AccessToken: token, TokenType: "Bearer", IDToken: "id", Scope: "openid"})
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			if !strings.Contains(string(out), token) && key != "username" {
				t.Errorf("%s renders %q, without the token", key, out)
			}
			if strings.HasSuffix(key, "json") {
				var cfg struct {
					Auths map[string]struct{ Auth string }
				}
				if err := json.Unmarshal(out, &cfg); err != nil {
					t.Errorf("%s renders invalid JSON %s: %v", key, out, err)
				}
				for _, a := range cfg.Auths {
					if dec, _ := base64.StdEncoding.DecodeString(a.Auth); string(dec) != "oauth2:"+token {
						t.Errorf("%s: auth decodes to %q", key, dec)
					}
				}
			}
		}
	}
	if seen < 6 {
		t.Fatalf("found %d templates in the docs' examples", seen)
	}
}

package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// stateSecretSuffix ends the name of every state Secret the operator keeps.
const stateSecretSuffix = "-devicelogin-state"

// maxLoginNameLength: a DeviceLogin's name is a label value on its Secrets.
const maxLoginNameLength = 63

// allowedSecretTypes are the token Secret types a workload consumes. A service-account token
// Secret, above all, is never made: the API server would fill it with that account's token.
var allowedSecretTypes = []corev1.SecretType{
	corev1.SecretTypeOpaque, corev1.SecretTypeBasicAuth, corev1.SecretTypeDockerConfigJson,
	corev1.SecretTypeDockercfg, corev1.SecretTypeSSHAuth, corev1.SecretTypeTLS,
}

// reconcileSpec checks what the API server's validation cannot (or could not, for objects stored
// before a rule existed): names the operator can use, a token Secret type and annotations that are
// allowed, and templates that parse and use allowed keys. A name or type the operator cannot use
// stops the reconcile with InvalidSpec before anything is written or requested. A broken
// template makes Ready False with InvalidSpec and leaves the token Secret as last written, but the
// flow and the refreshes go on, so that nothing already granted is lost while someone fixes it.
func (r *DeviceLoginReconciler) reconcileSpec(_ context.Context, s *loginScope) (outcome, error) {
	if err := validateSpec(s.dl); err != nil {
		return outcome{block: invalidSpec(err.Error()), stop: true}, nil
	}
	tmpls, err := parseTemplates(s.dl)
	if err != nil {
		return outcome{block: invalidSpec(err.Error())}, nil // s.templates stays nil
	}
	s.templates = tmpls
	return outcome{}, nil
}

// validateSpec repeats the CRD's rules that keep one DeviceLogin from hurting another or the
// operator, for objects the API server stored before those rules existed.
func validateSpec(dl *authv1alpha1.DeviceLogin) error {
	if len(dl.Name) > maxLoginNameLength {
		return fmt.Errorf("the name %s is longer than %d characters, so it cannot label its Secrets; use a shorter name", dl.Name, maxLoginNameLength)
	}
	if name := dl.TokenSecretName(); strings.HasSuffix(name, stateSecretSuffix) {
		return fmt.Errorf("secretName %s ends in %s, which names the operator's own state Secrets; pick another name", name, stateSecretSuffix)
	}
	t := dl.Spec.SecretTemplate
	if t == nil {
		return nil
	}
	if t.Type != "" && !slices.Contains(allowedSecretTypes, corev1.SecretType(t.Type)) {
		return fmt.Errorf("secretTemplate.type %s is not allowed; use Opaque or a type a workload consumes (basic-auth, dockerconfigjson, dockercfg, ssh-auth, tls)", t.Type)
	}
	for k := range t.Annotations {
		if strings.HasPrefix(k, "kubernetes.io/service-account") {
			return fmt.Errorf("secretTemplate.annotations may not set %s", k)
		}
	}
	return nil
}

package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// Keys of the token Secret (api.md).
const (
	KeyAccessToken  = "access_token"
	KeyTokenType    = "token_type"
	KeyExpiry       = "expiry"
	KeyScope        = "scope"
	KeyIDToken      = "id_token"
	KeyRefreshToken = "refresh_token"
)

// Keys only the state Secret has.
const (
	keyDeviceCode  = "device_code"
	keyGrant       = "grant"        // fingerprint of the request the tokens were granted for
	keyDeviceGrant = "device_grant" // fingerprint of the request the pending device code is for
	keyIssuedAt    = "issued_at"    // when the current access token was received
)

// RoleAnnotation tells the operator's two kinds of Secret apart for people reading them.
const RoleAnnotation = "auth.devicelogin.dev/role"

var reservedKeys = map[string]bool{
	KeyAccessToken: true, KeyTokenType: true, KeyExpiry: true, KeyScope: true, KeyIDToken: true, KeyRefreshToken: true,
}

var secretKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// loginState is what the controller persists across restarts in its own Secret, never mounted by
// workloads: the device code, the tokens, and which request they belong to.
type loginState struct {
	DeviceCode   string
	DeviceGrant  string
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string
	Scope        string
	Expiry       time.Time // zero: the token does not expire
	IssuedAt     time.Time
	Grant        string
}

func (s *loginState) hasToken() bool { return s.AccessToken != "" }

// tokenValid says whether the access token can still be served at now.
func (s *loginState) tokenValid(now time.Time) bool {
	return s.hasToken() && (s.Expiry.IsZero() || now.Before(s.Expiry))
}

func (s *loginState) encode() map[string][]byte {
	d := map[string][]byte{}
	put := func(k, v string) {
		if v != "" {
			d[k] = []byte(v)
		}
	}
	put(keyDeviceCode, s.DeviceCode)
	put(keyDeviceGrant, s.DeviceGrant)
	put(KeyAccessToken, s.AccessToken)
	put(KeyTokenType, s.TokenType)
	put(KeyRefreshToken, s.RefreshToken)
	put(KeyIDToken, s.IDToken)
	put(KeyScope, s.Scope)
	put(keyGrant, s.Grant)
	if !s.Expiry.IsZero() {
		put(KeyExpiry, s.Expiry.UTC().Format(time.RFC3339Nano))
	}
	if !s.IssuedAt.IsZero() {
		put(keyIssuedAt, s.IssuedAt.UTC().Format(time.RFC3339Nano))
	}
	return d
}

func decodeState(d map[string][]byte) *loginState {
	s := &loginState{
		DeviceCode: string(d[keyDeviceCode]), DeviceGrant: string(d[keyDeviceGrant]),
		AccessToken: string(d[KeyAccessToken]), TokenType: string(d[KeyTokenType]),
		RefreshToken: string(d[KeyRefreshToken]), IDToken: string(d[KeyIDToken]),
		Scope: string(d[KeyScope]), Grant: string(d[keyGrant]),
	}
	s.Expiry, _ = time.Parse(time.RFC3339Nano, string(d[KeyExpiry]))
	s.IssuedAt, _ = time.Parse(time.RFC3339Nano, string(d[keyIssuedAt]))
	return s
}

// stateSecretName is the controller's own Secret for a DeviceLogin: its name plus a suffix,
// shortened with a hash when that would be too long for a name.
func stateSecretName(dl *authv1alpha1.DeviceLogin) string {
	const suffix = "-devicelogin-state"
	name := dl.Name + suffix
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(dl.Name))
	return dl.Name[:253-len(suffix)-9] + "-" + hex.EncodeToString(sum[:4]) + suffix
}

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

// ownedBy says whether obj has dl as its controller.
func ownedBy(obj metav1.Object, dl *authv1alpha1.DeviceLogin) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == dl.UID
}

// loadState reads the state Secret from the API server: the cache may not have seen what this
// controller wrote a moment ago, and acting on an old device code or refresh token is worse than
// one read.
func (r *DeviceLoginReconciler) loadState(ctx context.Context, dl *authv1alpha1.DeviceLogin) (*corev1.Secret, *loginState, error) {
	key := types.NamespacedName{Namespace: dl.Namespace, Name: stateSecretName(dl)}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) {
		return nil, &loginState{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !ownedBy(&s, dl) {
		return nil, nil, &conflictError{name: key.Name}
	}
	return &s, decodeState(s.Data), nil
}

// saveState writes the state Secret, retrying on conflicts within the reconcile: it may hold a
// refresh token that the provider has just rotated, and losing it would cost a new approval.
func (r *DeviceLoginReconciler) saveState(ctx context.Context, dl *authv1alpha1.DeviceLogin, existing *corev1.Secret, st *loginState) (*corev1.Secret, error) {
	data := st.encode()
	if existing != nil && equality.Semantic.DeepEqual(existing.Data, data) {
		return existing, nil
	}
	// The write finishes even when the manager is shutting down: what it holds may be a refresh
	// token the provider will not hand out again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	var out *corev1.Secret
	err := retry.OnError(retry.DefaultBackoff, func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsServerTimeout(err) ||
			apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) ||
			apierrors.IsServiceUnavailable(err)
	}, func() error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: stateSecretName(dl), Namespace: dl.Namespace}}
		getErr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s), s)
		if getErr != nil && !apierrors.IsNotFound(getErr) {
			return getErr
		}
		if getErr == nil && !ownedBy(s, dl) {
			return &conflictError{name: s.Name}
		}
		s.Labels = map[string]string{authv1alpha1.DeviceLoginLabel: dl.Name}
		s.Annotations = map[string]string{RoleAnnotation: "state: the operator's own copy, not for workloads"}
		s.Type = corev1.SecretTypeOpaque
		s.Data = data
		if err := controllerutil.SetControllerReference(dl, s, r.Scheme); err != nil {
			return err
		}
		if apierrors.IsNotFound(getErr) {
			if err := r.Create(ctx, s); err != nil {
				return err
			}
		} else if err := r.Update(ctx, s); err != nil {
			return err
		}
		out = s
		return nil
	})
	return out, err
}

// conflictError: a Secret with the wanted name exists and this DeviceLogin does not own it.
type conflictError struct{ name string }

func (e *conflictError) Error() string {
	return fmt.Sprintf("Secret %s exists and is not owned by this DeviceLogin; delete or rename it, or set spec.secretName to another name", e.name)
}

// tokenValues are what secretTemplate.data templates can use.
type tokenValues struct {
	AccessToken, TokenType, Expiry, IDToken, Scope string
}

// parseTemplates checks secretTemplate.data up front, so that a broken template is an InvalidSpec
// before anything is written.
func parseTemplates(dl *authv1alpha1.DeviceLogin) (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	if dl.TokenSecretName() == stateSecretName(dl) {
		return nil, fmt.Errorf("secretName %s is the name of the operator's own state Secret; pick another name", dl.TokenSecretName())
	}
	if dl.Spec.SecretTemplate == nil {
		return out, nil
	}
	for k, v := range dl.Spec.SecretTemplate.Data {
		if reservedKeys[k] {
			return nil, fmt.Errorf("secretTemplate.data key %q is reserved for the token itself; pick another key", k)
		}
		if !secretKeyPattern.MatchString(k) || len(k) > 253 {
			return nil, fmt.Errorf("secretTemplate.data key %q is not a valid Secret key (letters, digits, '-', '_', '.')", k)
		}
		t, err := template.New(k).Option("missingkey=error").Parse(v)
		if err != nil {
			return nil, fmt.Errorf("secretTemplate.data[%s] does not parse: %s", k, templateErrorText(err))
		}
		if len(t.Templates()) > 1 {
			return nil, fmt.Errorf("secretTemplate.data[%s] defines templates; write the value directly", k)
		}
		if name := unboundedNode(t.Root); name != "" {
			return nil, fmt.Errorf("secretTemplate.data[%s] uses %q; only values, pipelines, if and with are allowed", k, name)
		}
		out[k] = t
	}
	return out, nil
}

// unboundedNode names the first construct that could make rendering take unbounded time (range,
// which can loop over an integer, and template calls), or returns "". Token values are plain
// strings; nothing a Secret needs takes a loop.
func unboundedNode(n parse.Node) string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if name := unboundedNode(c); name != "" {
				return name
			}
		}
	case *parse.RangeNode:
		return "range"
	case *parse.TemplateNode:
		return "template"
	case *parse.IfNode:
		return firstOf(unboundedNode(n.List), unboundedNode(n.ElseList))
	case *parse.WithNode:
		return firstOf(unboundedNode(n.List), unboundedNode(n.ElseList))
	}
	return ""
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// templateErrorText keeps a template error's explanation and drops anything that could quote
// rendered values.
func templateErrorText(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "template: ") {
		return msg[i+2:]
	}
	return msg
}

var execErrorPattern = regexp.MustCompile(`at (<[^>]*>): (.*)$`)

// renderErrorText explains why a template failed to render without quoting what it rendered: an
// execution error can carry the token, or a slice of it ("non-function <value>"). It keeps where
// the template failed (the user's own template text) and only the kinds of error that name types
// and fields, never values.
func renderErrorText(err error) string {
	msg := err.Error()
	m := execErrorPattern.FindStringSubmatch(msg)
	if m == nil {
		if strings.Contains(msg, "exceeds") {
			return fmt.Sprintf("the rendered value exceeds %d KiB", maxRenderedSize>>10)
		}
		return "the template fails on the token's values (details withheld: they could quote the token)"
	}
	for _, safe := range []string{"can't evaluate field ", "map has no entry for key ", "nil pointer evaluating "} {
		if strings.HasPrefix(m[2], safe) {
			return m[1] + ": " + m[2]
		}
	}
	if strings.Contains(m[2], "exceeds") {
		return fmt.Sprintf("%s: the rendered value exceeds %d KiB", m[1], maxRenderedSize>>10)
	}
	return m[1] + ": the template fails on the token's values (details withheld: they could quote the token)"
}

// maxRenderedSize bounds one rendered key, so that a template cannot build a huge Secret.
const maxRenderedSize = 256 << 10

// renderTokenSecret builds the token Secret's data from the state and the templates.
func renderTokenSecret(dl *authv1alpha1.DeviceLogin, st *loginState, tmpls map[string]*template.Template) (map[string][]byte, error) {
	data := map[string][]byte{
		KeyAccessToken: []byte(st.AccessToken),
		KeyTokenType:   []byte(tokenTypeOrBearer(st.TokenType)),
	}
	v := tokenValues{AccessToken: st.AccessToken, TokenType: tokenTypeOrBearer(st.TokenType), IDToken: st.IDToken, Scope: st.Scope}
	if !st.Expiry.IsZero() {
		v.Expiry = timestamp(st.Expiry)
		data[KeyExpiry] = []byte(v.Expiry)
	}
	if st.Scope != "" {
		data[KeyScope] = []byte(st.Scope)
	}
	if st.IDToken != "" {
		data[KeyIDToken] = []byte(st.IDToken)
	}
	if dl.Spec.IncludeRefreshToken && st.RefreshToken != "" {
		data[KeyRefreshToken] = []byte(st.RefreshToken)
	}
	keys := make([]string, 0, len(tmpls))
	for k := range tmpls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var buf bytes.Buffer
		if err := tmpls[k].Execute(&limitedWriter{w: &buf, n: maxRenderedSize}, v); err != nil {
			return nil, fmt.Errorf("secretTemplate.data[%s] does not render: %s", k, renderErrorText(err))
		}
		data[k] = buf.Bytes()
	}
	return data, nil
}

func tokenTypeOrBearer(t string) string {
	if t == "" {
		return "Bearer"
	}
	return t
}

type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("rendered value exceeds %d KiB", l.n>>10)
	}
	return l.w.Write(p)
}

// desiredTokenSecret is the token Secret as api.md describes it.
func (r *DeviceLoginReconciler) desiredTokenSecret(dl *authv1alpha1.DeviceLogin, data map[string][]byte) (*corev1.Secret, error) {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: dl.TokenSecretName(), Namespace: dl.Namespace, Labels: map[string]string{}, Annotations: map[string]string{}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if t := dl.Spec.SecretTemplate; t != nil {
		maps.Copy(s.Labels, t.Labels)
		maps.Copy(s.Annotations, t.Annotations)
		if t.Type != "" {
			s.Type = corev1.SecretType(t.Type)
		}
	}
	s.Labels[authv1alpha1.DeviceLoginLabel] = dl.Name
	if err := controllerutil.SetControllerReference(dl, s, r.Scheme); err != nil {
		return nil, err
	}
	return s, nil
}

// applyTokenSecret creates or updates the token Secret so that it matches want, and reports
// whether it wrote. A Secret of that name that this DeviceLogin does not own is left alone and
// reported as a conflictError. A Secret that lost the operator's label drops out of the cache;
// the API server is asked before creating, so that it is repaired rather than reported as a
// conflict.
func (r *DeviceLoginReconciler) applyTokenSecret(ctx context.Context, dl *authv1alpha1.DeviceLogin, want *corev1.Secret) (bool, error) {
	var have corev1.Secret
	err := r.Get(ctx, client.ObjectKeyFromObject(want), &have)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), &have)
		if apierrors.IsNotFound(err) {
			return true, r.Create(ctx, want)
		}
	}
	if err != nil {
		return false, err
	}
	if !ownedBy(&have, dl) {
		return false, &conflictError{name: want.Name}
	}
	if have.Type != want.Type {
		// The type of a Secret cannot change; replace it.
		if err := r.Delete(ctx, &have, client.Preconditions{UID: &have.UID}); err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		return true, r.Create(ctx, want)
	}
	updated := have.DeepCopy()
	updated.Data = want.Data
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	maps.Copy(updated.Labels, want.Labels)
	if len(want.Annotations) > 0 && updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	maps.Copy(updated.Annotations, want.Annotations)
	updated.OwnerReferences = want.OwnerReferences
	if equality.Semantic.DeepEqual(&have, updated) {
		return false, nil
	}
	return true, r.Update(ctx, updated)
}

// deleteOldTokenSecret removes the token Secret of a previous spec.secretName, if it is ours.
func (r *DeviceLoginReconciler) deleteOldTokenSecret(ctx context.Context, dl *authv1alpha1.DeviceLogin) error {
	old := dl.Status.SecretName
	if old == "" || old == dl.TokenSecretName() || old == stateSecretName(dl) {
		return nil
	}
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: dl.Namespace, Name: old}, &s); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ownedBy(&s, dl) {
		return nil
	}
	return client.IgnoreNotFound(r.Delete(ctx, &s, client.Preconditions{UID: &s.UID}))
}

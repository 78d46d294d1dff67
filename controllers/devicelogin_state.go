package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	// keyBinding is the provider instance the tokens were issued by (its UID and endpoints): a
	// refresh token or a revocation goes only to the instance that issued the token.
	keyBinding = "provider_binding"
	// keyDeviceBinding is the provider instance the pending device code was issued by.
	keyDeviceBinding = "device_binding"
	// keyNeedsApproval says why a new approval is needed; it survives a reconcile that could not
	// get a user code (the provider failed), so the login does not stall on the old token.
	keyNeedsApproval = "needs_approval"
)

// RoleAnnotation tells the operator's two kinds of Secret apart for people reading them.
const RoleAnnotation = "auth.devicelogin.dev/role"

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
	// Binding is the providerBinding of the provider instance that issued the tokens.
	Binding string
	// DeviceBinding is the providerBinding of the instance that issued the pending device code.
	DeviceBinding string
	// NeedsApproval is why a new user code is wanted although a token is stored ("" when none is).
	NeedsApproval string
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
	put(keyBinding, s.Binding)
	put(keyDeviceBinding, s.DeviceBinding)
	put(keyNeedsApproval, s.NeedsApproval)
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
		Binding: string(d[keyBinding]), DeviceBinding: string(d[keyDeviceBinding]), NeedsApproval: string(d[keyNeedsApproval]),
	}
	s.Expiry, _ = time.Parse(time.RFC3339Nano, string(d[KeyExpiry]))
	s.IssuedAt, _ = time.Parse(time.RFC3339Nano, string(d[keyIssuedAt]))
	return s
}

// stateSecretName is the controller's own Secret for a DeviceLogin: its name plus a suffix,
// shortened with a hash when that would be too long for a name.
func stateSecretName(dl *authv1alpha1.DeviceLogin) string {
	const suffix = stateSecretSuffix
	name := dl.Name + suffix
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(dl.Name))
	return dl.Name[:253-len(suffix)-9] + "-" + hex.EncodeToString(sum[:4]) + suffix
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
	err := r.read(ctx, secretKey(key), key, &s)
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

// saveState writes the state Secret with the resourceVersion it was read at, so that a stale
// reconcile (a leader that has not noticed it lost its lease, a read that missed a newer write)
// never overwrites newer tokens. On a conflict the Secret is read again: when nobody else stored
// other tokens or another device code since existing was read, this write is still the newest
// word from the provider (it may hold a refresh token the provider just rotated) and is applied
// on top; otherwise the other writer wins, and errStateMoved sends the reconcile round again to
// decide with what is stored now.
func (r *DeviceLoginReconciler) saveState(ctx context.Context, dl *authv1alpha1.DeviceLogin, existing *corev1.Secret, st *loginState) (*corev1.Secret, error) {
	data := st.encode()
	if existing != nil && equality.Semantic.DeepEqual(existing.Data, data) &&
		controllerutil.ContainsFinalizer(existing, RevokeFinalizer) == dl.Spec.RevokeOnDelete {
		return existing, nil
	}
	base := &loginState{}
	if existing != nil {
		base = decodeState(existing.Data)
	}
	// The write finishes even when the manager is shutting down: what it holds may be a refresh
	// token the provider will not hand out again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateWriteBudget)
	defer cancel()
	var out *corev1.Secret
	err := retry.OnError(retry.DefaultBackoff, func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsServerTimeout(err) ||
			apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) ||
			apierrors.IsServiceUnavailable(err)
	}, func() error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: stateSecretName(dl), Namespace: dl.Namespace}}
		if existing != nil {
			s = existing.DeepCopy()
		}
		s.Labels = map[string]string{authv1alpha1.DeviceLoginLabel: dl.Name}
		s.Annotations = map[string]string{RoleAnnotation: "state: the operator's own copy, not for workloads"}
		s.Type = corev1.SecretTypeOpaque
		s.Data = data
		if dl.Spec.RevokeOnDelete {
			// Held until revocation was tried, even when the whole namespace is deleted.
			controllerutil.AddFinalizer(s, RevokeFinalizer)
		} else {
			controllerutil.RemoveFinalizer(s, RevokeFinalizer)
		}
		if err := controllerutil.SetControllerReference(dl, s, r.Scheme); err != nil {
			return err
		}
		var err error
		if existing == nil {
			err = r.Create(ctx, s)
		} else {
			err = r.Update(ctx, s) // carries existing's resourceVersion: a conflict, not an overwrite
		}
		if err == nil {
			r.expect.wrote(secretKey(client.ObjectKeyFromObject(s)), s, r.Clock.Now())
			out = s
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return err
		}
		fresh := &corev1.Secret{}
		if getErr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s), fresh); getErr != nil {
			if apierrors.IsNotFound(getErr) {
				existing = nil
				return err // deleted meanwhile: create it again
			}
			return getErr
		}
		if !ownedBy(fresh, dl) {
			return &conflictError{name: fresh.Name}
		}
		if !sameGrant(base, decodeState(fresh.Data)) {
			return errStateMoved
		}
		existing = fresh
		return err
	})
	return out, err
}

// stateWriteBudget bounds one state write with its retries. The pod's termination grace period
// is longer than a provider request plus this, so a write started at shutdown finishes.
const stateWriteBudget = 20 * time.Second

// errStateMoved: another writer stored other tokens or another device code since this reconcile
// read the state; it starts over with what is stored now.
var errStateMoved = errors.New("the state Secret was changed by another writer; reconciling again")

// sameGrant says whether two states hold the same tokens and device code, so that a write based
// on one is still right on top of the other.
func sameGrant(a, b *loginState) bool {
	return a.AccessToken == b.AccessToken && a.DeviceCode == b.DeviceCode && a.Grant == b.Grant &&
		a.Binding == b.Binding && a.IssuedAt.Equal(b.IssuedAt)
}

// conflictError: a Secret with the wanted name exists and this DeviceLogin does not own it.
type conflictError struct{ name string }

func (e *conflictError) Error() string {
	return fmt.Sprintf("Secret %s exists and is not owned by this DeviceLogin; delete or rename it, or set spec.secretName to another name", e.name)
}

package controllers

import (
	"errors"
	"time"
)

// What the steps of a DeviceLogin reconcile decide. Each step returns an outcome instead of
// setting flags for later steps to read; runSteps gathers the outcomes into findings, and
// readyFor (devicelogin_ready.go) is the one place that says how they combine into Ready.

// blockKind says what stops a DeviceLogin from being served as asked, and ranks it: when one
// reconcile finds several, Ready shows the first in this order (see readyFor).
type blockKind int

const (
	// blockInvalidSpec: the spec cannot be served (reconcileSpec, reconcileTokenSecret).
	blockInvalidSpec blockKind = iota
	// blockConflict: a Secret the operator must write belongs to someone else (reconcileState,
	// persist, startFlow, reconcileTokenSecret).
	blockConflict
	// blockForbidden: the ClusterOAuthProvider does not allow the namespace (reconcileProvider).
	blockForbidden
	// blockHalt: the flow stopped until the reauthorize annotation or a spec change: the request
	// was denied or refused, or the codes ran out (reconcileTriggers carries one over from the
	// last reconcile; reconcileFlow makes new ones).
	blockHalt
	// blockProvider: the provider is not usable: not found, not ready, or its client secret is
	// missing (reconcileProvider, and every step that reads the client secret). Unlike the kinds
	// above, it ranks below a token that is still valid and a code that waits for approval.
	blockProvider

	numBlockKinds
)

// blocker is a step's decision that the DeviceLogin cannot be served as asked: Ready carries its
// reason and message.
type blocker struct {
	kind            blockKind
	reason, message string
	// warn: Ready turning to this reason is worth a Warning event, which no step sent itself.
	warn bool
}

// invalidSpec is the blocker of a spec the operator cannot serve.
func invalidSpec(message string) *blocker {
	return &blocker{kind: blockInvalidSpec, reason: ReasonInvalidSpec, message: message, warn: true}
}

// secretConflict is the blocker of a Secret that the DeviceLogin does not own.
func secretConflict(err *conflictError) *blocker {
	return &blocker{kind: blockConflict, reason: ReasonSecretConflict, message: err.Error(), warn: true}
}

// providerProblem is the blocker of a provider that is not usable. failed says that it failed
// (not found, Ready=False, a missing client secret), as opposed to not being resolved yet: only a
// failure is worth a Warning event.
func providerProblem(message string, failed bool) *blocker {
	return &blocker{kind: blockProvider, reason: ReasonProviderNotReady, message: message, warn: failed}
}

// halted is the blocker of a flow that stopped until a person acts.
func halted(reason, message string) *blocker {
	return &blocker{kind: blockHalt, reason: reason, message: message}
}

// outcome is what one step decided.
type outcome struct {
	// block says why the DeviceLogin cannot be served as asked (nil: nothing stands in the way).
	block *blocker
	// stop ends the reconcile's steps after this one.
	stop bool
	// wake is when the step wants to run again (zero: it does not need to).
	wake time.Time
	// served: the token Secret holds the current token (reconcileTokenSecret).
	served bool
}

// wakeAt asks to run again at t, unless an earlier time is already asked for.
func (o *outcome) wakeAt(t time.Time) { o.wake = earliest(o.wake, t) }

// with adds to o what a helper of the same step decided (its blocker, when it has one, and its
// wake time), and passes the helper's error on: return o.with(r.helper(ctx, s)).
func (o outcome) with(p outcome, err error) (outcome, error) {
	if p.block != nil {
		o.block = p.block
	}
	o.stop = o.stop || p.stop
	o.served = o.served || p.served
	o.wakeAt(p.wake)
	return o, err
}

// earliest is the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// findings is what the steps of one reconcile decided, gathered by runSteps.
type findings struct {
	// blocks holds, per kind, the last blocker a step found.
	blocks [numBlockKinds]*blocker
	// wake is the earliest time a step asked to run again.
	wake time.Time
	// served: the token Secret step confirmed that the Secret holds the current token.
	served bool
	// err is the error that ended the steps early, if any.
	err error
}

// add records a step's outcome and error, and says whether the steps end here. An error that
// is a conflictError (a state Secret taken over while this reconcile wrote it) is also a
// SecretConflict blocker.
func (f *findings) add(o outcome, err error) (stop bool) {
	if o.block != nil {
		f.blocks[o.block.kind] = o.block
	}
	var conflict *conflictError
	if errors.As(err, &conflict) {
		f.blocks[blockConflict] = secretConflict(conflict)
	}
	f.wake = earliest(f.wake, o.wake)
	f.served = f.served || o.served
	if err != nil {
		f.err = err
	}
	return o.stop || err != nil
}

// blocked is the blocker of a kind that this reconcile found, or nil.
func (f *findings) blocked(kind blockKind) *blocker { return f.blocks[kind] }

package oauth

import (
	"errors"
	"strings"
	"unicode"
)

// translateError rewrites a provider-specific error code into the RFC code
// that means the same, per ErrorCodes, keeping the original in ProviderCode.
// Any other error is returned unchanged.
func (q Quirks) translateError(err error) error {
	var oe *Error
	if len(q.ErrorCodes) == 0 || !errors.As(err, &oe) || oe.ProviderCode != "" {
		return err
	}
	if rfc := q.ErrorCodes[oe.Code]; rfc != "" && rfc != oe.Code {
		oe.ProviderCode, oe.Code = oe.Code, rfc
	}
	return err
}

// normalizeToken rewrites a comma-separated scope list with spaces.
func (q Quirks) normalizeToken(tok *Token) {
	if tok == nil || !q.CommaSeparatedScope || tok.Scope == "" {
		return
	}
	tok.Scope = strings.Join(strings.FieldsFunc(tok.Scope, func(r rune) bool {
		return r == ',' || unicode.IsSpace(r)
	}), " ")
}

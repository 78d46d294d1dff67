package secrettemplate

import (
	"encoding/base64"
	"errors"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// function is one entry of the allow-list. Every call charges the state's budget with what it
// will allocate (at least its output size) before it allocates anything, so no function can
// build a value the budget has not paid for. Substring results allocate nothing but are charged
// their length all the same, to keep the rule simple.
type function struct {
	min, max int // number of arguments, counting a piped one; max < 0: no upper limit
	call     func(s *state, args []value) (value, error)
	// lazy replaces call for and/or, which evaluate their arguments one at a time.
	lazy func(n int, piped bool, final value, arg func(i int) (value, error)) (value, error)
}

var funcs map[string]function

func init() {
	funcs = map[string]function{
		"b64enc":     {min: 1, max: 1, call: b64enc},
		"b64dec":     {min: 1, max: 1, call: b64dec},
		"quote":      {min: 1, max: 1, call: quote},
		"upper":      {min: 1, max: 1, call: mapRunes(unicode.ToUpper)},
		"lower":      {min: 1, max: 1, call: mapRunes(unicode.ToLower)},
		"trim":       {min: 1, max: 1, call: substring(func(a []string) string { return strings.TrimSpace(a[0]) })},
		"trimPrefix": {min: 2, max: 2, call: substring(func(a []string) string { return strings.TrimPrefix(a[1], a[0]) })},
		"trimSuffix": {min: 2, max: 2, call: substring(func(a []string) string { return strings.TrimSuffix(a[1], a[0]) })},
		"default":    {min: 2, max: 2, call: substring(defaultValue)},
		"replace":    {min: 3, max: 3, call: replace},
		"concat":     {min: 1, max: -1, call: concat},
		"eq":         {min: 2, max: -1, call: eq},
		"ne":         {min: 2, max: 2, call: ne},
		"not":        {min: 1, max: 1, call: not},
		"and":        {min: 1, max: -1, lazy: andOr(false)},
		"or":         {min: 1, max: -1, lazy: andOr(true)},
	}
}

// funcList names the allowed functions for messages.
func funcList() string {
	names := make([]string, 0, len(funcs))
	for n := range funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

var errNotString = errors.New("takes strings, and got a boolean")

// stringArgs returns the arguments as strings; booleans are refused rather than printed.
func stringArgs(args []value) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		if a.isBool {
			return nil, errNotString
		}
		out[i] = a.s
	}
	return out, nil
}

func str(s string) value { return value{s: s} }

// b64enc encodes with standard base64, padded, as Secret data and .dockerconfigjson use it. It
// allocates exactly its output, encoding through fixed buffers on the stack.
func b64enc(s *state, args []value) (value, error) {
	a, err := stringArgs(args)
	if err != nil {
		return value{}, err
	}
	in := a[0]
	n := base64.StdEncoding.EncodedLen(len(in))
	if err := s.charge(n); err != nil {
		return value{}, err
	}
	var b strings.Builder
	b.Grow(n)
	var src [3 * 256]byte
	var dst [4 * 256]byte
	for in != "" {
		k := copy(src[:], in)
		in = in[k:]
		m := base64.StdEncoding.EncodedLen(k)
		base64.StdEncoding.Encode(dst[:m], src[:k])
		b.Write(dst[:m])
	}
	return str(b.String()), nil
}

// b64dec decodes standard base64 (padded). Invalid input is an error that does not quote it.
func b64dec(s *state, args []value) (value, error) {
	a, err := stringArgs(args)
	if err != nil {
		return value{}, err
	}
	// DecodeString copies its input and decodes into a buffer of DecodedLen; the result is one
	// more copy.
	if err := s.charge(len(a[0]) + 2*base64.StdEncoding.DecodedLen(len(a[0]))); err != nil {
		return value{}, err
	}
	out, err := base64.StdEncoding.DecodeString(a[0])
	if err != nil {
		return value{}, errors.New("the value is not valid base64")
	}
	return str(string(out)), nil
}

// quote writes the value as a JSON string literal, which is also a valid YAML double-quoted
// string: quotes, backslashes and control characters escaped, invalid UTF-8 as \ufffd.
func quote(s *state, args []value) (value, error) {
	a, err := stringArgs(args)
	if err != nil {
		return value{}, err
	}
	in := a[0]
	n := 2
	for i := 0; i < len(in); {
		r, w := utf8.DecodeRuneInString(in[i:])
		n += quotedLen(r, w)
		i += w
	}
	if err := s.charge(n); err != nil {
		return value{}, err
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('"')
	for i := 0; i < len(in); {
		r, w := utf8.DecodeRuneInString(in[i:])
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		case r == utf8.RuneError && w == 1:
			b.WriteString(`\ufffd`)
		default:
			b.WriteString(in[i : i+w])
		}
		i += w
	}
	b.WriteByte('"')
	return str(b.String()), nil
}

// quotedLen is how many bytes quote writes for rune r of width w.
func quotedLen(r rune, w int) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == 0x7f || (r == utf8.RuneError && w == 1):
		return 6
	}
	return w
}

// mapRunes is upper and lower: the output size is computed rune by rune first (case mapping can
// change a rune's width; invalid UTF-8 becomes U+FFFD, as strings.ToUpper does).
func mapRunes(m func(rune) rune) func(*state, []value) (value, error) {
	return func(s *state, args []value) (value, error) {
		a, err := stringArgs(args)
		if err != nil {
			return value{}, err
		}
		n := 0
		for _, r := range a[0] {
			n += utf8.RuneLen(m(r))
		}
		if err := s.charge(n); err != nil {
			return value{}, err
		}
		var b strings.Builder
		b.Grow(n)
		for _, r := range a[0] {
			b.WriteRune(m(r))
		}
		return str(b.String()), nil
	}
}

// substring is a function whose result is a part of one of its arguments.
func substring(f func([]string) string) func(*state, []value) (value, error) {
	return func(s *state, args []value) (value, error) {
		a, err := stringArgs(args)
		if err != nil {
			return value{}, err
		}
		out := f(a)
		if err := s.charge(len(out)); err != nil {
			return value{}, err
		}
		return str(out), nil
	}
}

// defaultValue is `default "fallback" .Value`: the value when it is not empty, else the fallback.
func defaultValue(a []string) string {
	if a[1] != "" {
		return a[1]
	}
	return a[0]
}

// replace is `replace "old" "new" .Value`. The output size is computed before replacing.
func replace(s *state, args []value) (value, error) {
	a, err := stringArgs(args)
	if err != nil {
		return value{}, err
	}
	old, repl, in := a[0], a[1], a[2]
	n := len(in) + strings.Count(in, old)*(len(repl)-len(old))
	if err := s.charge(n); err != nil {
		return value{}, err
	}
	return str(strings.ReplaceAll(in, old, repl)), nil
}

// concat joins its arguments with nothing between them.
func concat(s *state, args []value) (value, error) {
	a, err := stringArgs(args)
	if err != nil {
		return value{}, err
	}
	n := 0
	for _, x := range a {
		n += len(x)
	}
	if err := s.charge(n); err != nil {
		return value{}, err
	}
	var b strings.Builder
	b.Grow(n)
	for _, x := range a {
		b.WriteString(x)
	}
	return str(b.String()), nil
}

func equal(x, y value) (bool, error) {
	if x.isBool != y.isBool {
		return false, errors.New("cannot compare a string with a boolean")
	}
	if x.isBool {
		return x.b == y.b, nil
	}
	return x.s == y.s, nil
}

// eq is true when the first argument equals any of the others.
func eq(_ *state, args []value) (value, error) {
	for _, y := range args[1:] {
		ok, err := equal(args[0], y)
		if err != nil || ok {
			return value{b: ok, isBool: true}, err
		}
	}
	return value{isBool: true}, nil
}

func ne(_ *state, args []value) (value, error) {
	ok, err := equal(args[0], args[1])
	return value{b: !ok, isBool: true}, err
}

func not(_ *state, args []value) (value, error) {
	return value{b: !args[0].truth(), isBool: true}, nil
}

// andOr is text/template's and (or with or=true): the first argument that decides the result,
// or the last one, evaluating no further than that.
func andOr(or bool) func(int, bool, value, func(int) (value, error)) (value, error) {
	return func(n int, piped bool, final value, arg func(int) (value, error)) (value, error) {
		var v value
		for i := 0; i < n; i++ {
			var err error
			if v, err = arg(i); err != nil {
				return value{}, err
			}
			if v.truth() == or {
				return v, nil
			}
		}
		if piped {
			return final, nil
		}
		return v, nil
	}
}

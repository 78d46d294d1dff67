package secrettemplate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// samples are inputs for the functions: ASCII, multi-byte runes whose case mapping changes
// their width, control characters, and invalid UTF-8.
var samples = []string{
	"", "a", "ab", "abc", "abcd", token, "Bearer x", " \t padded \n",
	"ȿɐ ı ß é \u2028 \x00\x1f\x7f \"\\ <>&", "\xff\xfe bad \xc3", strings.Repeat("xyz-", 1000) + "é",
}

func call(t *testing.T, name string, args ...string) (string, int, error) {
	t.Helper()
	s := &state{budget: funcBudget}
	vals := make([]value, len(args))
	for i, a := range args {
		vals[i] = str(a)
	}
	v, err := funcs[name].call(s, vals)
	return v.s, funcBudget - s.budget, err
}

func TestFunctionsMatchTheStandardLibrary(t *testing.T) {
	for _, in := range samples {
		check := func(name, got, want string, err error) {
			t.Helper()
			if err != nil || got != want {
				t.Errorf("%s(%.40q) = %.40q, %v; want %.40q", name, in, got, err, want)
			}
		}
		got, _, err := call(t, "b64enc", in)
		check("b64enc", got, base64.StdEncoding.EncodeToString([]byte(in)), err)
		got, _, err = call(t, "b64dec", base64.StdEncoding.EncodeToString([]byte(in)))
		check("b64dec", got, in, err)
		got, _, err = call(t, "upper", in)
		check("upper", got, strings.ToUpper(in), err)
		got, _, err = call(t, "lower", in)
		check("lower", got, strings.ToLower(in), err)
		got, _, err = call(t, "trim", in)
		check("trim", got, strings.TrimSpace(in), err)
		got, _, err = call(t, "replace", "b", "BBB", in)
		check("replace", got, strings.ReplaceAll(in, "b", "BBB"), err)
		got, _, err = call(t, "replace", "", "-", in)
		check("replace", got, strings.ReplaceAll(in, "", "-"), err)
		got, _, err = call(t, "quote", in)
		var back string
		if err == nil {
			err = json.Unmarshal([]byte(got), &back)
		}
		// Each invalid byte becomes U+FFFD, as strings.Map does.
		check("quote, decoded as JSON,", back, strings.Map(func(r rune) rune { return r }, in), err)
	}
}

// TestFunctionsChargeWhatTheyAllocate is the budget's premise: no function allocates more than
// it charged, and the charge is taken first. The allocator rounds sizes up (to a size class,
// at most 1/8 more, or to whole 8 KiB pages); that and a few hundred bytes of bookkeeping are
// the slack.
func TestFunctionsChargeWhatTheyAllocate(t *testing.T) {
	big := strings.Repeat("ȿa\xff\"", 16<<10)
	b64 := base64.StdEncoding.EncodeToString([]byte(big))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"b64enc", []string{big}}, {"b64dec", []string{b64}}, {"quote", []string{big}},
		{"upper", []string{big}}, {"lower", []string{big}}, {"trim", []string{big}},
		{"trimPrefix", []string{"ȿ", big}}, {"trimSuffix", []string{"\"", big}}, {"default", []string{"x", big}},
		{"replace", []string{"a", "bcd", big}}, {"replace", []string{"", "-", big}},
		{"concat", []string{big, big, "x"}},
	} {
		var charged int
		var err error
		n := leastAllocated(func() { _, charged, err = call(t, tc.name, tc.args...) })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n > uint64(charged+charged/8+8<<10+512) { //nolint:gosec // G115: charged is a byte count, never negative
			t.Errorf("%s allocated %d bytes and charged %d", tc.name, n, charged)
		}
		// With a budget one byte short, the function refuses before allocating.
		s := &state{budget: charged - 1}
		args := make([]value, len(tc.args))
		for i, a := range tc.args {
			args[i] = str(a)
		}
		n = leastAllocated(func() { s.budget = charged - 1; _, err = funcs[tc.name].call(s, args) })
		if !errors.Is(err, errBudget) || n > 512 {
			t.Errorf("%s one byte short of its charge: %v after allocating %d bytes", tc.name, err, n)
		}
	}
}

func TestFunctionErrors(t *testing.T) {
	if _, _, err := call(t, "b64dec", "not base64!"); err == nil || err.Error() != "the value is not valid base64" {
		t.Errorf("b64dec of invalid input: %v", err)
	}
	s := &state{budget: funcBudget}
	for name := range funcs {
		f := funcs[name]
		if f.call == nil || name == "not" || name == "eq" || name == "ne" {
			continue
		}
		args := make([]value, f.min)
		args[0] = value{isBool: true}
		if _, err := f.call(s, args); !errors.Is(err, errNotString) {
			t.Errorf("%s of a boolean: %v, want %v", name, err, errNotString)
		}
	}
	if !utf8.ValidString(funcList()) || !strings.Contains(funcList(), "b64enc, concat") {
		t.Errorf("funcList() = %q", funcList())
	}
}

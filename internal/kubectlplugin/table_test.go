package kubectlplugin

import (
	"strings"
	"testing"
)

func TestPrintTable(t *testing.T) {
	var b strings.Builder
	err := printTable(&b, []string{"name", "user code", "time left"}, [][]string{
		{"ci-bot", "WDJB-MJHT", "4m12s"},
		{"a-much-longer-name", "X", "expired"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAME                 USER CODE   TIME LEFT\n" +
		"ci-bot               WDJB-MJHT   4m12s\n" +
		"a-much-longer-name   X           expired\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintTableKeepsControlCharactersOut(t *testing.T) {
	var b strings.Builder
	if err := printTable(&b, []string{"a", "b"}, [][]string{{"x\ty", "line\nfake\x1b[31mred"}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and one row, got %q", lines)
	}
	if strings.ContainsRune(b.String(), '\x1b') || lines[1] != "x y   line fake [31mred" {
		t.Errorf("row = %q", lines[1])
	}
}

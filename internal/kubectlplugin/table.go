package kubectlplugin

import (
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
)

// printTable writes rows under upper-case headers in aligned columns, as kubectl's printers do
// (the same tabwriter settings as k8s.io/cli-runtime's printers.GetNewTabWriter). Cells pass
// through oneLine.
func printTable(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	writeRow := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				io.WriteString(tw, "\t") //nolint:errcheck // the error surfaces at Flush
			}
			io.WriteString(tw, oneLine(c)) //nolint:errcheck // the error surfaces at Flush
		}
		io.WriteString(tw, "\n") //nolint:errcheck // the error surfaces at Flush
	}
	upper := make([]string, len(headers))
	for i, h := range headers {
		upper[i] = strings.ToUpper(h)
	}
	writeRow(upper)
	for _, r := range rows {
		writeRow(r)
	}
	return tw.Flush()
}

// oneLine replaces every control character (tab, line break, escape) with a space: a value from
// status, which a provider's error text may reach, can then neither break the columns, fake a
// line nor send escape sequences to the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

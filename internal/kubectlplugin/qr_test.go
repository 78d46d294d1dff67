package kubectlplugin

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

const testApprovalURL = "https://dex.example.com/dex/device?user_code=WDJB-MJHT"

// parseHalfBlocks turns rendered half blocks back into the matrix of drawn (foreground) cells,
// two rows per line.
func parseHalfBlocks(t *testing.T, s string) [][]bool {
	t.Helper()
	var m [][]bool
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		top, bottom := []bool{}, []bool{}
		for _, r := range line {
			switch string(r) {
			case "█":
				top, bottom = append(top, true), append(bottom, true)
			case "▀":
				top, bottom = append(top, true), append(bottom, false)
			case "▄":
				top, bottom = append(top, false), append(bottom, true)
			case " ":
				top, bottom = append(top, false), append(bottom, false)
			default:
				t.Fatalf("unexpected character %q in %q", r, line)
			}
		}
		m = append(m, top, bottom)
	}
	return m
}

func TestQRMatrixSizeAndQuietZone(t *testing.T) {
	for _, text := range []string{"https://a.example/d", testApprovalURL, "https://login.microsoftonline.com/organizations/oauth2/v2.0/deviceauth?user_code=" + strings.Repeat("A", 200)} {
		t.Run(fmt.Sprint(len(text)), func(t *testing.T) {
			m, err := qrMatrix(text)
			if err != nil {
				t.Fatal(err)
			}
			n := len(m)
			size := n - 2*qrQuietZone
			// A QR code of version v has 17+4v modules on a side, v from 1 to 40.
			if size < 21 || size > 177 || (size-17)%4 != 0 {
				t.Fatalf("code is %d modules on a side: not a QR code size", size)
			}
			for y, row := range m {
				if len(row) != n {
					t.Fatalf("row %d has %d modules, want %d", y, len(row), n)
				}
				for x, dark := range row {
					inQuietZone := x < qrQuietZone || y < qrQuietZone || x >= n-qrQuietZone || y >= n-qrQuietZone
					if inQuietZone && dark {
						t.Fatalf("module (%d,%d) in the quiet zone is dark", x, y)
					}
				}
			}
			// The three finder patterns: a dark 7x7 ring with a dark 3x3 centre, in the corners
			// next to the quiet zone.
			for _, corner := range [][2]int{{0, 0}, {size - 7, 0}, {0, size - 7}} {
				for dy := 0; dy < 7; dy++ {
					for dx := 0; dx < 7; dx++ {
						ring := dx == 0 || dy == 0 || dx == 6 || dy == 6
						centre := dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4
						x, y := qrQuietZone+corner[0]+dx, qrQuietZone+corner[1]+dy
						if m[y][x] != (ring || centre) {
							t.Fatalf("finder pattern at %v: module (%d,%d) dark=%v", corner, dx, dy, m[y][x])
						}
					}
				}
			}
		})
	}
}

func TestQRMatrixTooLong(t *testing.T) {
	if _, err := qrMatrix(strings.Repeat("x", 4000)); err == nil {
		t.Fatal("want an error for text beyond QR version 40")
	}
}

func TestRenderHalfBlocks(t *testing.T) {
	m, err := qrMatrix(testApprovalURL)
	if err != nil {
		t.Fatal(err)
	}
	n := len(m)
	for _, invert := range []bool{false, true} {
		t.Run(fmt.Sprintf("invert=%v", invert), func(t *testing.T) {
			var b strings.Builder
			if err := renderHalfBlocks(&b, m, invert); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) != (n+1)/2 {
				t.Fatalf("%d lines for %d module rows, want %d", len(lines), n, (n+1)/2)
			}
			for i, l := range lines {
				if utf8.RuneCountInString(l) != n {
					t.Fatalf("line %d is %d characters wide, want %d", i, utf8.RuneCountInString(l), n)
				}
			}
			// Every module comes back: drawn means light, or dark when inverted.
			back := parseHalfBlocks(t, b.String())
			for y := range m {
				for x := range m[y] {
					if back[y][x] != (m[y][x] == invert) {
						t.Fatalf("module (%d,%d): dark=%v but drawn=%v", x, y, m[y][x], back[y][x])
					}
				}
			}
			// The row below the last one (n is odd) is left as background.
			for x := range back[n] {
				if back[n][x] {
					t.Fatalf("the half row below the code is drawn at column %d", x)
				}
			}
		})
	}
}

func TestWriteQRGolden(t *testing.T) {
	var b strings.Builder
	if err := writeQR(&b, testApprovalURL, false); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "qr-approval-url.golden", b.String())
}

package kubectlplugin

import (
	"fmt"
	"io"
	"strings"

	"rsc.io/qr"
)

// qrQuietZone is the margin of light modules that the QR specification (ISO/IEC 18004) asks for
// around a code; without it phone cameras often fail to find the code.
const qrQuietZone = 4

// qrMatrix encodes text as a QR code (error correction level M, which survives a smudged or
// partly covered screen) and returns its modules with the quiet zone around them: true is dark.
func qrMatrix(text string) ([][]bool, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("encoding %d characters as a QR code: %w", len(text), err)
	}
	n := code.Size + 2*qrQuietZone
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
		for x := range m[y] {
			m[y][x] = code.Black(x-qrQuietZone, y-qrQuietZone) // false outside the code
		}
	}
	return m, nil
}

// Half blocks draw two module rows in one line of text, so that each module is about square in a
// terminal whose cells are twice as tall as wide. The index is top<<1 | bottom, 1 meaning drawn
// in the foreground colour.
var halfBlocks = [4]string{" ", "▄", "▀", "█"}

// renderHalfBlocks writes the matrix with two module rows per line. By default the light modules
// are drawn in the foreground colour and the dark ones left as background, which reads right on
// the usual light-on-dark terminal (as `qrencode -t UTF8` does); invert is for dark-on-light
// terminals. A row past the bottom edge is background.
func renderHalfBlocks(w io.Writer, m [][]bool, invert bool) error {
	drawn := func(y, x int) int {
		if y >= len(m) {
			return 0
		}
		if m[y][x] == invert {
			return 1
		}
		return 0
	}
	var b strings.Builder
	for y := 0; y < len(m); y += 2 {
		for x := range m[y] {
			b.WriteString(halfBlocks[drawn(y, x)<<1|drawn(y+1, x)])
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeQR writes text as a QR code drawn with half blocks.
func writeQR(w io.Writer, text string, invert bool) error {
	m, err := qrMatrix(text)
	if err != nil {
		return err
	}
	return renderHalfBlocks(w, m, invert)
}

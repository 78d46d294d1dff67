package providersim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("providersim: reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}

// randomB64 returns n random bytes, base64url without padding.
func randomB64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("providersim: reading random bytes: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomFrom draws n characters of alphabet.
func randomFrom(alphabet string, n int) string {
	var b strings.Builder
	alphabetSize := big.NewInt(int64(len(alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, alphabetSize)
		if err != nil {
			panic(fmt.Sprintf("providersim: reading random bytes: %v", err))
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

// seconds is a duration in whole seconds, as the wire carries it.
func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

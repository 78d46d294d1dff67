// Package secrethash computes the hash of a Secret's data that the operator stamps on every token
// Secret as the auth.devicelogin.dev/data-hash annotation, and that the rollout-restart
// controller compares to decide whether consumers need a restart.
package secrethash

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
)

// DataHash returns the lower-case hex SHA-256 of data, independent of map order: for each key in
// sorted order it hashes the key, a NUL byte (Secret keys never contain one), the value's length
// as an 8-byte big-endian integer, and the value. Different data never share an encoding, so a
// moved byte between a key and its value, or between two values, changes the hash. Nil and empty
// data hash alike.
func DataHash(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	var n [8]byte
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(n[:], uint64(len(data[k])))
		h.Write(n[:])
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

package testidp

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
)

// oauthError is an RFC 6749 5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
	basicAuth   bool // the client tried HTTP Basic: 401 must carry a challenge
}

func badRequest(code, description string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, description: description}
}

func invalidClient(description string, basic bool) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: description, basicAuth: basic}
}

// writeJSON sends a JSON body with the no-store headers that RFC 6749 5.1
// demands for anything carrying or describing credentials.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized && e.basicAuth {
		w.Header().Set("WWW-Authenticate", `Basic realm="testidp"`)
	}
	writeJSON(w, e.status, map[string]string{
		"error":             e.code,
		"error_description": e.description,
	})
}

// parsePostForm enforces the transport rules shared by every OAuth POST
// endpoint: POST only, a form-encoded body, no parameters in the URL (they
// end up in logs) and no repeated parameters (RFC 6749 3.1, 3.2).
func parsePostForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "method must be POST"})
		return nil, false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeError(w, badRequest("invalid_request", "body must be application/x-www-form-urlencoded"))
		return nil, false
	}
	if r.URL.RawQuery != "" {
		writeError(w, badRequest("invalid_request", "parameters must not be sent in the URL query"))
		return nil, false
	}
	if err, _ := r.Context().Value(formErrKey{}).(error); err != nil {
		writeError(w, badRequest("invalid_request", "malformed form body"))
		return nil, false
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			writeError(w, badRequest("invalid_request", "parameter "+k+" repeated"))
			return nil, false
		}
	}
	return r.PostForm, true
}

package testidp

import (
	"html/template"
	"mime"
	"net/http"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>testidp device login</title></head><body>
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{if .Form}}<form method="post" action="/device/approve">
<label>Code <input name="user_code" value="{{.UserCode}}"></label>
<label>Subject <input name="subject" value="user@example.com"></label>
<button name="action" value="approve">Approve</button>
<button name="action" value="deny">Deny</button>
</form>{{end}}
</body></html>
`))

type pageData struct {
	Message  string
	UserCode string
	Form     bool
}

func renderPage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

// handleVerificationPage is the verification_uri: a form prefilled from
// verification_uri_complete, so an HTTP "browser" can follow the link.
func (s *Server) handleVerificationPage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	renderPage(w, http.StatusOK, pageData{UserCode: r.URL.Query().Get("user_code"), Form: true})
}

// handleApprovePage takes the form: user_code, subject and action
// (approve, the default, or deny).
func (s *Server) handleApprovePage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		renderPage(w, http.StatusBadRequest, pageData{Message: "form-encoded body required"})
		return
	}
	if err, _ := r.Context().Value(formErrKey{}).(error); err != nil {
		renderPage(w, http.StatusBadRequest, pageData{Message: "malformed form"})
		return
	}
	code := r.PostForm.Get("user_code")
	var err error
	msg := "Device approved. You can close this window."
	switch r.PostForm.Get("action") {
	case "", "approve":
		err = s.Approve(code, r.PostForm.Get("subject"))
	case "deny":
		err = s.Deny(code)
		msg = "Request denied."
	default:
		renderPage(w, http.StatusBadRequest, pageData{Message: "unknown action", UserCode: code, Form: true})
		return
	}
	if err != nil {
		renderPage(w, http.StatusBadRequest, pageData{Message: err.Error(), UserCode: code, Form: true})
		return
	}
	renderPage(w, http.StatusOK, pageData{Message: msg})
}

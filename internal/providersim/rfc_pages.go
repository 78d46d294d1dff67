package providersim

import (
	"html/template"
	"mime"
	"net/http"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>device login</title></head><body>
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

func renderPage(c *call, status int, d pageData) {
	c.rec.Status = status
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	_ = pageTmpl.Execute(c.w, d)
}

// rfcVerificationPage is the verification_uri: a form prefilled from verification_uri_complete,
// so that an HTTP "browser" can follow the link.
func (s *Server) rfcVerificationPage(c *call) {
	if c.r.Method != http.MethodGet {
		c.w.Header().Set("Allow", http.MethodGet)
		c.html(http.StatusMethodNotAllowed, "<html><body>Method Not Allowed</body></html>")
		return
	}
	renderPage(c, http.StatusOK, pageData{UserCode: c.r.URL.Query().Get("user_code"), Form: true})
}

// rfcApprovePage takes the form: user_code, subject (the email of who approves) and action
// (approve, the default, or deny).
func (s *Server) rfcApprovePage(c *call) {
	if c.r.Method != http.MethodPost {
		c.w.Header().Set("Allow", http.MethodPost)
		c.html(http.StatusMethodNotAllowed, "<html><body>Method Not Allowed</body></html>")
		return
	}
	if mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		renderPage(c, http.StatusBadRequest, pageData{Message: "form-encoded body required"})
		return
	}
	if c.formErr != nil {
		renderPage(c, http.StatusBadRequest, pageData{Message: "malformed form"})
		return
	}
	code := c.form.Get("user_code")
	var err error
	msg := "Device approved. You can close this window."
	switch c.form.Get("action") {
	case "", "approve":
		err = s.Approve(code, c.form.Get("subject"))
	case "deny":
		err = s.Deny(code)
		msg = "Request denied."
	default:
		renderPage(c, http.StatusBadRequest, pageData{Message: "unknown action", UserCode: code, Form: true})
		return
	}
	if err != nil {
		renderPage(c, http.StatusBadRequest, pageData{Message: err.Error(), UserCode: code, Form: true})
		return
	}
	renderPage(c, http.StatusOK, pageData{Message: msg})
}

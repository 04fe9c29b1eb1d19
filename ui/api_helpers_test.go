package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// apiJSON marks an access-matrix row whose request is a JSON body (API calls that
// change something take JSON, not forms).
func apiJSON(body string) url.Values { return url.Values{"\x00json": {body}} }

func isAPIJSON(v url.Values) (string, bool) {
	b, ok := v["\x00json"]
	if !ok {
		return "", false
	}
	return b[0], true
}

// doJSON sends a JSON body with the session's CSRF token in its header, as a script
// running in the browser would.
func (c *client) doJSON(method, path, body string) *http.Response {
	c.env.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.env.ts.URL+path, strings.NewReader(body))
	if err != nil {
		c.env.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(csrfHeader, c.csrf)
	resp, err := c.http.Do(req)
	if err != nil {
		c.env.t.Fatal(err)
	}
	c.env.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

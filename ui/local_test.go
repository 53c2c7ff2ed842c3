package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLocalOnly(t *testing.T) {
	h := localOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	tests := []struct {
		name, method, host string
		headers            map[string]string
		want               int
	}{
		{"onepassctl", "POST", "127.0.0.1:8080", nil, 204},
		{"localhost", "GET", "localhost:8080", nil, 204},
		{"ipv6", "GET", "[::1]:8080", nil, 204},
		{"LAN address", "GET", "192.168.1.20:8080", nil, 204},
		{"the kiosk page", "POST", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8080"}, 204},
		{"DNS rebinding", "GET", "evil.example:8080", nil, http.StatusMisdirectedRequest},
		{"cross-site post", "POST", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site read", "GET", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, 204},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/api/tickets/issue", strings.NewReader("{}"))
		r.Host = tt.host
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.want)
		}
	}
}

package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// rawRequest announces a body of size bytes, sends it only when send is
// set (a refused body must not be written: that would race the server
// closing the connection after its 413), and returns the response.
func rawRequest(t *testing.T, addr, path, auth string, size int, send bool) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: audio/wav\r\nContent-Length: %d\r\n\r\n", path, addr, auth, size)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if send {
		_, _ = io.Copy(conn, io.LimitReader(zeros{}, int64(size)))
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Only the prompt upload may send more than the usual 1 MiB: there a
// 2 MiB body reaches the handler (which, with no audio converter in this
// test, answers 503), and one over the prompt limit is refused unread.
// Elsewhere 2 MiB is still refused, and so is an upload's worth of bytes
// from anyone but an administrator (no token, a bad one, an agent's).
func TestPromptUploadBodyLimit(t *testing.T) {
	e := newEnv(t)
	e.listen()
	auth := "Bearer " + e.login("admin").AccessToken
	resp, body := rawRequest(t, e.addr, "/api/v1/prompts?name=big", auth, 2<<20, true)
	decodeProblem(t, resp, body, 503)
	resp, body = rawRequest(t, e.addr, "/api/v1/prompts?name=huge", auth, promptBodyLimit+1, false)
	decodeProblem(t, resp, body, 413)
	resp, body = rawRequest(t, e.addr, "/api/v1/phonebook", auth, 2<<20, false)
	decodeProblem(t, resp, body, 413)
	for who, h := range map[string]string{
		"no token": "", "a bad token": "Bearer x.y.z", "an unknown API key": "Bearer rbk_nope_nope",
		"an agent": "Bearer " + e.login("alice").AccessToken,
	} {
		resp, body = rawRequest(t, e.addr, "/api/v1/prompts?name=big", h, 2<<20, false)
		if resp.StatusCode != 413 {
			t.Errorf("%s: a 2 MiB upload got %d, want 413 before the body is read", who, resp.StatusCode)
		}
		decodeProblem(t, resp, body, 413)
	}
}

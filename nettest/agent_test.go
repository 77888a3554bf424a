//go:build nettest

package nettest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/tone"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// The test binary doubles as the agent: started again inside a namespace
// with RBNET_ROLE=agent, it signs in like the browser softphone (REST,
// /ws/agent, one PeerConnection from the pion test client), plays a tone,
// and reports on stdout the calls it sees, the replies to the commands it
// reads on stdin, and running counts of the tones it hears.
func TestMain(m *testing.M) {
	if os.Getenv("RBNET_ROLE") == "agent" {
		if err := runAgent(); err != nil {
			fmt.Println("agent failed:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// agentEnv configures the helper.
type agentEnv struct {
	URL, Login, Password string
	Tone                 float64
	Hear                 []float64
	TCP, Relay           bool
}

func (e agentEnv) environ() []string {
	hear := make([]string, len(e.Hear))
	for i, h := range e.Hear {
		hear[i] = strconv.FormatFloat(h, 'f', -1, 64)
	}
	return []string{"RBNET_ROLE=agent", "RBNET_URL=" + e.URL, "RBNET_LOGIN=" + e.Login, "RBNET_PASSWORD=" + e.Password,
		"RBNET_TONE=" + strconv.FormatFloat(e.Tone, 'f', -1, 64), "RBNET_HEAR=" + strings.Join(hear, ","),
		"RBNET_TCP=" + strconv.FormatBool(e.TCP), "RBNET_RELAY=" + strconv.FormatBool(e.Relay)}
}

func runAgent() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := os.Getenv("RBNET_URL")
	toneHz, _ := strconv.ParseFloat(os.Getenv("RBNET_TONE"), 64)
	tcp, _ := strconv.ParseBool(os.Getenv("RBNET_TCP"))
	relay, _ := strconv.ParseBool(os.Getenv("RBNET_RELAY"))

	body, _ := json.Marshal(map[string]string{"tenant": "demo", "login": os.Getenv("RBNET_LOGIN"), "password": os.Getenv("RBNET_PASSWORD")})
	var res *http.Response
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res, err = http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	var tok struct{ AccessToken string }
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil || tok.AccessToken == "" {
		return fmt.Errorf("login: %d %v", res.StatusCode, err)
	}
	conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/ws/agent", http.Header{"Origin": {base}})
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	defer conn.Close()
	var wmu sync.Mutex
	write := func(m wsproto.Message) error {
		wmu.Lock()
		defer wmu.Unlock()
		return conn.WriteJSON(m)
	}
	if err := write(wsproto.Message{Type: wsproto.TypeAuth, Token: tok.AccessToken, Takeover: true}); err != nil {
		return err
	}
	var welcome wsproto.Message
	if err := conn.ReadJSON(&welcome); err != nil || welcome.Type != wsproto.TypeWelcome {
		return fmt.Errorf("welcome: %+v %v", welcome, err)
	}
	opts := peer.ClientOptions{AllInterfaces: true, TCP: tcp, RelayOnly: relay}
	if relay {
		for _, s := range welcome.Welcome.ICEServers {
			opts.ICEServers = append(opts.ICEServers, peer.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
		if len(opts.ICEServers) == 0 {
			return fmt.Errorf("the welcome has no ICE servers for a relay-only agent")
		}
	}
	capi, err := peer.NewClientAPIWith(opts)
	if err != nil {
		return err
	}
	client, err := capi.NewClient()
	if err != nil {
		return err
	}
	defer client.Close()
	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	offer, err := client.Offer(octx, false)
	ocancel()
	if err != nil {
		return fmt.Errorf("offer: %w", err)
	}
	if err := write(wsproto.Message{Type: wsproto.TypeOffer, ID: "offer", SDP: offer}); err != nil {
		return err
	}

	msgs := make(chan wsproto.Message, 256)
	go func() {
		defer close(msgs)
		for {
			var m wsproto.Message
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			msgs <- m
		}
	}()
	meters := map[float64]*tone.Meter{}
	for _, f := range strings.Split(os.Getenv("RBNET_HEAR"), ",") {
		if hz, err := strconv.ParseFloat(f, 64); err == nil {
			meters[hz] = tone.NewMeter(hz, 5)
		}
	}
	client.OnAudio(func(p []byte) {
		for _, m := range meters {
			m.Write(rtpio.CodecPCMU, p)
		}
	})
	gen := mediatest.NewToneGenerator(toneHz, 0.3, 8000)
	go func() { // running counts, when they change
		last := map[float64]int{}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for hz, m := range meters {
				if n := m.Frames(); n != last[hz] {
					last[hz] = n
					fmt.Printf("frames %.0f %d\n", hz, n)
				}
			}
		}
	}()
	go func() { // commands
		sc := bufio.NewScanner(os.Stdin)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			n++
			m := wsproto.Message{Type: f[0], ID: fmt.Sprintf("r%d", n)}
			if f[0] == wsproto.TypeDial {
				m.To = f[1]
			} else {
				m.CallID = f[1]
			}
			if err := write(m); err != nil {
				fmt.Println("send failed:", err)
			}
			fmt.Printf("sent %s %s\n", m.ID, f[0])
		}
		cancel() // stdin closed: the test is done with us
	}()
	connected := client.Connected()
	noMedia := time.After(20 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-connected:
			fmt.Println("media connected")
			client.SendAudio(gen.NextPCMU)
			connected, noMedia = nil, nil
		case <-noMedia:
			return fmt.Errorf("media never connected")
		case m, ok := <-msgs:
			if !ok {
				return fmt.Errorf("websocket closed")
			}
			if err := handle(client, m); err != nil {
				return err
			}
		}
	}
}

// handle applies one server message and reports it.
func handle(client *peer.Client, m wsproto.Message) error {
	switch {
	case m.Type == wsproto.TypeAnswer && m.ID == "offer":
		if err := client.SetAnswer(m.SDP); err != nil {
			return fmt.Errorf("answer: %w", err)
		}
	case m.Type == wsproto.TypeICE && m.Candidate != nil:
		_ = client.AddCandidate(m.Candidate.Candidate, m.Candidate.SDPMid, m.Candidate.SDPMLineIndex)
	case m.Type == wsproto.TypeCall && m.Call != nil:
		fmt.Printf("call %s %s\n", m.Call.ID, m.Call.State)
	case m.ID != "":
		call := ""
		if m.Call != nil {
			call = m.Call.ID
		}
		fmt.Printf("reply %s %s %s %s\n", m.ID, m.Type, m.Code, call)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/media/player"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/tone"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/media/wav"
)

// runDial calls a number on a ringbridge server and plays a tone or a WAV
// file into the call, so a newcomer can ring their own browser without a
// carrier.
func runDial(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	server := fs.String("server", "127.0.0.1:5060", "ringbridge SIP address")
	from := fs.String("from", "15557654321", "caller number")
	listen := fs.String("listen", "127.0.0.1:0", "local SIP address")
	toneHz := fs.Float64("tone", 440, "tone to play, Hz (ignored with -wav)")
	wavFile := fs.String("wav", "", "16-bit mono WAV file to play in a loop")
	duration := fs.Duration("duration", 30*time.Second, "hang up after this long (0 = wait for the far end)")
	digits := fs.String("dtmf", "", "RFC 4733 digits to send once answered")
	codec := fs.String("codec", "pcmu", "pcmu or pcma")
	expect := fs.Float64("expect", 0, "audio check: fail unless this tone (Hz) is heard from the far end; "+
		"prints \"tone frames N\" every -report while the call lasts")
	report := fs.Duration("report", time.Second, "how often -expect prints its running count")
	loss := fs.Float64("loss", 0, "drop this share (0 to 1) of our RTP packets at random, as a bad line would")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: ringbridge dial [flags] NUMBER"); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("dial: give exactly one number")
	}
	if *loss < 0 || *loss > 1 {
		return errors.New("dial: -loss must be between 0 and 1")
	}
	src, err := audioSource(*wavFile, *toneHz)
	if err != nil {
		return err
	}
	log := newLogger("info")
	ph, err := trunk.NewPhone(trunk.PhoneConfig{Listen: *listen, User: *from, Codec: parseCodec(*codec), Log: log})
	if err != nil {
		return err
	}
	defer ph.Close()
	target := fmt.Sprintf("sip:%s@%s", fs.Arg(0), *server)
	log.Info("dialling", "target", target, "from", *from)
	call, err := ph.Dial(ctx, target, *from)
	if err != nil {
		return err
	}
	log.Info("answered", "codec", call.Codec().String(), "sip_call_id", call.CallID())
	var meter *tone.Meter
	call.SetSendLoss(*loss)
	if *expect > 0 {
		meter = tone.NewMeter(*expect, 10)
		call.OnAudio(meter.Write)
		// A running count lets a test tell that the tone is heard again
		// after an interruption, not merely that it was heard once.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			t := time.NewTicker(max(*report, 10*time.Millisecond))
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					fmt.Printf("tone frames %d\n", meter.Frames())
				}
			}
		}()
	}
	if err := talk(ctx, log, call, src, *digits, *duration); err != nil {
		return err
	}
	if meter != nil {
		if !meter.Heard() {
			return fmt.Errorf("audio check failed: %.0f Hz was not heard from the far end", *expect)
		}
		fmt.Printf("heard %.0f Hz\n", *expect)
	}
	return nil
}

// runAnswer is a stand-in carrier: it answers every call that reaches it
// (ringbridge's outbound calls, with the default "local" trunk) and plays
// a tone, or echoes the caller's audio back.
func runAnswer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("answer", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:5080", "SIP address to listen on")
	tone := fs.Float64("tone", 1000, "tone to play, Hz")
	wavFile := fs.String("wav", "", "16-bit mono WAV file to play in a loop")
	echo := fs.Bool("echo", false, "echo the caller's audio instead of playing")
	codec := fs.String("codec", "pcmu", "pcmu or pcma")
	user := fs.String("username", "", "challenge INVITEs for this digest username")
	pass := fs.String("password", "", "digest password")
	delay := fs.Duration("delay", 0, "let each call ring this long (180 without SDP) before answering")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src, err := audioSource(*wavFile, *tone)
	if err != nil {
		return err
	}
	log := newLogger("info")
	ph, err := trunk.NewPhone(trunk.PhoneConfig{Listen: *listen, User: "carrier", Codec: parseCodec(*codec),
		Realm: "ringbridge-answer", Username: *user, Password: *pass, Log: log})
	if err != nil {
		return err
	}
	defer ph.Close()
	log.Info("answering calls", "listen", ph.Addr().String())
	for {
		select {
		case <-ctx.Done():
			return nil
		case call := <-ph.Incoming():
			log.Info("incoming call", "from", call.From, "to", call.To, "sip_call_id", call.CallID())
			var s player.Source = src
			if *echo {
				s = newEcho(call)
			}
			go func() {
				if *delay > 0 {
					select {
					case <-time.After(*delay):
					case <-call.Done():
						return
					case <-ctx.Done():
						return
					}
				}
				if err := call.Answer(ctx); err != nil {
					log.Warn("answer failed", "err", err)
					return
				}
				_ = talk(ctx, log, call, s, "", 0)
			}()
		}
	}
}

func talk(ctx context.Context, log *slog.Logger, call *trunk.PhoneCall, src player.Source, digits string, d time.Duration) error {
	call.OnDTMF(func(r rune) { log.Info("digit received", "digit", string(r)) })
	call.SendAudio(src.Next)
	if digits != "" {
		go func() {
			time.Sleep(time.Second)
			if err := call.SendDTMF(ctx, digits); err != nil {
				log.Warn("sending digits", "err", err)
			}
		}()
	}
	var timeout <-chan time.Time
	if d > 0 {
		timeout = time.After(d)
	}
	select {
	case <-call.Done():
		log.Info("call ended by far end", "rtp_received", call.RTPReceived())
		return nil
	case <-timeout:
	case <-ctx.Done():
	}
	hctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	log.Info("hanging up", "rtp_received", call.RTPReceived())
	return call.Hangup(hctx)
}

func audioSource(path string, tone float64) (player.Source, error) {
	if path == "" {
		return player.NewTone(tone, 0.3), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pcm, rate, err := wav.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return player.NewSamples(pcm, rate), nil
}

func parseCodec(s string) rtpio.Codec {
	if strings.EqualFold(s, "pcma") {
		return rtpio.CodecPCMA
	}
	return rtpio.CodecPCMU
}

// echoSource plays back what the caller sent, one frame behind.
type echoSource struct{ frames chan []byte }

func newEcho(call *trunk.PhoneCall) *echoSource {
	e := &echoSource{frames: make(chan []byte, 50)}
	call.OnAudio(func(_ rtpio.Codec, p []byte) {
		select {
		case e.frames <- append([]byte(nil), p...):
		default:
		}
	})
	return e
}

func (e *echoSource) Next(codec rtpio.Codec, dst []byte) {
	select {
	case f := <-e.frames:
		copy(dst, f)
	default:
		for i := range dst {
			dst[i] = silence(codec)
		}
	}
}

func silence(codec rtpio.Codec) byte {
	if codec == rtpio.CodecPCMA {
		return 0xD5
	}
	return 0xFF
}

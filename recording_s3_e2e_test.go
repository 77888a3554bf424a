package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/recstore"
	"github.com/ringbridge/ringbridge/cti/recstore/s3test"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/wav"
)

// get fetches path with extra request headers and returns the response
// (body read).
func (e *e2e) get(path, auth string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, "GET", e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// A recorded call with the S3-compatible store configured, through a
// crash-like stop: the bucket is gone when the call ends, so the upload
// fails and stays pending in the database; the product stops, starts
// again with the bucket back, and uploads the file then (nothing lost),
// removing the local copy. The download, from S3, honours Range (206 with
// Content-Range, 416 past the end) and the audio holds both tones.
// Retention then deletes the object, audited, and the code stops working.
func TestE2ERecordingS3UploadRangeRetention(t *testing.T) {
	s3cfg := s3test.StartVersity(t).Config("recordings")
	dataDir := t.TempDir()
	withS3 := func(c *Config) {
		c.DataDir = dataDir
		c.RecordingStorage, c.S3 = cti.StorageS3, s3cfg
		c.Tenants = map[string]TenantConfig{"demo": {Record: true}}
		c.recordingJobs = cti.RecordingJobOptions{Retry: 200 * time.Millisecond}
	}
	e := startE2E(t, withS3)
	mc, err := minio.New(s3cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3cfg.AccessKey, s3cfg.SecretKey, ""), Region: s3cfg.Region})
	if err != nil {
		t.Fatal(err)
	}
	// The store goes away: every upload now fails.
	if err := mc.RemoveBucket(e.ctx, s3cfg.Bucket); err != nil {
		t.Fatal(err)
	}
	status, body := e.api("POST", "/api/v1/api-keys", "Bearer "+e.login("admin"), map[string]string{"name": "crm"})
	var key struct{ Key string }
	if err := json.Unmarshal(body, &key); err != nil || status != 201 {
		t.Fatalf("api key: %d %s", status, body)
	}
	apiAuth := "Bearer " + key.Key

	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := call.Hangup(e.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall("ended")
	var rec struct {
		Recording *struct{ URL string } `json:"recording"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for rec.Recording == nil && time.Now().Before(deadline) {
		if status, body = e.api("GET", "/api/v1/calls/"+ring.ID, apiAuth, nil); status == 200 {
			_ = json.Unmarshal(body, &rec)
		}
		if rec.Recording == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if rec.Recording == nil {
		t.Fatalf("no recording: %s", body)
	}
	pending := func(st *cti.RecordingMeta) bool { return st.UploadPending && st.Storage == cti.StorageLocal }
	var meta *cti.RecordingMeta
	for meta == nil || !pending(meta) {
		metas, err := e.app.store.PendingRecordingUploads(e.ctx, time.Now().Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(metas) == 1 {
			meta = &metas[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recording is not pending upload: %+v", metas)
		}
	}
	if _, err := os.Stat(meta.Path); err != nil {
		t.Fatalf("the local copy must stay until uploaded: %v", err)
	}
	// Let the job fail at least once more, then stop the product.
	for {
		m, err := e.app.store.GetRecording(e.ctx, "demo", meta.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.UploadAttempts >= 1 && m.UploadPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no failed upload attempt counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.app.close()

	// The next start recreates the bucket and uploads what is pending.
	cfg := &Config{}
	*cfg = *e.app.cfg
	a2, err := newApp(e.ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a2.start()
	t.Cleanup(a2.close)
	e2 := &e2e{t: t, ctx: e.ctx, app: a2, base: a2.url(), creds: e.creds}
	s3, err := recstore.NewS3(s3cfg)
	if err != nil {
		t.Fatal(err)
	}
	var object []byte
	for object == nil {
		if r, _, err := s3.Open(e.ctx, meta.Key, 0, -1); err == nil {
			object, _ = io.ReadAll(r)
			r.Close()
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the pending recording was not uploaded after the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if int64(len(object)) != meta.SizeBytes {
		t.Fatalf("object is %d bytes, the recording %d", len(object), meta.SizeBytes)
	}
	for {
		m, err := a2.store.GetRecording(e.ctx, "demo", meta.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Storage == cti.StorageS3 && !m.UploadPending {
			break
		}
		if time.Now().After(deadline.Add(15 * time.Second)) {
			t.Fatalf("recording not marked uploaded: %+v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(meta.Path); !os.IsNotExist(err) {
		t.Fatalf("the local copy is still there after the upload: %v", err)
	}

	// Downloads now come from S3, whole and by range.
	res, whole := e2.get(rec.Recording.URL, apiAuth, nil)
	if res.StatusCode != 200 || !bytes.Equal(whole, object) || res.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("whole download: %d, %d bytes, Accept-Ranges %q", res.StatusCode, len(whole), res.Header.Get("Accept-Ranges"))
	}
	size := strconv.Itoa(len(object))
	for _, c := range []struct {
		rng, contentRange string
		from, to          int
	}{
		{"bytes=0-43", "bytes 0-43/" + size, 0, 44},
		{"bytes=1000-", "bytes 1000-" + strconv.Itoa(len(object)-1) + "/" + size, 1000, len(object)},
		{"bytes=-100", "bytes " + strconv.Itoa(len(object)-100) + "-" + strconv.Itoa(len(object)-1) + "/" + size, len(object) - 100, len(object)},
		{"bytes=5000-5999999999", "bytes 5000-" + strconv.Itoa(len(object)-1) + "/" + size, 5000, len(object)},
	} {
		res, b := e2.get(rec.Recording.URL, apiAuth, map[string]string{"Range": c.rng})
		if res.StatusCode != 206 || res.Header.Get("Content-Range") != c.contentRange || !bytes.Equal(b, object[c.from:c.to]) {
			t.Fatalf("Range %s: %d, Content-Range %q (want %q), %d bytes", c.rng, res.StatusCode, res.Header.Get("Content-Range"), c.contentRange, len(b))
		}
	}
	for _, bad := range []string{"bytes=" + size + "-", "bytes=10-5", "bytes=0-1,5-9", "items=0-1"} {
		res, b := e2.get(rec.Recording.URL, apiAuth, map[string]string{"Range": bad})
		if res.StatusCode != 416 || res.Header.Get("Content-Range") != "bytes */"+size {
			t.Fatalf("Range %s: %d, Content-Range %q: %s", bad, res.StatusCode, res.Header.Get("Content-Range"), b)
		}
	}
	if res, _ := e2.get(rec.Recording.URL, "", map[string]string{"Range": "bytes=0-43"}); res.StatusCode != 401 {
		t.Fatalf("range without credentials: %d", res.StatusCode)
	}
	// A play link works without credentials, with Range, until forged.
	status, body = e2.api("POST", rec.Recording.URL+"/play-link", apiAuth, nil)
	var link struct{ URL string }
	if err := json.Unmarshal(body, &link); err != nil || status != 200 || link.URL == "" {
		t.Fatalf("play link: %d %s", status, body)
	}
	if res, b := e2.get(link.URL, "", map[string]string{"Range": "bytes=44-143"}); res.StatusCode != 206 || !bytes.Equal(b, object[44:144]) {
		t.Fatalf("play link with a range: %d, %d bytes", res.StatusCode, len(b))
	}
	if res, _ := e2.get(strings.Replace(link.URL, "sig=", "sig=x", 1), "", nil); res.StatusCode != 401 {
		t.Fatalf("forged play link: %d, want 401", res.StatusCode)
	}
	if res, _ := e2.get(strings.Replace(link.URL, "t=demo", "t=other", 1), "", nil); res.StatusCode != 401 {
		t.Fatalf("play link for another tenant: %d, want 401", res.StatusCode)
	}
	pcm, channels, _, err := wav.ReadInterleaved(bytes.NewReader(whole))
	if err != nil || channels != 2 {
		t.Fatalf("wav from S3: %v", err)
	}
	if l, r := channelTones(pcm, 0), channelTones(pcm, 1); !l.Detected(440) || !r.Detected(1000) {
		t.Fatalf("tones in the S3 copy: left 440 %v, right 1000 %v", l.Detected(440), r.Detected(1000))
	}

	// Retention: one day; two days later the recording is gone, audited.
	admin := "Bearer " + e2.login("admin")
	if status, body := e2.api("PATCH", "/api/v1/settings", admin, map[string]int{"recordingRetentionDays": 1}); status != 200 {
		t.Fatalf("retention: %d %s", status, body)
	}
	if n := a2.svc.ApplyRecordingRetention(context.Background(), time.Now().Add(12*time.Hour)); n != 0 {
		t.Fatalf("retention deleted %d recordings younger than a day", n)
	}
	if n := a2.svc.ApplyRecordingRetention(context.Background(), time.Now().Add(48*time.Hour)); n != 1 {
		t.Fatalf("retention deleted %d recordings, want 1", n)
	}
	if _, _, err := s3.Open(e.ctx, meta.Key, 0, -1); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("the object is still in S3: %v", err)
	}
	if res, _ := e2.get(rec.Recording.URL, apiAuth, nil); res.StatusCode != 404 {
		t.Fatalf("download after retention: %d, want 404", res.StatusCode)
	}
	status, body = e2.api("GET", "/api/v1/audit", admin, nil)
	var audit struct {
		Items []struct {
			Action, Target, ActorName string
			Details                   map[string]any
		}
	}
	if err := json.Unmarshal(body, &audit); err != nil || status != 200 {
		t.Fatalf("audit: %d %s", status, body)
	}
	found := false
	for _, it := range audit.Items {
		if it.Action == "recording.delete" && it.Target == meta.ID && it.ActorName == "retention" && it.Details["callId"] == ring.ID {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit entry for the deletion: %s", body)
	}
}

// channelTones runs one channel of interleaved stereo PCM through a tone
// detector.
func channelTones(pcm []int16, ch int) *mediatest.ToneDetector {
	d := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
	mono := make([]int16, 0, len(pcm)/2)
	for i := ch; i < len(pcm); i += 2 {
		mono = append(mono, pcm[i])
	}
	d.WritePCM(mono)
	return d
}

// recordOneCall has alice answer a call from the carrier, hears both
// tones, hangs up, and returns the recording once it is waiting for
// upload with at least one failed attempt.
func recordOneCall(t *testing.T, e *e2e) cti.RecordingMeta {
	t.Helper()
	a := e.signIn("alice", 440)
	_, call := e.ringAndAnswer(a, "1001")
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // some audio in the file beyond the first tones
	if err := call.Hangup(e.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall("ended")
	deadline := time.Now().Add(15 * time.Second)
	for {
		metas, err := e.app.store.PendingRecordingUploads(e.ctx, time.Now().Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(metas) == 1 && metas[0].UploadAttempts >= 1 {
			return metas[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed upload attempt: %+v", metas)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// versitygw checks every request's SigV4 signature, as AWS does. The
// store's credentials are rotated while the product runs: its upload is
// refused (the recording stays pending, its file on the local disk, and
// is tried again); a start with the old key is refused ("recstore: s3
// bucket recordings: Access Denied."); a start with the new key uploads the pending recording, which
// then downloads whole and by Range from the store.
func TestE2ERecordingS3WrongSecretKeepsRecording(t *testing.T) {
	v := s3test.StartVersity(t)
	dataDir := t.TempDir()
	e := startE2E(t, func(c *Config) {
		c.DataDir = dataDir
		c.RecordingStorage, c.S3 = cti.StorageS3, v.Config("recordings")
		c.Tenants = map[string]TenantConfig{"demo": {Record: true}}
		c.recordingJobs = cti.RecordingJobOptions{Retry: 200 * time.Millisecond}
	})
	oldSecret := v.SecretKey
	v.Restart(t, "rotated-"+oldSecret[:20])

	meta := recordOneCall(t, e)
	if meta.Storage != cti.StorageLocal {
		t.Fatalf("storage %q after a refused upload", meta.Storage)
	}
	if st, err := os.Stat(meta.Path); err != nil || st.Size() != meta.SizeBytes {
		t.Fatalf("the local copy must stay until uploaded: %v", err)
	}
	if _, err := os.Stat(filepath.Join(v.Dir, "recordings", meta.Key)); !os.IsNotExist(err) {
		t.Fatalf("the refused upload reached the store: %v", err)
	}
	e.app.close()

	// The old key: refused at start, saying why.
	cfg := &Config{}
	*cfg = *e.app.cfg
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if a, err := newApp(e.ctx, cfg, quiet, io.Discard); err == nil {
		a.close()
		t.Fatal("started with a secret key the store refuses")
	} else if !strings.Contains(err.Error(), "Access Denied") { // a HEAD's 403 carries no error code
		t.Fatalf("start with the old key: %v, want access denied", err)
	}

	// The new key: the pending recording goes up, the local copy goes.
	cfg.S3.SecretKey = v.SecretKey
	a2, err := newApp(e.ctx, cfg, quiet, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a2.start()
	t.Cleanup(a2.close)
	deadline := time.Now().Add(20 * time.Second)
	var m *cti.RecordingMeta
	for m == nil || m.UploadPending {
		if m, err = a2.store.GetRecording(e.ctx, "demo", meta.ID); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pending recording was not uploaded with the new key: %+v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m.Storage != cti.StorageS3 {
		t.Fatalf("storage %q after the upload", m.Storage)
	}
	if st, err := os.Stat(filepath.Join(v.Dir, "recordings", meta.Key)); err != nil || st.Size() != meta.SizeBytes {
		t.Fatalf("the object in the gateway's directory: %v", err)
	}
	if _, err := os.Stat(meta.Path); !os.IsNotExist(err) {
		t.Fatalf("the local copy is still there after the upload: %v", err)
	}

	// Downloaded from the store: whole, and by Range.
	e2 := &e2e{t: t, ctx: e.ctx, app: a2, base: a2.url(), creds: e.creds}
	auth := "Bearer " + e2.login("admin")
	status, body := e2.api("GET", "/api/v1/calls/"+meta.CallID, auth, nil)
	var rec struct {
		Recording *struct{ URL string } `json:"recording"`
	}
	if err := json.Unmarshal(body, &rec); err != nil || status != 200 || rec.Recording == nil {
		t.Fatalf("call record: %d %s", status, body)
	}
	url := rec.Recording.URL
	res, whole := e2.get(url, auth, nil)
	if res.StatusCode != 200 || int64(len(whole)) != meta.SizeBytes {
		t.Fatalf("whole download: %d, %d bytes", res.StatusCode, len(whole))
	}
	res, part := e2.get(url, auth, map[string]string{"Range": "bytes=44-1043"})
	if res.StatusCode != 206 || !bytes.Equal(part, whole[44:1044]) ||
		res.Header.Get("Content-Range") != "bytes 44-1043/"+strconv.FormatInt(meta.SizeBytes, 10) {
		t.Fatalf("range download: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Range"), len(part))
	}
	pcm, channels, _, err := wav.ReadInterleaved(bytes.NewReader(whole))
	if err != nil || channels != 2 {
		t.Fatalf("wav from the store: %v", err)
	}
	if l, r := channelTones(pcm, 0), channelTones(pcm, 1); !l.Detected(440) || !r.Detected(1000) {
		t.Fatalf("tones in the stored copy: left 440 %v, right 1000 %v", l.Detected(440), r.Detected(1000))
	}
}

package storetest

import (
	"bytes"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

// Prompts: stored with their audio byte for byte, found by id or name,
// names unique per tenant, invisible to other tenants, deleted.
func testPrompts(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	Seed(t, s)
	audio := bytes.Repeat([]byte{0, 1, 2, 0xFF}, 5000)
	p := &cti.Prompt{ID: "prm_1", Name: "welcome", DurationMs: 1250, SizeBytes: len(audio), CreatedAt: t0, CreatedBy: "admin",
		Source: cti.AudioInfo{Filename: "hello.mp3", Format: "mp3", Encoding: "mp3", Rate: 44100, Channels: 2, Bytes: 9000}}
	if err := s.CreatePrompt(ctx, "a", p, audio); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"prm_1", "welcome"} {
		got, err := s.GetPrompt(ctx, "a", ref)
		if err != nil || got.ID != "prm_1" || got.Name != "welcome" || got.Source != p.Source || !got.CreatedAt.Equal(t0) || got.DurationMs != 1250 {
			t.Fatalf("get %s = %+v, %v", ref, got, err)
		}
	}
	if got, err := s.PromptAudio(ctx, "a", "prm_1"); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("audio: %d bytes, %v", len(got), err)
	}
	dup := *p
	dup.ID = "prm_2"
	wantKind(t, s.CreatePrompt(ctx, "a", &dup, audio), cti.KindConflict)
	// The same name in another tenant is another prompt.
	if err := s.CreatePrompt(ctx, "b", &dup, []byte{1}); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetPrompt(ctx, "b", "prm_1")
	wantKind(t, err, cti.KindNotFound)
	_, err = s.PromptAudio(ctx, "b", "prm_1")
	wantKind(t, err, cti.KindNotFound)
	wantKind(t, s.DeletePrompt(ctx, "b", "prm_1"), cti.KindNotFound)
	second := &cti.Prompt{ID: "prm_3", Name: "after hours", CreatedAt: t0, Source: cti.AudioInfo{Format: "wav"}}
	if err := s.CreatePrompt(ctx, "a", second, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListPrompts(ctx, "a")
	if err != nil || len(list) != 2 || list[0].Name != "after hours" || list[1].Name != "welcome" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := s.DeletePrompt(ctx, "a", "prm_1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetPrompt(ctx, "a", "welcome")
	wantKind(t, err, cti.KindNotFound)
	if got, err := s.GetPrompt(ctx, "b", "welcome"); err != nil || got.ID != "prm_2" {
		t.Fatalf("tenant b's prompt after a's was deleted: %+v, %v", got, err)
	}
}

package ivr

import (
	"errors"
	"strings"
	"testing"
)

// sample is a small valid flow: a greeting, a menu (1 sales, 2 support,
// timeout and invalid input repeat the menu), tagged callers skip it.
func sample() *Flow {
	return &Flow{ID: "main", Name: "Main line", Start: "tagged", Nodes: []Node{
		{ID: "tagged", Kind: Condition, If: &Cond{Tag: "vip"}, Then: "vip", Else: "hello"},
		{ID: "hello", Kind: Play, Say: []Sound{{Prompt: "welcome"}}, Next: "menu"},
		{ID: "menu", Kind: Menu, Say: []Sound{{ToneHz: 600, Ms: 300}}, Choices: map[string]string{"1": "sales", "2": "support"},
			TimeoutSeconds: 5, Retries: 2, OnTimeout: "menu", OnInvalid: "bye"},
		{ID: "sales", Kind: Route, To: &Target{Kind: "queue", Target: "sales"}},
		{ID: "support", Kind: Route, To: &Target{Kind: "queue", Target: "support", Priority: 1}},
		{ID: "vip", Kind: Route, To: &Target{Kind: "extension", Target: "1001"}},
		{ID: "bye", Kind: Hangup},
	}}
}

func TestValidFlow(t *testing.T) {
	if err := Validate(sample()); err != nil {
		t.Fatal(err)
	}
}

// Every refusal names the node at fault and says why.
func TestValidateRefuses(t *testing.T) {
	cases := []struct {
		name, node, want string
		change           func(f *Flow)
	}{
		{"dangling branch", "menu", `goes to "billing", which does not exist`, func(f *Flow) { f.Node("menu").Choices["3"] = "billing" }},
		{"unreachable", "orphan", "cannot be reached", func(f *Flow) {
			f.Nodes = append(f.Nodes, Node{ID: "orphan", Kind: Hangup})
		}},
		{"loop without exit", "tagged", "loops without an exit", func(f *Flow) {
			m := f.Node("menu")
			m.Choices = map[string]string{"1": "hello"}
			m.OnInvalid = "menu"
			f.Node("tagged").Then = "hello"
			f.Nodes = f.Nodes[:3]
		}},
		{"missing start", "nowhere", "start node does not exist", func(f *Flow) { f.Start = "nowhere" }},
		{"duplicate id", "bye", "used twice", func(f *Flow) { f.Nodes = append(f.Nodes, Node{ID: "bye", Kind: Hangup}) }},
		{"bad digit", "menu", "not one key", func(f *Flow) { f.Node("menu").Choices["12"] = "sales" }},
		{"unknown kind", "bye", "unknown kind", func(f *Flow) { f.Node("bye").Kind = "dance" }},
		{"bad route", "sales", "routes to a queue", func(f *Flow) { f.Node("sales").To.Kind = "mars" }},
		{"bad sound", "hello", "one of prompt, toneHz or digits", func(f *Flow) { f.Node("hello").Say = []Sound{{}} }},
		{"bad time", "tagged", "not a time", func(f *Flow) { f.Node("tagged").If = &Cond{From: "25:00"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := sample()
			c.change(f)
			err := Validate(f)
			var ve *Error
			if !errors.As(err, &ve) || ve.Node != c.node || !strings.Contains(ve.Message, c.want) {
				t.Fatalf("got %v, want node %q: …%s…", err, c.node, c.want)
			}
		})
	}
}

// A menu whose timeout and invalid branches both loop back still exits
// through a choice that routes; one whose every way leads back does not.
func TestLoopsWithAnExitAreFine(t *testing.T) {
	f := sample()
	f.Node("menu").OnInvalid = "menu"
	f.Nodes = f.Nodes[:len(f.Nodes)-1] // "bye" is no longer used
	if err := Validate(f); err != nil {
		t.Fatalf("a menu repeating itself with routing choices: %v", err)
	}
}

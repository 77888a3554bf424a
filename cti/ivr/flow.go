// Package ivr is the model of an IVR flow: a graph of nodes that a
// caller walks (play, menu, collect, CRM query, condition, set, route,
// webhook, hang up), and the rules a flow must follow before any call
// runs it. It is pure: no I/O, no goroutines, safe for concurrent use as
// long as a Flow is not modified while being read.
package ivr

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Kind is what a node does.
type Kind string

const (
	Play      Kind = "play"      // play Say, then Next
	Menu      Kind = "menu"      // play Say, wait for one digit: Choices, OnTimeout, OnInvalid
	Collect   Kind = "collect"   // play Say, collect digits into Var until # or MaxDigits
	CRMQuery  Kind = "crm"       // ask the CRM; branch on its answer (Answers), OnTimeout
	Condition Kind = "condition" // If holds: Then, else Else
	Set       Kind = "set"       // set variables (the "tag" variable is the caller's tag), then Next
	Route     Kind = "route"     // leave the flow: To a queue, extension, number or another flow
	Webhook   Kind = "webhook"   // publish Event with the call's variables, then Next
	Hangup    Kind = "hangup"    // end the call
)

// Limits keep a flow something a person can read and a call can run.
const (
	MaxNodes      = 200
	MaxSay        = 10
	MaxChoices    = 12
	MaxIDLength   = 40
	MaxRetries    = 5
	MaxTimeoutSec = 60
)

// Sound is one thing the caller hears: an uploaded prompt, a tone or
// digits played in-band.
type Sound struct {
	Prompt string  `json:"prompt,omitempty"`
	ToneHz float64 `json:"toneHz,omitempty"`
	Ms     int     `json:"ms,omitempty"`
	Digits string  `json:"digits,omitempty"`
}

// Target is where a route node sends the call.
type Target struct {
	Kind     string `json:"kind"` // queue | extension | number | flow
	Target   string `json:"target"`
	Priority int    `json:"priority,omitempty"` // queue priority (higher first)
}

// Cond is a condition node's test; every field set must hold.
type Cond struct {
	Days         []string `json:"days,omitempty"`  // mon … sun, in the tenant's time zone
	From         string   `json:"from,omitempty"`  // "09:00"
	Until        string   `json:"until,omitempty"` // "17:30"
	NotHolidays  []string `json:"notHolidays,omitempty"`
	CallerPrefix string   `json:"callerPrefix,omitempty"`
	Tag          string   `json:"tag,omitempty"` // the caller's tag equals
	Var          string   `json:"var,omitempty"` // Var equals Equals
	Equals       string   `json:"equals,omitempty"`
}

// Node is one step of a flow. Which fields count depends on Kind.
type Node struct {
	ID   string  `json:"id"`
	Kind Kind    `json:"kind"`
	Say  []Sound `json:"say,omitempty"`
	Next string  `json:"next,omitempty"`
	// Menu: digit → node; Collect: where valid input goes is Next.
	Choices        map[string]string `json:"choices,omitempty"`
	TimeoutSeconds int               `json:"timeoutSeconds,omitempty"`
	Retries        int               `json:"retries,omitempty"`
	OnTimeout      string            `json:"onTimeout,omitempty"`
	OnInvalid      string            `json:"onInvalid,omitempty"`
	// Collect.
	Var       string `json:"var,omitempty"`
	MaxDigits int    `json:"maxDigits,omitempty"`
	Pattern   string `json:"pattern,omitempty"`
	// CRM query: the answer's "branch" value → node.
	Answers map[string]string `json:"answers,omitempty"`
	// Condition.
	If   *Cond  `json:"if,omitempty"`
	Then string `json:"then,omitempty"`
	Else string `json:"else,omitempty"`
	// Set.
	Values map[string]string `json:"values,omitempty"`
	// Route.
	To *Target `json:"to,omitempty"`
	// Webhook.
	Event string `json:"event,omitempty"`
}

// Flow is a version of an IVR flow.
type Flow struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Start string `json:"start"`
	Nodes []Node `json:"nodes"`
}

// Error is a validation failure naming the node at fault ("" for the
// flow as a whole).
type Error struct {
	Node    string
	Message string
}

func (e *Error) Error() string {
	if e.Node == "" {
		return e.Message
	}
	return fmt.Sprintf("node %q: %s", e.Node, e.Message)
}

var (
	idRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	digitRE  = regexp.MustCompile(`^[0-9*#]$`)
	clockRE  = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	dateRE   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	varRE    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	eventRE  = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)
	weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

// ValidVar tells whether name can be a flow variable: 1 to 32 lower-case
// letters, digits and _, starting with a letter.
func ValidVar(name string) bool { return varRE.MatchString(name) }

// Node returns the node with id, or nil.
func (f *Flow) Node(id string) *Node {
	for i := range f.Nodes {
		if f.Nodes[i].ID == id {
			return &f.Nodes[i]
		}
	}
	return nil
}

// exits lists where a node can go next ("" is the implicit hang-up of a
// menu or collect that runs out of tries).
func (n *Node) exits() []string {
	var out []string
	add := func(ids ...string) {
		for _, id := range ids {
			if id != "" {
				out = append(out, id)
			}
		}
	}
	switch n.Kind {
	case Play, Set, Webhook, Collect:
		add(n.Next, n.OnTimeout, n.OnInvalid)
	case Menu:
		for _, d := range sortedKeys(n.Choices) {
			add(n.Choices[d])
		}
		add(n.OnTimeout, n.OnInvalid)
	case CRMQuery:
		for _, a := range sortedKeys(n.Answers) {
			add(n.Answers[a])
		}
		add(n.Next, n.OnTimeout)
	case Condition:
		add(n.Then, n.Else)
	}
	return out
}

// terminal tells whether the node can end the caller's walk: a route, a
// hang-up, or a menu/collect whose timeout or invalid input has no branch
// (the call is hung up after the last try).
func (n *Node) terminal() bool {
	switch n.Kind {
	case Route, Hangup:
		return true
	case Menu, Collect:
		return n.OnTimeout == "" || n.OnInvalid == ""
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Validate checks a flow before it is stored: every node well formed,
// every branch pointing at a node that exists, every node reachable from
// Start, and no loop without an exit (every node can reach a route or a
// hang-up). The first problem is returned, naming its node.
func Validate(f *Flow) error {
	if f.ID == "" || len(f.ID) > MaxIDLength || !idRE.MatchString(f.ID) {
		return &Error{Message: fmt.Sprintf("a flow id is 1 to %d letters, digits, - or _", MaxIDLength)}
	}
	if strings.TrimSpace(f.Name) == "" || len(f.Name) > 100 {
		return &Error{Message: "the flow needs a name (at most 100 characters)"}
	}
	if len(f.Nodes) == 0 {
		return &Error{Message: "the flow has no nodes"}
	}
	if len(f.Nodes) > MaxNodes {
		return &Error{Message: fmt.Sprintf("the flow has %d nodes; at most %d", len(f.Nodes), MaxNodes)}
	}
	seen := map[string]bool{}
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if n.ID == "" || len(n.ID) > MaxIDLength || !idRE.MatchString(n.ID) {
			return &Error{Node: n.ID, Message: fmt.Sprintf("an id is 1 to %d letters, digits, - or _", MaxIDLength)}
		}
		if seen[n.ID] {
			return &Error{Node: n.ID, Message: "the id is used twice"}
		}
		seen[n.ID] = true
	}
	if f.Start == "" || !seen[f.Start] {
		return &Error{Node: f.Start, Message: "the start node does not exist"}
	}
	for i := range f.Nodes {
		if err := checkNode(&f.Nodes[i]); err != nil {
			return err
		}
		for _, to := range f.Nodes[i].exits() {
			if !seen[to] {
				return &Error{Node: f.Nodes[i].ID, Message: fmt.Sprintf("goes to %q, which does not exist", to)}
			}
		}
	}
	reached := reachable(f)
	for _, n := range f.Nodes {
		if !reached[n.ID] {
			return &Error{Node: n.ID, Message: "cannot be reached from the start"}
		}
	}
	exits := canExit(f)
	for _, n := range f.Nodes {
		if !exits[n.ID] {
			return &Error{Node: n.ID, Message: "loops without an exit: no route or hang-up can be reached from it"}
		}
	}
	return nil
}

// reachable walks the flow from Start.
func reachable(f *Flow) map[string]bool {
	seen := map[string]bool{f.Start: true}
	todo := []string{f.Start}
	for len(todo) > 0 {
		n := f.Node(todo[len(todo)-1])
		todo = todo[:len(todo)-1]
		for _, to := range n.exits() {
			if !seen[to] {
				seen[to] = true
				todo = append(todo, to)
			}
		}
	}
	return seen
}

// canExit finds the nodes from which a terminal node can be reached,
// walking the edges backwards from every terminal.
func canExit(f *Flow) map[string]bool {
	into := map[string][]string{}
	var todo []string
	ok := map[string]bool{}
	for i := range f.Nodes {
		n := &f.Nodes[i]
		for _, to := range n.exits() {
			into[to] = append(into[to], n.ID)
		}
		if n.terminal() {
			ok[n.ID] = true
			todo = append(todo, n.ID)
		}
	}
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, from := range into[id] {
			if !ok[from] {
				ok[from] = true
				todo = append(todo, from)
			}
		}
	}
	return ok
}

// checkNode checks the fields a node's kind needs.
func checkNode(n *Node) error {
	bad := func(format string, a ...any) error { return &Error{Node: n.ID, Message: fmt.Sprintf(format, a...)} }
	if len(n.Say) > MaxSay {
		return bad("plays %d sounds; at most %d", len(n.Say), MaxSay)
	}
	for _, s := range n.Say {
		if err := checkSound(s); err != "" {
			return bad("%s", err)
		}
	}
	if n.TimeoutSeconds < 0 || n.TimeoutSeconds > MaxTimeoutSec {
		return bad("timeoutSeconds must be 0 to %d", MaxTimeoutSec)
	}
	if n.Retries < 0 || n.Retries > MaxRetries {
		return bad("retries must be 0 to %d", MaxRetries)
	}
	switch n.Kind {
	case Play:
		if len(n.Say) == 0 {
			return bad("a play node plays something (say)")
		}
		if n.Next == "" {
			return bad("a play node needs next")
		}
	case Menu:
		if len(n.Choices) == 0 || len(n.Choices) > MaxChoices {
			return bad("a menu has 1 to %d choices", MaxChoices)
		}
		for d := range n.Choices {
			if !digitRE.MatchString(d) {
				return bad("choice %q is not one key (0-9, * or #)", d)
			}
		}
	case Collect:
		if !varRE.MatchString(n.Var) {
			return bad("a collect node stores into var (lower-case letters, digits, _)")
		}
		if n.MaxDigits < 1 || n.MaxDigits > 32 {
			return bad("maxDigits must be 1 to 32")
		}
		if n.Pattern != "" {
			if _, err := regexp.Compile(n.Pattern); err != nil {
				return bad("pattern: %v", err)
			}
		}
		if n.Next == "" {
			return bad("a collect node needs next")
		}
	case CRMQuery:
		if len(n.Answers) == 0 && n.Next == "" {
			return bad("a CRM query branches on answers, or goes on to next")
		}
		if n.OnTimeout == "" {
			return bad("a CRM query needs onTimeout (the CRM may not answer in time)")
		}
	case Condition:
		if n.If == nil {
			return bad("a condition needs if")
		}
		if n.Then == "" || n.Else == "" {
			return bad("a condition needs then and else")
		}
		if err := checkCond(n.If); err != "" {
			return bad("%s", err)
		}
	case Set:
		if len(n.Values) == 0 {
			return bad("a set node sets values")
		}
		for k := range n.Values {
			if !varRE.MatchString(k) {
				return bad("%q is not a variable name", k)
			}
		}
		if n.Next == "" {
			return bad("a set node needs next")
		}
	case Route:
		if n.To == nil || n.To.Target == "" {
			return bad("a route node needs to")
		}
		if !slices.Contains([]string{"queue", "extension", "number", "flow"}, n.To.Kind) {
			return bad("routes to a queue, extension, number or flow, not %q", n.To.Kind)
		}
	case Webhook:
		if !eventRE.MatchString(n.Event) {
			return bad("event must be lower-case words with dots, such as ivr.survey")
		}
		if n.Next == "" {
			return bad("a webhook node needs next")
		}
	case Hangup:
	default:
		return bad("unknown kind %q", n.Kind)
	}
	return nil
}

func checkSound(s Sound) string {
	set := 0
	for _, on := range []bool{s.Prompt != "", s.ToneHz != 0, s.Digits != ""} {
		if on {
			set++
		}
	}
	switch {
	case set != 1:
		return "each sound is one of prompt, toneHz or digits"
	case s.ToneHz != 0 && (s.ToneHz < 50 || s.ToneHz > 4000 || s.Ms < 20 || s.Ms > 10000):
		return "a tone is 50 to 4000 Hz for 20 to 10000 ms"
	case s.Digits != "" && strings.Trim(s.Digits, "0123456789*#ABCD") != "":
		return "digits are 0-9, *, #, A-D"
	}
	return ""
}

func checkCond(c *Cond) string {
	for _, d := range c.Days {
		if !slices.Contains(weekdays, d) {
			return fmt.Sprintf("day %q is not one of %v", d, weekdays)
		}
	}
	for _, t := range []string{c.From, c.Until} {
		if t != "" && !clockRE.MatchString(t) {
			return fmt.Sprintf("%q is not a time such as 09:00", t)
		}
	}
	for _, h := range c.NotHolidays {
		if !dateRE.MatchString(h) {
			return fmt.Sprintf("holiday %q is not a date such as 2026-12-25", h)
		}
	}
	if (c.Var == "") != (c.Equals == "") && c.Var == "" {
		return "equals needs var"
	}
	return ""
}

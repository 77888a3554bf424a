package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The dependency rules of STYLE.md, checked on the real import graph as
// `go list -deps` reports it (after tailscale's tstest/deptest). Each
// violation names the importer, the import and, for a transitive one, the
// chain that brings it in.

// depPackage is the part of `go list -json` output the rules need.
type depPackage struct {
	ImportPath   string
	Name         string
	Standard     bool
	DepOnly      bool
	Module       *struct{ Path string }
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// Patterns: "x/..." matches x and everything below it; anything else
// matches exactly. "{mod}" stands for the module path.
var (
	depWeb   = []string{"github.com/gofiber/...", "github.com/valyala/fasthttp/...", "github.com/fasthttp/..."}
	depSIP   = []string{"github.com/emiago/sipgo/..."}
	depPion  = []string{"github.com/pion/..."}
	depJWT   = []string{"github.com/golang-jwt/..."}
	depSQL   = []string{"database/sql/...", "modernc.org/...", "github.com/lib/pq/...", "github.com/jackc/...", "github.com/mattn/go-sqlite3/...", "github.com/go-sql-driver/..."}
	depEdge  = []string{"{mod}/server/..."}
	depMedia = []string{"{mod}/media/..."}
	depRTC   = []string{"github.com/pion/webrtc/v4/..."}
	depHTTP  = []string{"net/http/..."}
	// Test-only code that non-test packages must not import, besides the
	// module's own *test packages.
	depTestOnly = []string{"testing/...", "net/http/httptest", "go.uber.org/goleak/..."}
)

func depJoin(lists ...[]string) []string { return slices.Concat(lists...) }

// depLayerRule forbids what a set of packages may depend on, directly or
// through other packages.
type depLayerRule struct {
	name      string
	applies   func(rel string) bool // rel: the path inside the module, "" for the root
	forbidden []string
	// deps checks the packages' own dependencies, direct and indirect;
	// tests checks the direct imports of their _test.go files.
	deps, tests bool
}

func depUnder(dir string) func(string) bool {
	return func(rel string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }
}

var depLayerRules = []depLayerRule{
	{
		name: "cti is the domain: no web, SIP, WebRTC, JWT or SQL, and no server or media",
		applies: func(rel string) bool {
			return depUnder("cti")(rel) && !depUnder("cti/store")(rel) && !depUnder("cti/recstore")(rel)
		},
		forbidden: depJoin(depWeb, depSIP, depPion, depJWT, depSQL, depEdge, depMedia),
		deps:      true,
	},
	{
		name:    "cti/recstore keeps recording files (a directory, an S3 client): no web framework, SIP, WebRTC, JWT, SQL, server or media",
		applies: depUnder("cti/recstore"),
		// database/sql/driver alone comes with google/uuid (minio-go).
		forbidden: depJoin(depWeb, depSIP, depPion, depJWT, []string{"database/sql"}, depSQL[1:], depEdge, depMedia),
		deps:      true,
	},
	{
		name:      "cti/store persists: SQL yes, but no web, SIP, WebRTC or JWT, and no server or media",
		applies:   depUnder("cti/store"),
		forbidden: depJoin(depWeb, depSIP, depPion, depJWT, depEdge, depMedia),
		deps:      true,
	},
	{
		name: "the cti core knows no HTTP: CRM and webhook clients are adapters in their own packages",
		applies: func(rel string) bool {
			return rel == "cti" || depUnder("cti/ctitest")(rel)
		},
		forbidden: depHTTP,
		deps:      true,
	},
	{
		name:    "media is the voice path: no web framework, JWT, SQL or edge",
		applies: depUnder("media"),
		// database/sql/driver alone comes with google/uuid (pion, sipgo).
		forbidden: depJoin(depWeb, depJWT, depEdge, []string{"database/sql"}, depSQL[1:]),
		deps:      true,
	},
	{
		name:      "cti tests stay in their layer",
		applies:   depUnder("cti"),
		forbidden: depJoin(depEdge, depMedia),
		tests:     true,
	},
	{
		name:      "server reaches media only through cti",
		applies:   depUnder("server"),
		forbidden: depMedia,
		deps:      true,
		tests:     true,
	},
	{
		name: "g711, dtmf and rtpio are leaves: no sipgo, no pion/webrtc",
		applies: func(rel string) bool {
			return depUnder("media/g711")(rel) || depUnder("media/dtmf")(rel) || depUnder("media/rtpio")(rel)
		},
		forbidden: depJoin(depSIP, depRTC),
		deps:      true,
	},
}

// depOwners: only the owner may import the library directly.
var depOwners = []struct {
	lib   []string
	owner string
}{
	{depSIP, "media/trunk"},
	{depRTC, "media/peer"},
}

// depMatch reports whether path matches pattern.
func depMatch(pattern, module, path string) bool {
	pattern = strings.ReplaceAll(pattern, "{mod}", module)
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func depMatchAny(patterns []string, module, path string) bool {
	for _, p := range patterns {
		if depMatch(p, module, path) {
			return true
		}
	}
	return false
}

// depRel is path inside module, or ok=false outside it.
func depRel(module, path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// depIsTestHelper reports whether path is one of the module's *test
// packages (mediatest, ctitest, ...).
func depIsTestHelper(module, path string) bool {
	rel, ok := depRel(module, path)
	return ok && rel != "" && strings.HasSuffix(rel[strings.LastIndex(rel, "/")+1:], "test")
}

// depChain returns the shortest import chain from one package to every
// package it depends on, as a map from dependency to its chain.
func depChains(graph map[string]*depPackage, from string) map[string][]string {
	chains := map[string][]string{from: {from}}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		pkg := graph[p]
		if pkg == nil {
			continue
		}
		for _, imp := range pkg.Imports {
			if _, seen := chains[imp]; seen {
				continue
			}
			chains[imp] = append(slices.Clip(chains[p]), imp)
			queue = append(queue, imp)
		}
	}
	delete(chains, from)
	return chains
}

// checkDeps returns one message per violated rule and import. pkgs is the
// output of `go list -deps -json ./...` for module.
func checkDeps(module string, pkgs []depPackage) []string {
	graph := map[string]*depPackage{}
	var own []*depPackage // the module's packages
	for i := range pkgs {
		p := &pkgs[i]
		graph[p.ImportPath] = p
		if _, ok := depRel(module, p.ImportPath); ok && !p.Standard {
			own = append(own, p)
		}
	}
	slices.SortFunc(own, func(a, b *depPackage) int { return strings.Compare(a.ImportPath, b.ImportPath) })

	var bad []string
	report := func(rule, importer, imp string, chain []string) {
		msg := fmt.Sprintf("%s: %s imports %s", rule, importer, imp)
		if len(chain) > 2 {
			msg += " (via " + strings.Join(chain, " -> ") + ")"
		}
		bad = append(bad, msg)
	}
	for _, p := range own {
		rel, _ := depRel(module, p.ImportPath)
		testImports := depJoin(p.TestImports, p.XTestImports)

		for _, r := range depLayerRules {
			if !r.applies(rel) {
				continue
			}
			if r.deps {
				chains := depChains(graph, p.ImportPath)
				deps := make([]string, 0, len(chains))
				for d := range chains {
					deps = append(deps, d)
				}
				slices.Sort(deps)
				for _, d := range deps {
					chain := chains[d]
					if !depMatchAny(r.forbidden, module, d) {
						continue
					}
					// Name only the first forbidden package on a chain, not
					// everything behind it.
					if slices.ContainsFunc(chain[1:len(chain)-1], func(q string) bool { return depMatchAny(r.forbidden, module, q) }) {
						continue
					}
					report(r.name, p.ImportPath, d, chain)
				}
			}
			if r.tests {
				for _, imp := range testImports {
					if imp != p.ImportPath && depMatchAny(r.forbidden, module, imp) {
						report(r.name+" (in _test.go)", p.ImportPath, imp, nil)
					}
				}
			}
		}

		for _, o := range depOwners {
			if rel == o.owner {
				continue
			}
			for _, imp := range p.Imports {
				if depMatchAny(o.lib, module, imp) {
					report("only "+o.owner+" imports "+strings.TrimSuffix(o.lib[0], "/..."), p.ImportPath, imp, nil)
				}
			}
		}

		// Nothing imports the root package or server, except main (and
		// a package's own external tests).
		for _, target := range []string{module, module + "/server"} {
			if p.ImportPath == module || p.ImportPath == target {
				continue
			}
			if slices.Contains(p.Imports, target) {
				report("only main imports "+target, p.ImportPath, target, nil)
			}
			if slices.Contains(testImports, target) {
				report("only main imports "+target+" (in _test.go)", p.ImportPath, target, nil)
			}
		}

		// Test helpers are for _test.go files only.
		if !depIsTestHelper(module, p.ImportPath) {
			for _, imp := range p.Imports {
				if depIsTestHelper(module, imp) || imp == "testing" || depMatchAny(depTestOnly, module, imp) {
					report("test-only package in non-test code", p.ImportPath, imp, nil)
				}
			}
		}
	}
	return bad
}

// goListDeps runs `go list -deps -json` on the module and returns the
// module path and every package in the import graph.
func goListDeps(t *testing.T) (string, []depPackage) {
	t.Helper()
	// go test puts its own GOROOT/bin first on PATH (Go 1.19+), so this is
	// the same toolchain that runs the test.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check dependency rules: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps",
		"-json=ImportPath,Name,Standard,DepOnly,Module,Imports,TestImports,XTestImports", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []depPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p depPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	// The packages matched by ./... (not DepOnly) are the main module's.
	for _, p := range pkgs {
		if !p.DepOnly && p.Module != nil {
			return p.Module.Path, pkgs
		}
	}
	t.Fatal("go list reported no package of the main module")
	return "", nil
}

func TestDependencyRules(t *testing.T) {
	module, pkgs := goListDeps(t)
	if module != "github.com/ringbridge/ringbridge" {
		t.Fatalf("module %q", module)
	}
	// Guard against a vacuous pass: the packages the rules are about must
	// be in the graph, and the owners must really import their libraries.
	byPath := map[string]depPackage{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	for _, rel := range []string{"cti", "server", "media", "media/trunk", "media/peer", "media/rtpio", "media/g711", "media/dtmf"} {
		if _, ok := byPath[module+"/"+rel]; !ok {
			t.Errorf("package %s missing from go list output", rel)
		}
	}
	if !slices.Contains(byPath[module+"/media/trunk"].Imports, "github.com/emiago/sipgo") {
		t.Error("media/trunk no longer imports sipgo; update the owner rule")
	}
	if !slices.Contains(byPath[module+"/media/peer"].Imports, "github.com/pion/webrtc/v4") {
		t.Error("media/peer no longer imports pion/webrtc; update the owner rule")
	}
	for _, msg := range checkDeps(module, pkgs) {
		t.Error(msg)
	}
}

// The checker itself, on a synthetic graph with one violation per rule.
func TestDependencyRulesCatchViolations(t *testing.T) {
	const mod = "example.com/rb"
	pkg := func(path string, imports ...string) depPackage {
		return depPackage{ImportPath: path, Imports: imports, Module: &struct{ Path string }{mod}}
	}
	clean := []depPackage{
		pkg(mod, mod+"/cti", mod+"/media", mod+"/server", mod+"/cti/store/sqlite"),
		pkg(mod+"/cti", "context", "fmt"),
		pkg(mod+"/cti/store/sqlite", mod+"/cti", "database/sql", "modernc.org/sqlite"),
		pkg(mod+"/server", mod+"/cti", mod+"/server/wsproto", "github.com/gofiber/fiber/v2", "github.com/golang-jwt/jwt/v5"),
		pkg(mod + "/server/wsproto"),
		pkg(mod+"/media", mod+"/cti", mod+"/media/trunk", mod+"/media/peer"),
		pkg(mod+"/media/trunk", mod+"/cti", mod+"/media/rtpio", "github.com/emiago/sipgo", "github.com/emiago/sipgo/sip"),
		pkg(mod+"/media/peer", mod+"/cti", mod+"/media/rtpio", "github.com/pion/webrtc/v4"),
		pkg(mod+"/media/rtpio", mod+"/media/dtmf", mod+"/media/g711", "github.com/pion/rtp"),
		pkg(mod + "/media/dtmf"),
		pkg(mod + "/media/g711"),
		pkg(mod+"/media/mediatest", mod+"/media/g711", "testing"),
		{ImportPath: "github.com/gofiber/fiber/v2", Imports: []string{"github.com/valyala/fasthttp"}},
		{ImportPath: "database/sql", Standard: true},
		{ImportPath: "testing", Standard: true},
	}
	for i := range clean {
		if clean[i].ImportPath == mod+"/media/trunk" {
			// Tests may use the test helpers and anything else.
			clean[i].XTestImports = []string{mod + "/media/mediatest", "testing", "github.com/pion/webrtc/v4"}
		}
	}
	if got := checkDeps(mod, clean); len(got) != 0 {
		t.Fatalf("clean graph reported:\n%s", strings.Join(got, "\n"))
	}

	cases := []struct {
		name string
		pkgs []depPackage
		want []string // substrings of one message each
	}{
		{"cti imports a web framework through a helper", []depPackage{
			pkg(mod+"/cti", mod+"/cti/crm"),
			pkg(mod+"/cti/crm", "github.com/valyala/fasthttp"),
		}, []string{
			mod + "/cti imports github.com/valyala/fasthttp (via " + mod + "/cti -> " + mod + "/cti/crm -> github.com/valyala/fasthttp)",
			mod + "/cti/crm imports github.com/valyala/fasthttp",
		}},
		{"cti imports media", []depPackage{pkg(mod+"/cti", mod+"/media/g711"), pkg(mod + "/media/g711")},
			[]string{mod + "/cti imports " + mod + "/media/g711"}},
		{"cti imports pion, jwt and SQL", []depPackage{pkg(mod+"/cti", "github.com/pion/rtp", "github.com/golang-jwt/jwt/v5", "database/sql/driver")},
			[]string{"cti imports github.com/pion/rtp", "cti imports github.com/golang-jwt/jwt/v5", "cti imports database/sql/driver"}},
		{"store imports server", []depPackage{pkg(mod+"/cti/store/pg", "github.com/jackc/pgx/v5", mod+"/server"), pkg(mod + "/server")},
			[]string{"cti/store persists", mod + "/cti/store/pg imports " + mod + "/server"}},
		{"store imports sipgo", []depPackage{pkg(mod+"/cti/store", "github.com/emiago/sipgo")},
			[]string{mod + "/cti/store imports github.com/emiago/sipgo"}},
		{"cti test imports media", []depPackage{{ImportPath: mod + "/cti", XTestImports: []string{mod + "/media/trunk"}}},
			[]string{"(in _test.go): " + mod + "/cti imports " + mod + "/media/trunk"}},
		{"server imports media", []depPackage{pkg(mod+"/server/api", mod+"/media/bridge"), pkg(mod + "/media/bridge")},
			[]string{"server reaches media only through cti: " + mod + "/server/api imports " + mod + "/media/bridge"}},
		{"server test imports media", []depPackage{{ImportPath: mod + "/server", TestImports: []string{mod + "/media"}}},
			[]string{"(in _test.go): " + mod + "/server imports " + mod + "/media"}},
		{"sipgo outside trunk", []depPackage{pkg(mod+"/media/player", "github.com/emiago/sipgo/sip")},
			[]string{"only media/trunk imports github.com/emiago/sipgo: " + mod + "/media/player imports github.com/emiago/sipgo/sip"}},
		{"webrtc outside peer", []depPackage{pkg(mod+"/media", "github.com/pion/webrtc/v4")},
			[]string{"only media/peer imports github.com/pion/webrtc/v4: " + mod + "/media imports github.com/pion/webrtc/v4"}},
		{"rtpio reaches webrtc through peer", []depPackage{
			pkg(mod+"/media/rtpio", mod+"/media/peer"),
			pkg(mod+"/media/peer", "github.com/pion/webrtc/v4"),
		}, []string{"no pion/webrtc: " + mod + "/media/rtpio imports github.com/pion/webrtc/v4 (via"}},
		{"dtmf imports sipgo", []depPackage{pkg(mod+"/media/dtmf", "github.com/emiago/sipgo")},
			[]string{"no pion/webrtc: " + mod + "/media/dtmf imports github.com/emiago/sipgo"}},
		{"media imports server", []depPackage{pkg(mod+"/media", mod+"/server"), pkg(mod + "/server")},
			[]string{"only main imports " + mod + "/server: " + mod + "/media imports " + mod + "/server"}},
		{"a test elsewhere imports server", []depPackage{{ImportPath: mod + "/media/peer", XTestImports: []string{mod + "/server"}}},
			[]string{"(in _test.go): " + mod + "/media/peer imports " + mod + "/server"}},
		{"a package imports the root", []depPackage{pkg(mod+"/server/wsproto", mod)},
			[]string{"only main imports " + mod + ": " + mod + "/server/wsproto imports " + mod}},
		{"non-test code imports mediatest", []depPackage{pkg(mod+"/media/player", mod+"/media/mediatest"), pkg(mod + "/media/mediatest")},
			[]string{"test-only package in non-test code: " + mod + "/media/player imports " + mod + "/media/mediatest"}},
		{"non-test code imports ctitest", []depPackage{pkg(mod+"/server", mod+"/cti/ctitest")},
			[]string{mod + "/server imports " + mod + "/cti/ctitest"}},
		{"non-test code imports testing", []depPackage{pkg(mod+"/media/g711", "testing")},
			[]string{"test-only package in non-test code: " + mod + "/media/g711 imports testing"}},
		{"non-test code imports goleak", []depPackage{pkg(mod+"/server", "go.uber.org/goleak")},
			[]string{mod + "/server imports go.uber.org/goleak"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := checkDeps(mod, c.pkgs)
			for _, want := range c.want {
				found := false
				for _, msg := range got {
					found = found || strings.Contains(msg, want)
				}
				if !found {
					t.Errorf("no violation containing %q; got:\n%s", want, strings.Join(got, "\n"))
				}
			}
		})
	}
}

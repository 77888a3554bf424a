package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

// ringbridge admin works on the database directly — the same file a
// running server uses, which sees the changes within a second (docs/
// admin.md) — for a new install and for scripts. Every change goes
// through the same cti code as the REST API and is audited as "cli:<os
// user>".

const adminUsage = `usage: ringbridge admin [-config file] [-data dir] COMMAND [flags]

commands:
  init            -tenant ID -name NAME -admin USERNAME [-password PW]
                  the first tenant and its super-admin, on an empty database
  create-tenant   -tenant ID -name NAME -admin USERNAME [-password PW]
  create-user     -tenant ID -username U [-name N] [-ext E] [-role agent|supervisor|admin|api]
                  [-teams a,b] [-password PW] [-super]
  import-users    -tenant ID FILE.csv   (- for stdin; columns in docs/admin.md)
  reset-password  -tenant ID -user USERNAME [-password PW]
  add-number      -tenant ID -number N -ext E [-route extension|crm|queue|ivr] [-target T]
  list-numbers    -tenant ID
  list-users      -tenant ID

Passwords left out are generated and printed once.`

func runAdmin(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, adminUsage) }
	cfgPath := fs.String("config", "", "JSON config file (env RINGBRIDGE_CONFIG); only dataDir, store and postgresUrl are used")
	dataDir := fs.String("data", "", "data directory (default: the config's dataDir)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("admin: a command is required")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("admin: data dir: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := cti.New(cti.Config{}, st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc.Close()
	a := &adminCmd{ctx: ctx, st: st, svc: svc, out: out, who: osUser()}
	switch cmd {
	case "init":
		return a.createTenant(rest, true)
	case "create-tenant":
		return a.createTenant(rest, false)
	case "create-user":
		return a.createUser(rest)
	case "import-users":
		return a.importUsers(rest)
	case "reset-password":
		return a.resetPassword(rest)
	case "add-number":
		return a.addNumber(rest)
	case "list-numbers":
		return a.listNumbers(rest)
	case "list-users":
		return a.listUsers(rest)
	}
	fs.Usage()
	return fmt.Errorf("admin: unknown command %q", cmd)
}

type adminCmd struct {
	ctx context.Context
	st  *sqlstore.Store
	svc *cti.Service
	out io.Writer
	who string
}

func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// flags parses a command's flags; every command needs -tenant.
func (a *adminCmd) flags(name string, args []string, def func(*flag.FlagSet)) (*flag.FlagSet, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.out)
	tenant := fs.String("tenant", "", "tenant id")
	def(fs)
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if *tenant == "" {
		return nil, "", fmt.Errorf("%s: -tenant is required", name)
	}
	return fs, *tenant, nil
}

// explain turns a domain error into a line for the terminal, naming each
// invalid field.
func explain(err error) error {
	if f := cti.ErrorFields(err); len(f) > 0 {
		var b strings.Builder
		for _, fe := range f {
			fmt.Fprintf(&b, "\n  %s: %s", fe.Field, fe.Message)
		}
		return fmt.Errorf("invalid input:%s", b.String())
	}
	return err
}

func (a *adminCmd) createTenant(args []string, first bool) error {
	var name, admin, pw *string
	_, tenant, err := a.flags("create-tenant", args, func(fs *flag.FlagSet) {
		name = fs.String("name", "", "display name")
		admin = fs.String("admin", "", "username of the tenant's first admin")
		pw = fs.String("password", "", "admin password (default: generated)")
	})
	if err != nil {
		return err
	}
	if first {
		ts, err := a.st.ListTenants(a.ctx)
		if err != nil {
			return err
		}
		if len(ts) > 0 {
			return fmt.Errorf("init: the database already has tenants; use create-tenant")
		}
	}
	if *admin == "" {
		return errors.New("create-tenant: -admin is required")
	}
	p := cti.SystemPrincipal(tenant, a.who)
	t, err := a.svc.CreateTenant(a.ctx, p, cti.NewTenant{ID: tenant, Name: *name,
		Admin: cti.UserInput{Username: *admin, Password: *pw, SuperAdmin: first}})
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(a.out, "tenant %s (%s) created; admin %s", t.Tenant.ID, t.Tenant.Name, t.Admin.Username)
	if first {
		fmt.Fprint(a.out, " (super-admin)")
	}
	fmt.Fprintln(a.out)
	if t.Admin.Password != "" {
		fmt.Fprintf(a.out, "password: %s\n", t.Admin.Password)
	}
	return nil
}

func (a *adminCmd) createUser(args []string) error {
	var username, name, ext, role, teams, pw *string
	var super *bool
	_, tenant, err := a.flags("create-user", args, func(fs *flag.FlagSet) {
		username = fs.String("username", "", "login name")
		name = fs.String("name", "", "display name")
		ext = fs.String("ext", "", "extension (agents)")
		role = fs.String("role", "agent", "agent, supervisor, admin or api")
		teams = fs.String("teams", "", "comma-separated teams")
		pw = fs.String("password", "", "password (default: generated)")
		super = fs.Bool("super", false, "with -role admin: a super-admin, who may manage tenants")
	})
	if err != nil {
		return err
	}
	in := cti.UserInput{Username: *username, DisplayName: *name, Extension: *ext, Role: cti.Role(*role), Password: *pw, SuperAdmin: *super}
	if *teams != "" {
		in.Teams = strings.Split(*teams, ",")
	}
	u, err := a.svc.CreateUser(a.ctx, cti.SystemPrincipal(tenant, a.who), in)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(a.out, "user %s (%s) created in %s\n", u.Username, u.ID, tenant)
	if u.Password != "" {
		fmt.Fprintf(a.out, "password: %s\n", u.Password)
	}
	return nil
}

func (a *adminCmd) importUsers(args []string) error {
	fs, tenant, err := a.flags("import-users", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("import-users: give one CSV file (- for stdin)")
	}
	var r io.Reader = os.Stdin
	if f := fs.Arg(0); f != "-" {
		fh, err := os.Open(f)
		if err != nil {
			return fmt.Errorf("import-users: %w", err)
		}
		defer fh.Close()
		r = fh
	}
	users, err := a.svc.ImportUsersCSV(a.ctx, cti.SystemPrincipal(tenant, a.who), r)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(a.out, "%d users created in %s\nusername,extension,password\n", len(users), tenant)
	for _, u := range users {
		fmt.Fprintf(a.out, "%s,%s,%s\n", u.Username, u.Extension, u.Password)
	}
	return nil
}

func (a *adminCmd) resetPassword(args []string) error {
	var login, pw *string
	_, tenant, err := a.flags("reset-password", args, func(fs *flag.FlagSet) {
		login = fs.String("user", "", "username or extension")
		pw = fs.String("password", "", "new password (default: generated)")
	})
	if err != nil {
		return err
	}
	u, err := a.st.FindUserByLogin(a.ctx, tenant, *login)
	if err != nil {
		return fmt.Errorf("reset-password: %s: %w", *login, err)
	}
	gen, err := a.svc.ResetPassword(a.ctx, cti.SystemPrincipal(tenant, a.who), u.ID, *pw)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(a.out, "password of %s reset; open sessions ended\n", u.Username)
	if gen != "" {
		fmt.Fprintf(a.out, "password: %s\n", gen)
	}
	return nil
}

func (a *adminCmd) addNumber(args []string) error {
	var num, ext, route, target, label *string
	_, tenant, err := a.flags("add-number", args, func(fs *flag.FlagSet) {
		num = fs.String("number", "", "the DID, E.164 (+3612345678) or internal")
		ext = fs.String("ext", "", "extension to ring, or the fallback")
		route = fs.String("route", "extension", "extension, crm, queue or ivr")
		target = fs.String("target", "", "queue or IVR flow")
		label = fs.String("label", "", "a note")
	})
	if err != nil {
		return err
	}
	n, err := a.svc.CreateNumber(a.ctx, cti.SystemPrincipal(tenant, a.who), cti.NumberInput{Number: *num,
		Extension: *ext, Route: cti.RouteKind(*route), Target: *target, Label: *label})
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(a.out, "number %s (%s) routes to %s %s\n", n.Number, n.ID, n.Route, n.Extension)
	return nil
}

func (a *adminCmd) listNumbers(args []string) error {
	_, tenant, err := a.flags("list-numbers", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	nums, err := a.svc.ListNumbers(a.ctx, cti.SystemPrincipal(tenant, a.who))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tROUTE\tEXTENSION\tTARGET\tID")
	for _, n := range nums {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Number, n.Route, n.Extension, n.Target, n.ID)
	}
	return tw.Flush()
}

func (a *adminCmd) listUsers(args []string) error {
	_, tenant, err := a.flags("list-users", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	users, err := a.st.ListUsers(a.ctx, tenant)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tROLE\tEXTENSION\tTEAMS\tDISABLED\tID")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", u.Username, u.Role, u.Extension, strings.Join(u.Teams, ","), u.Disabled(), u.ID)
	}
	return tw.Flush()
}

package cti

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CSV import and export of users, for onboarding a whole team. The header
// row names the columns (any order; unknown columns are an error so a
// typo does not silently drop data):
//
//	username,displayName,extension,role,teams,skills,password,disabled
//
// teams are separated by ";", skills are "name:level" separated by ";".
// An empty password is generated and returned once. Export writes the
// same columns without password.

// CSVColumns are the columns ExportUsersCSV writes, in order.
var CSVColumns = []string{"username", "displayName", "extension", "role", "teams", "skills", "disabled"}

// MaxImportRows bounds one import.
const MaxImportRows = 5000

// ImportUsersCSV creates every user in the file, or none: all rows are
// validated (fields, duplicates within the file and against the tenant)
// before the first is stored. Field errors name the row ("row 3:
// extension").
func (s *Service) ImportUsersCSV(ctx context.Context, p Principal, r io.Reader) ([]CreatedUser, error) {
	if err := p.require(rolesAdmin, "import users"); err != nil {
		return nil, err
	}
	inputs, err := parseUsersCSV(r)
	if err != nil {
		return nil, err
	}
	existing, err := s.store.ListUsers(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	names, exts := map[string]int{}, map[string]int{}
	for _, u := range existing {
		names[strings.ToLower(u.Username)] = 0
		if u.Extension != "" {
			exts[u.Extension] = 0
		}
	}
	var f fieldErrors
	users := make([]*User, len(inputs))
	pws := make([]string, len(inputs))
	for i, in := range inputs {
		row := i + 2 // 1-based, after the header
		if in.SuperAdmin {
			f.add(fmt.Sprintf("row %d: role", row), "imports cannot create super-admins")
		}
		u, pw, err := s.newUser(ctx, p.TenantID, in)
		if err != nil {
			for _, fe := range ErrorFields(err) {
				f.add(fmt.Sprintf("row %d: %s", row, fe.Field), "%s", fe.Message)
			}
			continue
		}
		if prev, dup := names[strings.ToLower(u.Username)]; dup {
			f.add(fmt.Sprintf("row %d: username", row), "%q is taken%s", u.Username, where(prev))
		}
		names[strings.ToLower(u.Username)] = row
		if u.Extension != "" {
			if prev, dup := exts[u.Extension]; dup {
				f.add(fmt.Sprintf("row %d: extension", row), "%s is taken%s", u.Extension, where(prev))
			}
			exts[u.Extension] = row
		}
		users[i], pws[i] = u, pw
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	out := make([]CreatedUser, 0, len(users))
	for i, u := range users {
		if err := s.store.CreateUser(ctx, u); err != nil {
			// Only a concurrent change can get here; report what was made.
			s.audit(ctx, p, p.TenantID, "user.import", "", map[string]any{"created": len(out), "failedAtRow": i + 2})
			return out, fmt.Errorf("row %d: %w", i+2, err)
		}
		out = append(out, CreatedUser{User: *u, Password: pws[i]})
	}
	ids := make([]string, len(out))
	for i, u := range out {
		ids[i] = u.ID
	}
	s.audit(ctx, p, p.TenantID, "user.import", "", map[string]any{"created": len(out), "users": ids})
	return out, nil
}

func where(row int) string {
	if row == 0 {
		return " in this tenant"
	}
	return fmt.Sprintf(" by row %d", row)
}

func parseUsersCSV(r io.Reader) ([]UserInput, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, Errorf(KindInvalid, "the CSV file is empty; the first row must name the columns")
	}
	if err != nil {
		return nil, Errorf(KindInvalid, "CSV: %v", err)
	}
	col := map[string]int{}
	known := append([]string{"password"}, CSVColumns...)
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // spreadsheets write a BOM
		ok := false
		for _, k := range known {
			if strings.EqualFold(h, k) {
				col[k], ok = i, true
			}
		}
		if !ok {
			return nil, Errorf(KindInvalid, "CSV column %q is unknown (want %s)", h, strings.Join(known, ", "))
		}
	}
	if _, ok := col["username"]; !ok {
		return nil, Errorf(KindInvalid, "CSV needs a username column")
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []UserInput
	var f fieldErrors
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Errorf(KindInvalid, "CSV: %v", err)
		}
		if len(out) == MaxImportRows {
			return nil, Errorf(KindInvalid, "at most %d users per import", MaxImportRows)
		}
		row := len(out) + 2
		in := UserInput{Username: get(rec, "username"), DisplayName: get(rec, "displayName"),
			Extension: get(rec, "extension"), Role: Role(strings.ToLower(get(rec, "role"))),
			Password: get(rec, "password")}
		if in.Role == "" {
			in.Role = RoleAgent
		}
		if t := get(rec, "teams"); t != "" {
			in.Teams = strings.Split(t, ";")
		}
		if sk := get(rec, "skills"); sk != "" {
			for _, part := range strings.Split(sk, ";") {
				name, lvl, _ := strings.Cut(strings.TrimSpace(part), ":")
				n, err := strconv.Atoi(strings.TrimSpace(lvl))
				if err != nil {
					f.add(fmt.Sprintf("row %d: skills", row), "%q: want name:level", part)
					continue
				}
				in.Skills = append(in.Skills, Skill{Name: strings.TrimSpace(name), Level: n})
			}
		}
		switch strings.ToLower(get(rec, "disabled")) {
		case "", "false", "no", "0":
		case "true", "yes", "1":
			in.Disabled = true
		default:
			f.add(fmt.Sprintf("row %d: disabled", row), "want true or false")
		}
		out = append(out, in)
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, Errorf(KindInvalid, "the CSV file has a header but no users")
	}
	return out, nil
}

// ExportUsersCSV writes the admin's tenant's users as CSV (no passwords).
func (s *Service) ExportUsersCSV(ctx context.Context, p Principal, w io.Writer) error {
	if err := p.require(rolesAdmin, "export users"); err != nil {
		return err
	}
	users, err := s.store.ListUsers(ctx, p.TenantID)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return fmt.Errorf("export users: %w", err)
	}
	for _, u := range users {
		skills := make([]string, len(u.Skills))
		for i, sk := range u.Skills {
			skills[i] = fmt.Sprintf("%s:%d", sk.Name, sk.Level)
		}
		rec := []string{u.Username, u.DisplayName, u.Extension, string(u.Role), strings.Join(u.Teams, ";"),
			strings.Join(skills, ";"), strconv.FormatBool(u.Disabled())}
		for i, v := range rec {
			rec[i] = csvSafe(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("export users: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export users: %w", err)
	}
	s.audit(ctx, p, p.TenantID, "user.export", "", map[string]any{"users": len(users)})
	return nil
}

// csvSafe defuses a cell a spreadsheet would run as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

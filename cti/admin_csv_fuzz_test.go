package cti

import (
	"strings"
	"testing"
)

// FuzzParseUsersCSV: any upload is either refused with an error saying
// what is wrong (never an internal one), or gives rows that the import's
// validation either refuses with field errors or finds within every
// limit; nothing panics.
func FuzzParseUsersCSV(f *testing.F) {
	for _, seed := range []string{
		"username,display_name,extension,role,password,teams,skills\nagent1,Agent One,2001,agent,,red,de:80;billing:40\n",
		"username,extension\nx,1\n",
		"username\n\"unterminated\n",
		"username,skills\na,de:999\n",
		"\ufeffusername,role\nb,admin\n",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		users, err := parseUsersCSV(strings.NewReader(data))
		if err != nil {
			if ErrorKind(err) == KindInternal {
				t.Fatalf("a bad upload is an internal error: %v", err)
			}
			return
		}
		for _, in := range users {
			u := &User{Username: strings.TrimSpace(in.Username), Extension: strings.TrimSpace(in.Extension), Role: in.Role,
				Teams: cleanTeams(in.Teams), Skills: in.Skills}
			var fe fieldErrors
			validateUser(&fe, u)
			if fe.err() != nil {
				continue // the import refuses the row, naming the field
			}
			for _, sk := range u.Skills {
				if sk.Level < 1 || sk.Level > 100 {
					t.Fatalf("skill level %d passed validation", sk.Level)
				}
			}
			if len(u.Username) == 0 || len(u.Username) > 64 {
				t.Fatalf("username %q passed validation", u.Username)
			}
		}
	})
}

package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	pg := &Dialect{Numbered: true}
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = $1 AND b = $2`},
		// SQLite numbers a bare ? one past the highest number used so far.
		{`SET s = ?, a = ?, x = CASE WHEN ?1 = 'd' THEN ?4 END WHERE seq = ?`, `SET s = $1, a = $2, x = CASE WHEN $1 = 'd' THEN $4 END WHERE seq = $5`},
		{`t = ?1 AND (u = ?2 OR e = ?2) ORDER BY u = ?2`, `t = $1 AND (u = $2 OR e = $2) ORDER BY u = $2`},
		{`x LIKE ? ESCAPE '?' AND y = ?`, `x LIKE $1 ESCAPE '?' AND y = $2`},
		{`v = ?12`, `v = $12`},
	} {
		if got := pg.Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	lite := &Dialect{}
	if q := `a = ?1 AND b = ?`; lite.Rebind(q) != q {
		t.Errorf("SQLite statements must pass unchanged")
	}
}

package cti

import (
	"context"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"
)

var (
	prefixRE = regexp.MustCompile(`^\+?[0-9]{1,15}$`)
	headerRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// GetSettings returns the admin's tenant's settings as calls use them now.
func (s *Service) GetSettings(ctx context.Context, p Principal) (TenantSettings, error) {
	if err := p.require(rolesAdmin, "read tenant settings"); err != nil {
		return TenantSettings{}, err
	}
	return s.currentSettings(ctx, p.TenantID)
}

// currentSettings reads past the cache, so an update starts from the
// latest stored state.
func (s *Service) currentSettings(ctx context.Context, tenantID string) (TenantSettings, error) {
	ts, err := s.store.GetSettings(ctx, tenantID)
	switch {
	case err == nil:
		return withDefaults(*ts), nil
	case ErrorKind(err) == KindNotFound:
		return withDefaults(s.configSettings(tenantID)), nil
	}
	return TenantSettings{}, err
}

// UpdateSettings applies change to the tenant's current settings,
// validates the result and stores it. The next call of the tenant runs
// with it (this process at once; others sharing the database within
// adminCacheTTL).
func (s *Service) UpdateSettings(ctx context.Context, p Principal, change func(*TenantSettings)) (TenantSettings, error) {
	if err := p.require(rolesAdmin, "change tenant settings"); err != nil {
		return TenantSettings{}, err
	}
	return s.updateSettings(ctx, p, p.TenantID, change)
}

func (s *Service) updateSettings(ctx context.Context, p Principal, tenantID string, change func(*TenantSettings)) (TenantSettings, error) {
	before, err := s.currentSettings(ctx, tenantID)
	if err != nil {
		return TenantSettings{}, err
	}
	after := before
	after.AllowedOrigins = append([]string(nil), before.AllowedOrigins...)
	after.AwayReasons = append([]string(nil), before.AwayReasons...)
	change(&after)
	if err := normalizeSettings(&after); err != nil {
		return TenantSettings{}, err
	}
	if err := s.store.PutSettings(ctx, tenantID, after); err != nil {
		return TenantSettings{}, err
	}
	s.settings.invalidate(tenantID)
	s.audit(ctx, p, tenantID, "settings.update", tenantID, map[string]any{"changed": changedSettings(before, after)})
	return after, nil
}

// changedSettings names the fields that differ; secrets are named, never
// shown.
func changedSettings(a, b TenantSettings) []string {
	out := []string{}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		name := va.Type().Field(i).Name
		if name == "CRM" {
			ca, cb := reflect.ValueOf(a.CRM), reflect.ValueOf(b.CRM)
			for j := range ca.NumField() {
				if !reflect.DeepEqual(ca.Field(j).Interface(), cb.Field(j).Interface()) {
					out = append(out, "CRM."+ca.Type().Field(j).Name)
				}
			}
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, name)
		}
	}
	return out
}

// normalizeSettings validates settings and brings them to their stored
// form (upper-case region, lower-case origins without a trailing slash).
func normalizeSettings(t *TenantSettings) error {
	var f fieldErrors
	t.DefaultRegion = strings.ToUpper(strings.TrimSpace(t.DefaultRegion))
	if t.DefaultRegion != "" && !ValidRegion(t.DefaultRegion) {
		f.add("defaultRegion", "want a two-letter ISO region such as US")
	}
	if _, err := ParseScreenPopMode(string(t.ScreenPop)); err != nil {
		f.add("screenPop", "want ringing, answered or both")
	}
	if _, err := ParseRecordingDelivery(string(t.RecordingDelivery)); err != nil {
		f.add("recordingDelivery", "want code or inline")
	}
	if t.RecordingPolicy != "" {
		if _, err := ParseRecordingPolicy(string(t.RecordingPolicy)); err != nil {
			f.add("recordingPolicy", "want always, never or on_demand (or empty: follow record)")
		}
	}
	if t.RecordingRetentionDays < 0 || t.RecordingRetentionDays > 36500 {
		f.add("recordingRetentionDays", "want 0 (keep forever) to 36500")
	}
	if t.LookupTimeout < 0 || t.LookupTimeout > 10*time.Second {
		f.add("crm.lookupTimeoutMs", "want 0–10000")
	}
	if t.RouteTimeout < 0 || t.RouteTimeout > 10*time.Second {
		f.add("crm.routeTimeoutMs", "want 0–10000")
	}
	checkCRM(&f, &t.CRM)
	for i, o := range t.AllowedOrigins {
		o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(u.Host, " ;,'\"") {
			f.add("allowedOrigins", "%q: want scheme://host[:port], http or https", t.AllowedOrigins[i])
			continue
		}
		t.AllowedOrigins[i] = o
	}
	if len(t.AllowedOrigins) > 50 {
		f.add("allowedOrigins", "at most 50 origins")
	}
	if t.WrapUp < 0 || t.WrapUp > time.Hour {
		f.add("wrapUpSeconds", "want 0–3600")
	}
	for _, r := range t.AwayReasons {
		if !validLabel(r) || len(r) > 32 {
			f.add("awayReasons", "%q: 1–32 letters, digits, spaces or . _ / -", r)
		}
	}
	if len(t.AwayReasons) > 20 {
		f.add("awayReasons", "at most 20 reasons")
	}
	checkDialRule(&f, &t.DialRule)
	t.TimeZone = strings.TrimSpace(t.TimeZone)
	if t.TimeZone != "" {
		if _, err := time.LoadLocation(t.TimeZone); err != nil || t.TimeZone == "Local" {
			f.add("timeZone", "%q: want an IANA time zone such as Europe/Budapest", t.TimeZone)
		}
	}
	return f.err()
}

func checkCRM(f *fieldErrors, c *CRMSettings) {
	for name, u := range map[string]*string{"crm.lookupUrl": &c.LookupURL, "crm.routingUrl": &c.RoutingURL, "crm.queryUrl": &c.QueryURL} {
		*u = strings.TrimSpace(*u)
		if *u == "" {
			continue
		}
		p, err := url.Parse(*u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			f.add(name, "want an absolute http or https URL")
		}
	}
	c.LookupMethod = strings.ToUpper(strings.TrimSpace(c.LookupMethod))
	if c.LookupMethod != "" && c.LookupMethod != "GET" && c.LookupMethod != "POST" {
		f.add("crm.lookupMethod", "want GET or POST")
	}
	if c.APIKey != "" && c.Username != "" {
		f.add("crm.apiKey", "set apiKey or username/password, not both")
	}
	if c.AuthHeader != "" && c.APIKey == "" {
		f.add("crm.authHeader", "needs an apiKey to send")
	}
	if c.AuthHeader != "" && !headerRE.MatchString(c.AuthHeader) {
		f.add("crm.authHeader", "not a header name")
	}
}

func checkDialRule(f *fieldErrors, r *DialRule) {
	for _, p := range r.AllowPrefixes {
		if !prefixRE.MatchString(p) {
			f.add("dialRules.allowPrefixes", "%q: want digits with an optional leading +", p)
		}
	}
	for i, c := range r.AllowCountries {
		r.AllowCountries[i] = strings.ToUpper(c)
		if !ValidRegion(r.AllowCountries[i]) {
			f.add("dialRules.allowCountries", "%q: want a two-letter ISO region", c)
		}
	}
	if r.MaxDigits < 0 || r.MaxDigits > 15 {
		f.add("dialRules.maxDigits", "want 0–15 (0: 15)")
	}
}

// GetDialRule returns the tenant's dialing rule.
func (s *Service) GetDialRule(ctx context.Context, p Principal) (DialRule, error) {
	ts, err := s.GetSettings(ctx, p)
	return ts.DialRule, err
}

// SetDialRule replaces the tenant's dialing rule; the next dial obeys it.
func (s *Service) SetDialRule(ctx context.Context, p Principal, r DialRule) (DialRule, error) {
	ts, err := s.UpdateSettings(ctx, p, func(t *TenantSettings) { t.DialRule = r })
	return ts.DialRule, err
}

// TenantAllowsOrigin reports whether a page at origin may embed the
// widget and open the agent websocket for the tenant.
func (s *Service) TenantAllowsOrigin(tenantID, origin string) bool {
	origin = strings.ToLower(strings.TrimSuffix(origin, "/"))
	for _, o := range s.tenant(tenantID).AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// SomeTenantAllowsOrigin reports whether any tenant lists origin, for
// the websocket upgrade, which happens before the client says who it is.
func (s *Service) SomeTenantAllowsOrigin(ctx context.Context, origin string) bool {
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		s.log.Warn("listing tenants for an origin check", "err", err)
		return false
	}
	for _, t := range tenants {
		if s.TenantAllowsOrigin(t.ID, origin) {
			return true
		}
	}
	return false
}

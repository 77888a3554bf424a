// Package storetest is the test suite of cti.Store and webhook.Store that
// every database the store runs on must pass: SQLite in make test,
// PostgreSQL in make test-cluster. The tests speak to the ports; the few
// that look at stored rows directly (secrets at rest) use the store's own
// pools, so the statements they send are the store's dialect too.
//
// # Concurrency
//
// Run starts each test as a subtest in parallel; each test makes its own
// database through NewDB, so they share nothing.
package storetest

import (
	"context"
	"testing"

	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

// NewDB makes a new, empty database for one test and returns how to open
// it; opening it again (after a Close, or alongside) reaches the same
// data. Stores opened are closed when the test ends.
type NewDB func(t *testing.T) (open func(t *testing.T) *sqlstore.Store)

var suite = []struct {
	name string
	fn   func(*testing.T, NewDB)
}{
	{"Tenants", testTenants},
	{"Users", testUsers},
	{"UserErrors", testUserErrors},
	{"TenantScoping", testTenantScoping},
	{"RefreshTokens", testRefreshTokens},
	{"ConcurrentWriters", testConcurrentWriters},
	{"CanceledContext", testCanceledContext},
	{"RefreshFamilyReplayAndUserRevocation", testRefreshFamilyReplayAndUserRevocation},
	{"UsersPageFiltersAndCursor", testUsersPageFiltersAndCursor},
	{"UsersAccess", testUsersAccess},
	{"NumbersAreGlobalButScoped", testNumbersAreGlobalButScoped},
	{"SettingsRoundTripAndAudit", testSettingsRoundTripAndAudit},
	{"SettingsSecretsEncryptedAtRest", testSettingsSecretsEncryptedAtRest},
	{"TrunksOrderAndSealedPassword", testTrunksOrderAndSealedPassword},
	{"Phonebook", testPhonebook},
	{"APIKeys", testAPIKeys},
	{"CallRecords", testCallRecords},
	{"WebhookEndpoints", testWebhookEndpoints},
	{"WebhookQueueAndResults", testWebhookQueueAndResults},
	{"WebhookDeliveryListing", testWebhookDeliveryListing},
	{"WebhookPrune", testWebhookPrune},
	{"WebhookSecretsEncryptedAtRest", testWebhookSecretsEncryptedAtRest},
	{"WebhookLeases", testWebhookLeases},
	{"DurableState", testDurableState},
	{"TimeInStatus", testTimeInStatus},
	{"QueuesForwardingRecordings", testQueuesForwardingRecordings},
	{"ConcurrentRefreshConsume", testConcurrentRefreshConsume},
	{"NodesKeepTheirOwnState", testNodesKeepTheirOwnState},
	{"LostNodeAdoptedOnce", testLostNodeAdoptedOnce},
	{"IVRFlows", testIVRFlows},
	{"Prompts", testPrompts},
}

// Run runs the whole suite against the databases db makes.
func Run(t *testing.T, db NewDB) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, db)
		})
	}
}

// Open opens a store with open (a database package's Open and its
// address), failing the test on error, and closes it when the test ends.
func Open(t *testing.T, open func(context.Context, string) (*sqlstore.Store, error), addr string) *sqlstore.Store {
	t.Helper()
	s, err := open(t.Context(), addr)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

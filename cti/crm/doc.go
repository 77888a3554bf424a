// Package crm is the HTTP adapter of the cti.CRM port: the caller lookup
// behind screen pop and the routing query ("data query") of numbers
// routed by CRM, against each tenant's own URLs and credentials.
//
// The contracts (request parameters, answers, errors) are documented in
// docs/crm.md. In short: a lookup is a GET (or POST) with the caller's
// number and the call's parameters, answered by a JSON card or 404; a
// routing query is a POST of the call's parameters, answered by
// {"extension": …}, {"number": …} or {"queue": …}.
//
// # Concurrency
//
// A Client is safe for concurrent use; it shares one http.Client (and its
// connection pool) between tenants. Every request is bounded by the
// context cti gives it (its deadline is the tenant's timeout, and it is
// cancelled when the call ends) and by the size of the answer.
//
// Redirects are not followed: a CRM that answers 3xx is misconfigured,
// and following it would carry the credentials to another address.
package crm

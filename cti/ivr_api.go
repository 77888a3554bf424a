package cti

import (
	"context"
	"errors"
	"time"

	"github.com/ringbridge/ringbridge/cti/ivr"
)

// IVR flows are managed here: every change is validated (cti/ivr), stored
// as a new version that becomes the flow's current one, and audited; an
// earlier version can be made current again (a rollback). Calls will run
// the version that was current when they entered the flow.

// IVRFlowVersion is one stored version of a flow.
type IVRFlowVersion struct {
	Flow      ivr.Flow  `json:"flow"`
	Version   int       `json:"version"`
	Current   bool      `json:"current"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
}

// IVRFlowStore keeps a tenant's IVR flows and every version of them.
type IVRFlowStore interface {
	// SaveIVRFlow stores f as the flow's next version and makes it
	// current; it returns the version's number.
	SaveIVRFlow(ctx context.Context, tenantID string, f *ivr.Flow, by string, at time.Time) (int, error)
	// GetIVRFlow returns a version (0: the current one); KindNotFound
	// when there is none.
	GetIVRFlow(ctx context.Context, tenantID, id string, version int) (*IVRFlowVersion, error)
	// ListIVRFlows returns the current version of every flow.
	ListIVRFlows(ctx context.Context, tenantID string) ([]IVRFlowVersion, error)
	// ListIVRFlowVersions returns every version of a flow, newest first.
	ListIVRFlowVersions(ctx context.Context, tenantID, id string) ([]IVRFlowVersion, error)
	// SetIVRFlowCurrent makes an existing version current.
	SetIVRFlowCurrent(ctx context.Context, tenantID, id string, version int) error
	// DeleteIVRFlow removes a flow and its versions; KindNotFound when none.
	DeleteIVRFlow(ctx context.Context, tenantID, id string) error
}

// ivrError turns a validation failure into an invalid-input error that
// names the node.
func ivrError(err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Kind: KindInvalid, Message: err.Error(), Err: err}
	// The node also goes in the problem's errors, so an editor can show
	// the message beside it.
	var ve *ivr.Error
	if errors.As(err, &ve) && ve.Node != "" {
		e.Fields = []FieldError{{Field: "nodes/" + ve.Node, Message: ve.Message}}
	}
	return e
}

// ListIVRFlows returns the current version of each of the tenant's flows.
func (s *Service) ListIVRFlows(ctx context.Context, p Principal) ([]IVRFlowVersion, error) {
	if err := p.require(rolesReadAll, "read IVR flows"); err != nil {
		return nil, err
	}
	return s.store.ListIVRFlows(ctx, p.TenantID)
}

// GetIVRFlow returns a flow's version (0: current).
func (s *Service) GetIVRFlow(ctx context.Context, p Principal, id string, version int) (*IVRFlowVersion, error) {
	if err := p.require(rolesReadAll, "read IVR flows"); err != nil {
		return nil, err
	}
	return s.store.GetIVRFlow(ctx, p.TenantID, id, version)
}

// IVRFlowVersions lists a flow's versions, newest first.
func (s *Service) IVRFlowVersions(ctx context.Context, p Principal, id string) ([]IVRFlowVersion, error) {
	if err := p.require(rolesReadAll, "read IVR flows"); err != nil {
		return nil, err
	}
	list, err := s.store.ListIVRFlowVersions(ctx, p.TenantID, id)
	if err == nil && len(list) == 0 {
		return nil, Errorf(KindNotFound, "no IVR flow %s", id)
	}
	return list, err
}

// SaveIVRFlow validates f and stores it as the flow's new current version.
func (s *Service) SaveIVRFlow(ctx context.Context, p Principal, f ivr.Flow) (*IVRFlowVersion, error) {
	if err := p.require(rolesAdmin, "change IVR flows"); err != nil {
		return nil, err
	}
	if err := ivr.Validate(&f); err != nil {
		return nil, ivrError(err)
	}
	if err := s.checkFlowPrompts(ctx, p.TenantID, &f); err != nil {
		return nil, err
	}
	v, err := s.store.SaveIVRFlow(ctx, p.TenantID, &f, p.Username, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "ivr.save", f.ID, map[string]any{"version": v, "nodes": len(f.Nodes)})
	return s.store.GetIVRFlow(ctx, p.TenantID, f.ID, v)
}

// SaveIVRNode adds or replaces one node of a flow's current version (a
// new version); the whole flow must still be valid.
func (s *Service) SaveIVRNode(ctx context.Context, p Principal, flowID string, n ivr.Node) (*IVRFlowVersion, error) {
	cur, err := s.GetIVRFlow(ctx, p, flowID, 0)
	if err != nil {
		return nil, err
	}
	f := cur.Flow
	f.Nodes = append([]ivr.Node(nil), f.Nodes...)
	if old := f.Node(n.ID); old != nil {
		*old = n
	} else {
		f.Nodes = append(f.Nodes, n)
	}
	return s.SaveIVRFlow(ctx, p, f)
}

// DeleteIVRNode removes one node (a new version); branches that pointed
// at it make the flow invalid, which is refused naming them.
func (s *Service) DeleteIVRNode(ctx context.Context, p Principal, flowID, nodeID string) (*IVRFlowVersion, error) {
	cur, err := s.GetIVRFlow(ctx, p, flowID, 0)
	if err != nil {
		return nil, err
	}
	f := cur.Flow
	var kept []ivr.Node
	for _, n := range f.Nodes {
		if n.ID != nodeID {
			kept = append(kept, n)
		}
	}
	if len(kept) == len(f.Nodes) {
		return nil, Errorf(KindNotFound, "flow %s has no node %s", flowID, nodeID)
	}
	f.Nodes = kept
	return s.SaveIVRFlow(ctx, p, f)
}

// RollbackIVRFlow makes an earlier version current again.
func (s *Service) RollbackIVRFlow(ctx context.Context, p Principal, id string, version int) (*IVRFlowVersion, error) {
	if err := p.require(rolesAdmin, "change IVR flows"); err != nil {
		return nil, err
	}
	if err := s.checkVersionPrompts(ctx, p.TenantID, id, version); err != nil {
		return nil, err
	}
	if err := s.store.SetIVRFlowCurrent(ctx, p.TenantID, id, version); err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "ivr.rollback", id, map[string]any{"version": version})
	return s.store.GetIVRFlow(ctx, p.TenantID, id, 0)
}

// DeleteIVRFlow removes a flow with its versions.
func (s *Service) DeleteIVRFlow(ctx context.Context, p Principal, id string) error {
	if err := p.require(rolesAdmin, "change IVR flows"); err != nil {
		return err
	}
	if err := s.store.DeleteIVRFlow(ctx, p.TenantID, id); err != nil {
		return err
	}
	s.audit(ctx, p, p.TenantID, "ivr.delete", id, nil)
	return nil
}

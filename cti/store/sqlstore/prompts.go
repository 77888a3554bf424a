package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ringbridge/ringbridge/cti"
)

// CreatePrompt stores a prompt and its audio.
func (s *Store) CreatePrompt(ctx context.Context, tenantID string, p *cti.Prompt, wav []byte) error {
	src, err := json.Marshal(p.Source)
	if err != nil {
		return fmt.Errorf("store: prompt: %w", err)
	}
	_, err = s.writer.ExecContext(ctx, `INSERT INTO prompts (tenant_id, id, name, duration_ms, size_bytes, source, audio, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenantID, p.ID, p.Name, p.DurationMs, p.SizeBytes, string(src), wav, formatTime(p.CreatedAt), p.CreatedBy)
	if err != nil {
		err = classify(err, "a prompt named "+p.Name, "tenant")
		var ce *cti.Error
		if errors.As(err, &ce) && ce.Kind == cti.KindConflict {
			ce.Message = fmt.Sprintf("there is a prompt named %q already", p.Name)
		}
		return err
	}
	return nil
}

const promptCols = `id, name, duration_ms, size_bytes, source, created_at, created_by`

func scanPrompt(sc rowScanner) (*cti.Prompt, error) {
	var p cti.Prompt
	var src, created string
	if err := sc.Scan(&p.ID, &p.Name, &p.DurationMs, &p.SizeBytes, &src, &created, &p.CreatedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(src), &p.Source); err != nil {
		return nil, fmt.Errorf("store: prompt source: %w", err)
	}
	t, err := parseTime(created)
	if err != nil {
		return nil, err
	}
	p.CreatedAt = t
	return &p, nil
}

// GetPrompt finds a prompt by id or, failing that, by name.
func (s *Store) GetPrompt(ctx context.Context, tenantID, ref string) (*cti.Prompt, error) {
	p, err := scanPrompt(s.reader.QueryRowContext(ctx, `SELECT `+promptCols+` FROM prompts
		WHERE tenant_id = ? AND (id = ? OR name = ?) ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`,
		tenantID, ref, ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "no prompt %q", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("store: prompt: %w", err)
	}
	return p, nil
}

// ListPrompts returns a tenant's prompts by name.
func (s *Store) ListPrompts(ctx context.Context, tenantID string) ([]cti.Prompt, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+promptCols+` FROM prompts WHERE tenant_id = ? ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: prompts: %w", err)
	}
	defer rows.Close()
	out := []cti.Prompt{}
	for rows.Next() {
		p, err := scanPrompt(rows)
		if err != nil {
			return nil, fmt.Errorf("store: prompts: %w", err)
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// PromptAudio returns a prompt's stored WAV.
func (s *Store) PromptAudio(ctx context.Context, tenantID, id string) ([]byte, error) {
	var wav []byte
	err := s.reader.QueryRowContext(ctx, `SELECT audio FROM prompts WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&wav)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "no prompt %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: prompt audio: %w", err)
	}
	return wav, nil
}

// DeletePrompt removes a prompt.
func (s *Store) DeletePrompt(ctx context.Context, tenantID, id string) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM prompts WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("store: delete prompt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "no prompt %q", id)
	}
	return nil
}

package cti

import (
	"container/list"
	"sync"
)

// promptCacheBytes bounds the prompt audio kept in memory: about 35
// minutes of 8 kHz audio, far more than the prompts a busy menu plays.
const promptCacheBytes = 32 << 20

// promptCache keeps recently played prompts' audio so that each caller
// does not read it from the store again. Least recently used goes first.
// Its zero value is ready; safe for concurrent use.
type promptCache struct {
	mu    sync.Mutex
	order *list.List // of *promptEntry, most recent first
	byKey map[string]*list.Element
	bytes int
}

type promptEntry struct {
	key string
	wav []byte
}

func (c *promptCache) get(tenantID, id string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[tenantID+"/"+id]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*promptEntry).wav
}

func (c *promptCache) put(tenantID, id string, wav []byte) {
	if len(wav) > promptCacheBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey, c.order = map[string]*list.Element{}, list.New()
	}
	key := tenantID + "/" + id
	if _, ok := c.byKey[key]; ok {
		return
	}
	c.byKey[key] = c.order.PushFront(&promptEntry{key: key, wav: wav})
	c.bytes += len(wav)
	for c.bytes > promptCacheBytes {
		last := c.order.Back()
		c.removeLocked(last)
	}
}

func (c *promptCache) forget(tenantID, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[tenantID+"/"+id]; ok {
		c.removeLocked(e)
	}
}

func (c *promptCache) removeLocked(e *list.Element) {
	pe := c.order.Remove(e).(*promptEntry)
	delete(c.byKey, pe.key)
	c.bytes -= len(pe.wav)
}

package ledger

import "context"

// WaitApplied blocks until the applied index reaches index or ctx ends.
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	if s.applied.Load() >= index {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		s.applyMu.Lock()
		defer s.applyMu.Unlock()
		s.applyCond.Broadcast()
	})
	defer stop()
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	for s.applied.Load() < index {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.applyCond.Wait()
	}
	return nil
}

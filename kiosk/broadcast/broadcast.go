// Package broadcast hands the latest value to every subscriber without ever blocking the sender:
// the lane's views and the queue's boards go to screens that may be slow or gone.
package broadcast

import (
	"context"
	"sync"
)

// Latest is a set of subscribers that each always get the newest value. The zero value is ready.
type Latest[T any] struct {
	mu   sync.Mutex
	subs map[chan T]struct{}
}

// Send delivers v to every subscriber. A subscriber that has not read its previous value has it
// replaced: it may miss intermediate values but never the latest, and Send never waits.
func (l *Latest[T]) Send(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		select {
		case ch <- v:
		default:
			select {
			case <-ch:
			default:
			}
			ch <- v // room now: only Send writes, and it holds l.mu
		}
	}
}

// Subscribe delivers every value sent from now until ctx is done; then the channel is closed.
func (l *Latest[T]) Subscribe(ctx context.Context) <-chan T {
	ch := make(chan T, 1)
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[chan T]struct{}{}
	}
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.subs, ch)
		close(ch)
		l.mu.Unlock()
	}()
	return ch
}

// Len reports the number of subscribers.
func (l *Latest[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

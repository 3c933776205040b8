package plans

import (
	"sync"

	"github.com/vpo-project/vpo/internal/catalog"
)

// filePool runs the work of one apply job (or foreground run) on up to n
// files at once, and never on the same file twice at once (a job may hold
// the approved plans of two policies for one file, or be handed a path
// twice: the file claims cannot tell those apart, as they are the job's
// own).
type filePool struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	busy    map[int64]bool
	running int
	err     error
	wg      sync.WaitGroup
}

func newFilePool(n int) *filePool {
	p := &filePool{n: max(n, 1), busy: map[int64]bool{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// do runs fn for the file id once fewer than n run and none runs on id: in
// this goroutine when n is 1, else in a new one. It returns, without
// running fn, the first error an earlier fn returned (which stops the
// job); fn's own error is returned by a later do or by wait.
func (p *filePool) do(id int64, fn func() error) error {
	p.mu.Lock()
	for p.err == nil && (p.running >= p.n || p.busy[id]) {
		p.cond.Wait()
	}
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		return err
	}
	p.running++
	p.busy[id] = true
	p.mu.Unlock()
	done := func(err error) {
		p.mu.Lock()
		p.running--
		delete(p.busy, id)
		if err != nil && p.err == nil {
			p.err = err
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	if p.n == 1 {
		err := fn()
		done(err)
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		done(fn())
	}()
	return nil
}

// wait waits for every fn to return, and returns the first error.
func (p *filePool) wait() error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// tally is a job's counters, shared by its pool's workers: each update and
// the progress it reports happen under the lock, so that progress never
// goes backwards.
type tally struct {
	mu sync.Mutex
	c  *catalog.Counts
}

// add adds d and calls then (when not nil) with the new totals, under the
// lock.
func (t *tally) add(d catalog.Counts, then func(catalog.Counts)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	add(t.c, d)
	if then != nil {
		then(*t.c)
	}
}

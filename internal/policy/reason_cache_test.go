package policy

import (
	"fmt"
	"sync"
	"testing"
)

// TestReasonCache: each language's reason is built right, from several
// goroutines at once, and the cache stops growing at maxCachedReasons (a file's
// language tag is any text) while still answering right.
func TestReasonCache(t *testing.T) {
	var c reasonCache
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range maxCachedReasons + 100 {
				lang := fmt.Sprintf("l%d", (i+g)%(maxCachedReasons+100))
				if got, want := c.get("keep_audio: language ", lang, " not in languages"), "keep_audio: language "+lang+" not in languages"; got != want {
					t.Errorf("get(%s) = %q, want %q", lang, got, want)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	if n > maxCachedReasons+4 || int(c.n.Load()) != n {
		t.Errorf("%d reasons cached (counter %d), want at most %d", n, c.n.Load(), maxCachedReasons)
	}
}

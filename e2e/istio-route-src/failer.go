package main

// failer stands in for *testing.T where istiod's test harness wants one (test.Failer): a fatal
// error unwinds to load() as a panic carrying its message, and cleanups run on reload and exit.

import (
	"fmt"
	"os"
	"sync"
)

type failure struct{ message string }

type failer struct {
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
}

func newFailer() *failer { return &failer{} }

func (f *failer) Fail()                             { f.FailNow() }
func (f *failer) FailNow()                          { panic(failure{"failed"}) }
func (f *failer) Fatal(args ...any)                 { panic(failure{fmt.Sprint(args...)}) }
func (f *failer) Fatalf(format string, args ...any) { panic(failure{fmt.Sprintf(format, args...)}) }
func (f *failer) Log(args ...any)                   {}
func (f *failer) Logf(format string, args ...any)   {}
func (f *failer) Helper()                           {}
func (f *failer) Skip(args ...any)                  { panic(failure{"skipped: " + fmt.Sprint(args...)}) }

func (f *failer) TempDir() string {
	dir, err := os.MkdirTemp("", "istio-route-")
	if err != nil {
		panic(failure{err.Error()})
	}
	f.mu.Lock()
	f.dirs = append(f.dirs, dir)
	f.mu.Unlock()
	return dir
}

func (f *failer) Cleanup(fn func()) {
	f.mu.Lock()
	f.cleanups = append(f.cleanups, fn)
	f.mu.Unlock()
}

// cleanup runs the registered cleanups, last first, as testing does.
func (f *failer) cleanup() {
	f.mu.Lock()
	fns, dirs := f.cleanups, f.dirs
	f.cleanups, f.dirs = nil, nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

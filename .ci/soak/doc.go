// Package soak holds the soak test (`make soak`, build tag soak; not in
// `make test`): the release binary under combined load and injected faults
// for a bounded time, on loopback, ending with a table of figures and a
// check that nothing was lost. See soak_test.go for what it drives.
package soak

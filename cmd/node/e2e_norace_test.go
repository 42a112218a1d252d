//go:build unix && !race

package main_test

// raceEnabled: the tests run without -race, and so does the node binary.
const raceEnabled = false

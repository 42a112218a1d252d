//go:build unix && race

package main_test

// raceEnabled: the tests run with -race, so the node binary is built with it.
const raceEnabled = true

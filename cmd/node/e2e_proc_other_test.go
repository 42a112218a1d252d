//go:build unix && !linux

package main_test

import "os/exec"

// setDeathSignal does nothing where there is no parent-death signal; the
// tests' cleanups still kill every node.
func setDeathSignal(cmd *exec.Cmd) {}

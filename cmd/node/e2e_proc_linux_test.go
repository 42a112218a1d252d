package main_test

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the node if the test process dies first (a panic on
// -timeout, say), so no node outlives its test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build !applyceiling

package main

// applyCeiling is set only in a build with the applyceiling tag
// (ceiling_tag.go), which measures the stack with a free state machine.
const applyCeiling = false

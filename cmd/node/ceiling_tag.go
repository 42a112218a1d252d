//go:build applyceiling

package main

const applyCeiling = true

//go:build !linux

package hugemem

import "unsafe"

const (
	supported = false
	mode      = ""
)

func advise(unsafe.Pointer, uintptr) {}

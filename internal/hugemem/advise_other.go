//go:build !linux

package hugemem

import "unsafe"

const supported = false

func advise(unsafe.Pointer, uintptr) {}

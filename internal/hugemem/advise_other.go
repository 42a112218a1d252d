//go:build !linux

package hugemem

import "unsafe"

func supported() bool { return false }

func mode() string { return "" }

func advise(unsafe.Pointer, uintptr) {}

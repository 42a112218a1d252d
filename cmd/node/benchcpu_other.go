//go:build !unix

package main

import "math"

// processCPUSeconds is not known here.
func processCPUSeconds() float64 { return math.NaN() }

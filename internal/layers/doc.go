// Package layers holds the test that keeps the import graph to the floors of the architecture
// (docs/design.md, "Layers"): every arrow between our packages is listed in layers_test.go, and a
// new one fails the suite until someone decides it belongs there.
package layers

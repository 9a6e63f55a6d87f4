// go-gzip-size prints how many bytes Go's compress/gzip at its default level (6) makes of each
// file: what containerd's walking differ writes for a layer's tar (containerd 2.x,
// core/archive/compression: gzip.NewWriterLevel(w, gzip.DefaultCompression)). The reference
// of DiffCompressionTest and of --diff-compression small's "no larger than containerd's".
//
//	go run benchmarks/go-gzip-size/main.go FILE...
//
// Go 1.19.8 (Debian 12's golang-1.19) on testdata's BusyBox layer, decompressed
// (sha256:0958e0fe...): 2295293 bytes.
package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func main() {
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c := &counter{}
		w := gzip.NewWriter(c)
		if _, err := io.Copy(w, f); err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			os.Exit(1)
		}
		w.Close()
		f.Close()
		fmt.Println(name, c.n)
	}
}

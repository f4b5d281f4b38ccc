// Oracle: golang.org/x/mod/semver Compare; prints -1/0/1 or E per pair.
// Build in GOPATH mode against Debian's golang-golang-x-mod-dev:
// GOPATH=/usr/share/gocode GO111MODULE=off go run main.go
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		p := strings.SplitN(in.Text(), "\t", 2)
		if len(p) != 2 || !semver.IsValid(p[0]) || !semver.IsValid(p[1]) {
			fmt.Fprintln(out, "E")
			continue
		}
		fmt.Fprintln(out, semver.Compare(p[0], p[1]))
	}
}

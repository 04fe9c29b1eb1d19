//go:build !linux

package cli

import (
	"errors"
	"net"
)

// peerUID needs SO_PEERCRED, which irm uses on Linux only: elsewhere the control
// socket refuses every caller.
func peerUID(*net.UnixConn) (int, error) {
	return -1, errors.New("checking the caller's uid needs Linux")
}

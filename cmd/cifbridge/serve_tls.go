package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// loadTLS loads --tls-cert and --tls-key; nil when neither is given. Both
// are read at start, so a wrong path or a key that does not match fails
// serve at once instead of at the first handshake.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("--tls-cert and --tls-key go together: give both PEM files (certificate chain and its private key), or neither for plain http")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// listenHint adds what to do when a privileged port (below 1024, e.g. 80 for
// the host page's port-less origin) cannot be bound.
func listenHint(addr string, err error) error {
	if !errors.Is(err, syscall.EACCES) {
		return err
	}
	if _, port, perr := net.SplitHostPort(addr); perr == nil && len(port) < 4 {
		return fmt.Errorf("%w (port %s is privileged: run as root, or grant the binary the capability with 'setcap cap_net_bind_service=+ep $(command -v cifbridge)'; euid %d)", err, port, os.Geteuid())
	}
	return err
}

// portless is addr as a browser writes it in an origin: without the port
// when it is the scheme's default (80 for http, 443 for https).
func portless(addr string, https bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if (port == "80" && !https) || (port == "443" && https) {
		if net.ParseIP(host) != nil && net.ParseIP(host).To4() == nil {
			return "[" + host + "]"
		}
		return host
	}
	return addr
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "GETs http://<listen>/readyz (https when --tls-cert is set) and exits 0 when it answers 200, 1 otherwise.", stdout)
	listen := fs.String("listen", "127.0.0.1:8787", "`address` of the daemon (same flag and variable as serve)")
	tlsCert := fs.String("tls-cert", "", "when set (same flag and variable as serve), the daemon serves https: check over https without verifying the certificate (it checks its own daemon on loopback)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if _, err := parseFlags(fs, args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if err := checkListen(*listen); err != nil {
		return usageError{err}
	}
	host := *listen
	if strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, ":") {
		host = "127.0.0.1:" + host[strings.LastIndex(host, ":")+1:]
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	scheme, client := "http://", http.DefaultClient
	if *tlsCert != "" {
		scheme = "https://"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a liveness probe of its own daemon
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+host+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

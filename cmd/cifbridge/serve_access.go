package main

import (
	"flag"
	"fmt"
	"net"
	"strings"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/internal/redact"
)

// The access plug-in: per-role bearer tokens (each also from a file), the
// Host allow-list, and the refusal to serve open roles beyond loopback
// unless the operator opts in.
//
// --token is the admin token under its old name. It used to open every
// role; it now opens what the admin token opens (every role, /api/,
// /metrics), so an existing --token setup keeps working as it did, and
// the startup log says to give widgets a --widget-token of their own:
// that one, which any browser user can read, opens /v1/widget only.
type accessPlugin struct {
	noSteps
	token, widget, host, admin secretFlag
	allowedHosts               string
	allowUnauthenticated       bool
}

func (p *accessPlugin) flags(fs *flag.FlagSet) {
	p.widget.register(fs, "widget-token", "bearer `token` widgets must send on /v1/widget (as \"Authorization: Bearer\" or ?access_token=); it opens nothing else, since browsers expose it")
	p.host.register(fs, "host-token", "bearer `token` host peers must send on /v1/host; it opens nothing else")
	p.admin.register(fs, "admin-token", "bearer `token` for /api/ and /metrics; the operator's, so it also opens /v1/widget and /v1/host. /livez and /readyz need no token (they carry no data)")
	p.token.register(fs, "token", "the admin `token` under its older name (see --admin-token)")
	fs.StringVar(&p.allowedHosts, "allowed-hosts", "", "comma-separated Host `patterns` the bridge answers to besides loopback and the --listen address, e.g. 'bridge.example.com,*.corp.example'; other Host headers are refused with 421 (DNS-rebinding guard)")
	fs.BoolVar(&p.allowUnauthenticated, "allow-unauthenticated", false, "serve on a non-loopback --listen address with roles that need no token; without it such a start is refused. Logged at start and shown in /api/v1/status")
}

func (p *accessPlugin) configure(env *serveEnv) error {
	cfg := env.Config
	var err error
	read := func(s *secretFlag) string {
		v, e := s.read(env.Log)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	cfg.Tokens = bridge.Tokens{Widget: read(&p.widget), Host: read(&p.host), Admin: read(&p.admin)}
	if old := read(&p.token); old != "" {
		if cfg.Tokens.Admin != "" && cfg.Tokens.Admin != old {
			return usageError{fmt.Errorf("--token is the admin token under its older name: give --admin-token or --token, not two different values")}
		}
		cfg.Tokens.Admin = old
	}
	if err != nil {
		return err
	}
	if err := checkPatterns("allowed-hosts", p.allowedHosts, "bridge.example.com"); err != nil {
		return usageError{err}
	}
	for _, h := range strings.Split(p.allowedHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.AllowedHosts = append(cfg.AllowedHosts, h)
		}
	}
	for _, tok := range []string{cfg.Tokens.Widget, cfg.Tokens.Host, cfg.Tokens.Admin} {
		if tok != "" {
			env.Secrets = append(env.Secrets, redact.Secret{Value: tok})
		}
	}
	cfg.ListenAddr = env.Flags.listen
	cfg.AllowUnauthenticated = p.allowUnauthenticated

	var open []string
	for _, r := range cfg.Tokens.OpenRoles() {
		open = append(open, string(r))
	}
	switch {
	case len(open) > 0 && !loopbackListen(env.Flags.listen) && !p.allowUnauthenticated:
		return usageError{fmt.Errorf("refusing to serve %s to the network (--listen %s is not loopback) while %s need no token: "+
			"set CIFBRIDGE_ADMIN_TOKEN (it covers every role), better also CIFBRIDGE_WIDGET_TOKEN and CIFBRIDGE_HOST_TOKEN (or their --*-token-file), "+
			"or pass --allow-unauthenticated if the network is yours alone",
			strings.Join(open, ", "), env.Flags.listen, strings.Join(open, ", "))}
	case len(open) > 0 && !loopbackListen(env.Flags.listen):
		env.Log.Warn().Strs("openRoles", open).Str("listen", env.Flags.listen).
			Msg("serving beyond loopback with roles that need no token (--allow-unauthenticated): anyone who reaches this address can use them")
	}
	if cfg.Tokens.Admin != "" && cfg.Tokens.Widget == "" {
		env.Log.Warn().Msg("widgets must send the admin token, which then sits in every browser: give them their own --widget-token (it opens /v1/widget only)")
	}
	env.Log.Info().Strs("openRoles", open).Strs("allowedHosts", cfg.AllowedHosts).Msg("access control")
	return nil
}

// loopbackListen reports whether addr listens on loopback only.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

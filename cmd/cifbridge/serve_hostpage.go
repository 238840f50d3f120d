package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cifbridge/cifbridge/internal/httpjson"
)

// The emulated Dynamics main window (/host/, web/host/) reads its settings
// from GET /host/config.json: the origins it trusts besides the hosted
// widget's own (--host-trusted-origins). Like CIF's trusted domains they are
// kept as protocol + "//" + hostname (the port is dropped) and compared by
// hostname; "*.contoso.com" matches every subdomain.
type hostPagePlugin struct {
	noSteps
	trusted string   // --host-trusted-origins
	origins []string // reduced, set by configure
}

// PathHostConfig is where the host page reads its settings.
const PathHostConfig = "/host/config.json"

func (p *hostPagePlugin) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.trusted, "host-trusted-origins", "", "comma-separated `origins` the host page /host/ trusts besides the hosted widget's own, e.g. 'https://widgets.example.com,https://*.contoso.com'; like CIF they are compared by hostname (the port is ignored)")
}

func (p *hostPagePlugin) configure(env *serveEnv) error {
	p.origins = []string{}
	for _, o := range strings.Split(p.trusted, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		r, err := reduceOrigin(o)
		if err != nil {
			return usageError{fmt.Errorf("--host-trusted-origins: %w", err)}
		}
		p.origins = append(p.origins, r)
	}
	env.Config.Extra["GET "+PathHostConfig] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		httpjson.Write(w, http.StatusOK, map[string]any{"trustedOrigins": p.origins})
	})
	return nil
}

// reduceOrigin turns "https://host:port/any" or "*.host" into CIF's trusted
// domain form, protocol + "//" + hostname (https when no scheme is given).
func reduceOrigin(o string) (string, error) {
	in := o
	if !strings.Contains(o, "://") {
		o = "https://" + o
	}
	u, err := url.Parse(o)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not an origin: write it as scheme://host, e.g. https://widgets.example.com", in)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: the scheme must be http or https", in)
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(strings.TrimPrefix(host, "*."), "*") {
		return "", fmt.Errorf("%q: only a leading \"*.\" wildcard is allowed, e.g. https://*.contoso.com", in)
	}
	return u.Scheme + "://" + host, nil
}

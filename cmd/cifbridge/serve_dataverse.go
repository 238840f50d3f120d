package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/cifbridge/cifbridge/bridge/dataverse"
	"github.com/cifbridge/cifbridge/internal/redact"
)

// The dataverse plug-in: --backend dataverse, a real Dataverse Web API org
// reached with OAuth2 client credentials.
type dataversePlugin struct {
	noSteps
	backend            *dataverse.Backend // set by configure with --backend dataverse
	probe              chan struct{}      // closed when the start-up probe ends
	cancelProbe        context.CancelFunc // ends it
	url                string
	tenant             string
	clientID           string
	clientSecret       secretFlag
	tokenURL           string
	timeout            time.Duration
	pageSize           int
	duplicateDetection bool
}

func (p *dataversePlugin) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.url, "dataverse-url", "", "Dataverse org `URL` for --backend dataverse, e.g. https://contoso.crm4.dynamics.com")
	fs.StringVar(&p.tenant, "dataverse-tenant", "", "Entra ID tenant `id` (GUID or domain) of the app registration")
	fs.StringVar(&p.clientID, "dataverse-client-id", "", "application (client) `id` of the app registration")
	p.clientSecret.register(fs, "dataverse-client-secret", "client `secret`")
	fs.StringVar(&p.tokenURL, "dataverse-token-url", "", "OAuth2 token endpoint `URL` (default https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token; override for tests)")
	fs.DurationVar(&p.timeout, "dataverse-timeout", dataverse.DefaultHTTPTimeout, "`timeout` of one Web API request; must be shorter than the CIF timeout")
	fs.IntVar(&p.pageSize, "dataverse-page-size", 0, fmt.Sprintf("records per page the org is asked for on searches (Prefer: odata.maxpagesize, 1–%d); the bridge follows the pages up to $top or %d records; 0: the org's default page", dataverse.MaxSearchRecords, dataverse.MaxSearchRecords))
	fs.BoolVar(&p.duplicateDetection, "dataverse-duplicate-detection", false, "send MSCRM.SuppressDuplicateDetection: false on creates and updates so the org's duplicate rules apply (500, 0x80040333)")
}

func (p *dataversePlugin) configure(env *serveEnv) error {
	if env.Flags.backend != "dataverse" {
		for _, n := range env.given("dataverse-url", "dataverse-tenant", "dataverse-client-id", "dataverse-client-secret", "dataverse-client-secret-file", "dataverse-token-url", "dataverse-page-size") {
			env.Log.Warn().Str("flag", "--"+n).Str("backend", env.Flags.backend).Msg("dataverse flag ignored: it applies to --backend dataverse only")
		}
		return nil
	}
	secret, err := p.clientSecret.read(env.Log)
	if err != nil {
		return err
	}
	if secret != "" {
		env.Secrets = append(env.Secrets, redact.Secret{Value: secret, Users: []string{p.clientID}})
	}
	var missing []string
	if p.url == "" {
		missing = append(missing, "--dataverse-url (https://<org>.crm.dynamics.com)")
	}
	if p.tenant == "" && p.tokenURL == "" {
		missing = append(missing, "--dataverse-tenant (or --dataverse-token-url)")
	}
	if p.clientID == "" {
		missing = append(missing, "--dataverse-client-id")
	}
	if secret == "" {
		missing = append(missing, "a client secret ("+p.clientSecret.hint()+")")
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("--backend dataverse needs %s", strings.Join(missing, ", "))}
	}
	if cif := env.Config.CIFTimeout(); p.timeout <= 0 || p.timeout >= cif {
		return usageError{fmt.Errorf("--dataverse-timeout %v must be positive and shorter than the CIF timeout %v", p.timeout, cif)}
	}
	if p.pageSize < 0 || p.pageSize > dataverse.MaxSearchRecords {
		return usageError{fmt.Errorf("--dataverse-page-size must be 0 (the org's default page) to %d, got %d", dataverse.MaxSearchRecords, p.pageSize)}
	}
	b, err := dataverse.New(dataverse.Config{
		URL: p.url, TenantID: p.tenant, ClientID: p.clientID, ClientSecret: secret, TokenURL: p.tokenURL,
		HTTPTimeout: p.timeout, PageSize: p.pageSize, DuplicateDetection: p.duplicateDetection,
		Logger: env.Log.With().Str("component", "dataverse").Logger(),
	})
	if err != nil {
		return usageError{err}
	}
	env.Config.Backend = b
	p.backend = b
	return nil
}

// start probes the org once, without delaying start, and logs whether the
// credentials work. The probe ends with the run; stop waits for it.
func (p *dataversePlugin) start(ctx context.Context, env *serveEnv) error {
	if p.backend == nil {
		return nil
	}
	p.probe = make(chan struct{})
	ctx, cancel := context.WithTimeout(ctx, p.timeout+5*time.Second)
	p.cancelProbe = cancel
	go func() {
		defer close(p.probe)
		if err := p.backend.Check(ctx); err != nil {
			if !errors.Is(ctx.Err(), context.Canceled) { // not when the run ended first
				env.Log.Warn().Str("org", p.url).Str("error", err.Error()).Msg("dataverse check (WhoAmI) failed: calls will fail until it answers")
			}
			return
		}
		env.Log.Info().Str("org", p.url).Msg("dataverse reachable: WhoAmI answered")
	}()
	return nil
}

func (p *dataversePlugin) stop(*serveEnv) {
	if p.probe != nil {
		p.cancelProbe() // a run that ends early (e.g. the port is taken) does not wait for it
		<-p.probe
	}
}

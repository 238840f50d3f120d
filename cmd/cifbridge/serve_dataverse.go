package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/bridge/dataverse"
)

// dataverseFlags are the flags of --backend dataverse.
type dataverseFlags struct {
	url                string
	tenant             string
	clientID           string
	clientSecret       string
	clientSecretFile   string
	tokenURL           string
	timeout            time.Duration
	duplicateDetection bool
}

// lastDataverseFlags hands the FlagSet's values from flags to configure
// (the plug-in seam passes no per-run value between its steps).
var (
	dataverseFlagsMu   sync.Mutex
	lastDataverseFlags *dataverseFlags
)

func init() {
	extraBackendNames = append(extraBackendNames, "dataverse")
	servePlugins = append(servePlugins, &servePlugin{
		name:      "dataverse",
		flags:     registerDataverseFlags,
		configure: configureDataverse,
	})
}

func registerDataverseFlags(fs *flag.FlagSet) {
	f := &dataverseFlags{}
	fs.StringVar(&f.url, "dataverse-url", "", "Dataverse org `URL` for --backend dataverse, e.g. https://contoso.crm4.dynamics.com")
	fs.StringVar(&f.tenant, "dataverse-tenant", "", "Entra ID tenant `id` (GUID or domain) of the app registration")
	fs.StringVar(&f.clientID, "dataverse-client-id", "", "application (client) `id` of the app registration")
	fs.StringVar(&f.clientSecret, "dataverse-client-secret", "", "client `secret` (prefer the environment variable or --dataverse-client-secret-file: flags show in ps)")
	fs.StringVar(&f.clientSecretFile, "dataverse-client-secret-file", "", "`file` holding the client secret")
	fs.StringVar(&f.tokenURL, "dataverse-token-url", "", "OAuth2 token endpoint `URL` (default https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token; override for tests)")
	fs.DurationVar(&f.timeout, "dataverse-timeout", dataverse.DefaultHTTPTimeout, "`timeout` of one Web API request; must be shorter than the CIF timeout")
	fs.BoolVar(&f.duplicateDetection, "dataverse-duplicate-detection", false, "send MSCRM.SuppressDuplicateDetection: false on creates and updates so the org's duplicate rules apply (500, 0x80040333)")
	dataverseFlagsMu.Lock()
	lastDataverseFlags = f
	dataverseFlagsMu.Unlock()
}

func configureDataverse(env *serveEnv) error {
	dataverseFlagsMu.Lock()
	f := lastDataverseFlags
	dataverseFlagsMu.Unlock()
	if f == nil {
		return nil
	}
	if env.Flags.backend != "dataverse" {
		for _, n := range []string{"dataverse-url", "dataverse-tenant", "dataverse-client-id", "dataverse-client-secret", "dataverse-client-secret-file", "dataverse-token-url"} {
			if env.Set[n] {
				env.Log.Warn().Str("flag", "--"+n).Str("backend", env.Flags.backend).Msg("dataverse flag ignored: it applies to --backend dataverse only")
			}
		}
		return nil
	}
	secret, err := readSecret(env, "dataverse-client-secret", f.clientSecret, "dataverse-client-secret-file", f.clientSecretFile)
	if err != nil {
		return err
	}
	var missing []string
	if f.url == "" {
		missing = append(missing, "--dataverse-url (https://<org>.crm.dynamics.com)")
	}
	if f.tenant == "" && f.tokenURL == "" {
		missing = append(missing, "--dataverse-tenant (or --dataverse-token-url)")
	}
	if f.clientID == "" {
		missing = append(missing, "--dataverse-client-id")
	}
	if secret == "" {
		missing = append(missing, "a client secret ("+envName("dataverse-client-secret")+" or --dataverse-client-secret-file)")
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("--backend dataverse needs %s", strings.Join(missing, ", "))}
	}
	if _, cif := profileTimeout(*env.Config); f.timeout <= 0 || f.timeout >= cif {
		return usageError{fmt.Errorf("--dataverse-timeout %v must be positive and shorter than the CIF timeout %v", f.timeout, cif)}
	}
	b, err := dataverse.New(dataverse.Config{
		URL: f.url, TenantID: f.tenant, ClientID: f.clientID, ClientSecret: secret, TokenURL: f.tokenURL,
		HTTPTimeout: f.timeout, DuplicateDetection: f.duplicateDetection,
		Logger: env.Log.With().Str("component", "dataverse").Logger(),
	})
	if err != nil {
		return usageError{err}
	}
	env.Config.Backend = b
	// A start-up probe: log whether the credentials work, without delaying start.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout+5*time.Second)
		defer cancel()
		if err := b.Check(ctx); err != nil {
			env.Log.Warn().Str("org", f.url).Str("error", err.Error()).Msg("dataverse check (WhoAmI) failed: calls will fail until it answers")
			return
		}
		env.Log.Info().Str("org", f.url).Msg("dataverse reachable: WhoAmI answered")
	}()
	return nil
}

// readSecret returns a secret given as a flag (or its environment variable)
// or in a file; both at once is an error. A secret given on the command line
// gets a warning: it shows in ps.
func readSecret(env *serveEnv, flagName, value, fileFlag, file string) (string, error) {
	if value != "" && file != "" {
		return "", usageError{fmt.Errorf("give --%s or --%s, not both", flagName, fileFlag)}
	}
	if file != "" {
		b, err := os.ReadFile(filepath.Clean(file))
		if err != nil {
			return "", usageError{fmt.Errorf("--%s: %w", fileFlag, err)}
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", usageError{fmt.Errorf("--%s %s is empty", fileFlag, file)}
		}
		return s, nil
	}
	if value != "" && os.Getenv(envName(flagName)) != value {
		env.Log.Warn().Str("flag", "--"+flagName).Msg("a secret given as a command-line flag shows in ps: prefer " + envName(flagName) + " or --" + fileFlag)
	}
	return value, nil
}

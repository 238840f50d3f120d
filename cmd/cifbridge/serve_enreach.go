package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/protocol"
)

// enreachFlags are the flags of the Enreach REST upstream.
type enreachFlags struct {
	url         string
	user        string
	secret      string
	secretFile  string
	aNumberBody string
	timeout     time.Duration

	client *enreach.Client // built by configure, wired by start
}

var (
	enreachFlagsMu   sync.Mutex
	lastEnreachFlags *enreachFlags
)

func init() {
	servePlugins = append(servePlugins, &servePlugin{
		name:      "enreach",
		flags:     registerEnreachFlags,
		configure: configureEnreach,
		start:     startEnreach,
	})
}

func registerEnreachFlags(fs *flag.FlagSet) {
	f := &enreachFlags{}
	fs.StringVar(&f.url, "enreach-url", "", "Enreach REST API `URL` (e.g. https://api-sedna.enreachvoice.com) serving enreach.executeQuery and enreach.setANumber; unset: those methods answer -32002")
	fs.StringVar(&f.user, "enreach-user", "", "Enreach API `user` for Basic auth (a session's enreachToken from bridge.hello is used instead when given)")
	fs.StringVar(&f.secret, "enreach-secret", "", "Enreach secret `key` (prefer the environment variable or --enreach-secret-file: flags show in ps)")
	fs.StringVar(&f.secretFile, "enreach-secret-file", "", "`file` holding the Enreach secret key")
	fs.StringVar(&f.aNumberBody, "enreach-anumber-body", enreach.DefaultANumberBody, "JSON `template` of the setANumber body; \"{{aNumber}}\" (with its quotes) is replaced by the number")
	fs.DurationVar(&f.timeout, "enreach-timeout", enreach.DefaultTimeout, "`timeout` of one Enreach API request")
	enreachFlagsMu.Lock()
	lastEnreachFlags = f
	enreachFlagsMu.Unlock()
}

func configureEnreach(env *serveEnv) error {
	enreachFlagsMu.Lock()
	f := lastEnreachFlags
	enreachFlagsMu.Unlock()
	if f == nil {
		return nil
	}
	env.State["enreach"] = f
	if f.url == "" {
		for _, n := range []string{"enreach-user", "enreach-secret", "enreach-secret-file", "enreach-anumber-body"} {
			if env.Set[n] {
				return usageError{fmt.Errorf("--%s needs --enreach-url", n)}
			}
		}
		return nil
	}
	secret, err := readSecret(env, "enreach-secret", f.secret, "enreach-secret-file", f.secretFile)
	if err != nil {
		return err
	}
	if f.user != "" && secret == "" {
		return usageError{fmt.Errorf("--enreach-user needs a secret key: set %s or --enreach-secret-file", envName("enreach-secret"))}
	}
	if f.user == "" && secret != "" {
		return usageError{fmt.Errorf("an Enreach secret key needs --enreach-user")}
	}
	c, err := enreach.New(enreach.Config{
		BaseURL: f.url, User: f.user, Secret: secret, Timeout: f.timeout, ANumberBody: f.aNumberBody,
		Logger: env.Log.With().Str("component", "enreach").Logger(),
	})
	if err != nil {
		return usageError{fmt.Errorf("--enreach-url/--enreach-anumber-body: %w", err)}
	}
	if u, _ := url.Parse(f.url); u != nil && u.Scheme == "http" {
		env.Log.Warn().Str("url", f.url).Msg("the Enreach upstream is plain http: credentials travel unencrypted")
	}
	if f.user == "" {
		env.Log.Info().Msg("no --enreach-user: Enreach calls need a per-session enreachToken in bridge.hello")
	}
	f.client = c
	return nil
}

func startEnreach(_ context.Context, env *serveEnv) error {
	f, _ := env.State["enreach"].(*enreachFlags)
	if f == nil || f.client == nil {
		return nil
	}
	c := f.client
	env.Server.HandleMethod(protocol.MethodEnreachExecuteQuery, func(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
		return c.ExecuteQuery(ctx, call.Session.EnreachToken(), call.Params)
	})
	env.Server.HandleMethod(protocol.MethodEnreachSetANumber, func(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
		return c.SetANumber(ctx, call.Session.EnreachToken(), call.Params)
	})
	env.Log.Info().Str("url", f.url).Bool("basicAuth", f.user != "").Msg("enreach upstream: enreach.executeQuery and enreach.setANumber enabled")
	return nil
}

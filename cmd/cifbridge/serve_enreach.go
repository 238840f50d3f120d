package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
)

// The enreach plug-in: the Enreach REST upstream behind
// enreach.executeQuery and enreach.setANumber (--enreach-url).
type enreachPlugin struct {
	noSteps
	url         string
	user        string
	secret      secretFlag
	aNumberBody string
	timeout     time.Duration

	client *enreach.Client // built by configure when --enreach-url is set
}

func (p *enreachPlugin) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.url, "enreach-url", "", "Enreach REST API `URL` (e.g. https://api-sedna.enreachvoice.com) serving enreach.executeQuery and enreach.setANumber; unset: those methods answer -32002")
	fs.StringVar(&p.user, "enreach-user", "", "Enreach API `user` for Basic auth (a session's enreachToken from bridge.hello is used instead when given)")
	p.secret.register(fs, "enreach-secret", "Enreach secret `key`")
	fs.StringVar(&p.aNumberBody, "enreach-anumber-body", enreach.DefaultANumberBody, "JSON `template` of the setANumber body; \"{{aNumber}}\" (with its quotes) is replaced by the number")
	fs.DurationVar(&p.timeout, "enreach-timeout", enreach.DefaultTimeout, "`timeout` of one Enreach API request")
}

func (p *enreachPlugin) configure(env *serveEnv) error {
	if p.url == "" {
		if n := env.given("enreach-user", "enreach-secret", "enreach-secret-file", "enreach-anumber-body"); len(n) > 0 {
			return usageError{fmt.Errorf("--%s needs --enreach-url", n[0])}
		}
		return nil
	}
	secret, err := p.secret.read(env.Log)
	if err != nil {
		return err
	}
	if p.user != "" && secret == "" {
		return usageError{fmt.Errorf("--enreach-user needs a secret key: set %s", p.secret.hint())}
	}
	if p.user == "" && secret != "" {
		return usageError{errors.New("an Enreach secret key needs --enreach-user")}
	}
	if secret != "" {
		env.Secrets = append(env.Secrets, redact.Secret{Value: secret, Users: []string{p.user}})
	}
	c, err := enreach.New(enreach.Config{
		BaseURL: p.url, User: p.user, Secret: secret, Timeout: p.timeout, ANumberBody: p.aNumberBody,
		Logger: env.Log.With().Str("component", "enreach").Logger(),
	})
	if err != nil {
		return usageError{fmt.Errorf("--enreach-url/--enreach-anumber-body: %w", err)}
	}
	if u, _ := url.Parse(p.url); u != nil && u.Scheme == "http" {
		env.Log.Warn().Str("url", p.url).Msg("the Enreach upstream is plain http: credentials travel unencrypted")
	}
	if p.user == "" {
		env.Log.Info().Msg("no --enreach-user: Enreach calls need a per-session enreachToken in bridge.hello")
	}
	p.client = c
	return nil
}

func (p *enreachPlugin) start(_ context.Context, env *serveEnv) error {
	c := p.client
	if c == nil {
		return nil
	}
	env.Server.HandleMethod(protocol.MethodEnreachExecuteQuery, func(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
		return c.ExecuteQuery(ctx, call.Session.EnreachToken(), call.Params)
	})
	env.Server.HandleMethod(protocol.MethodEnreachSetANumber, func(ctx context.Context, call bridge.WidgetCall) (json.RawMessage, error) {
		return c.SetANumber(ctx, call.Session.EnreachToken(), call.Params)
	})
	env.Log.Info().Str("url", p.url).Bool("basicAuth", p.user != "").Msg("enreach upstream: enreach.executeQuery and enreach.setANumber enabled")
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/enreach"
	"github.com/cifbridge/cifbridge/bridge/enreachemu"
	"github.com/cifbridge/cifbridge/internal/redact"
	"github.com/cifbridge/cifbridge/protocol"
)

// The enreach plug-in: the Enreach REST upstream behind
// enreach.executeQuery and enreach.setANumber (--enreach-url), or, without
// one, the embedded Enreach emulator (bridge/enreachemu).
type enreachPlugin struct {
	noSteps
	emulate     bool
	emuFile     string
	url         string
	user        string
	secret      secretFlag
	aNumberBody string
	timeout     time.Duration

	client *enreach.Client      // built by configure (upstream or emulator)
	emu    *enreachemu.Emulator // the embedded emulator, when in use
}

// enreachEmulatorBase is the base URL the in-process client is given; the
// emulator's Transport serves every request itself, nothing is dialled.
const enreachEmulatorBase = "http://enreach-emulator.invalid"

// enreachEmulatorMount is where the emulator's REST face is mounted for
// curl (outside /api/: it checks Enreach credentials, not the bridge token).
const enreachEmulatorMount = "/enreach-emulator"

func (p *enreachPlugin) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.url, "enreach-url", "", "Enreach REST API `URL` (e.g. https://api-sedna.enreachvoice.com) serving enreach.executeQuery and enreach.setANumber; unset: the embedded Enreach emulator answers them (see --enreach-emulator)")
	fs.BoolVar(&p.emulate, "enreach-emulator", true, "without --enreach-url, answer enreach.executeQuery and enreach.setANumber from the embedded Enreach REST emulator (REST face on /enreach-emulator/, admin on /api/v1/enreach-emulator/); false: those methods answer -32002")
	fs.StringVar(&p.emuFile, "enreach-emulator-file", "", "JSON `file` for the Enreach emulator: users, bearer tokens, canned responses, fault rules (see examples/enreach-emulator.json)")
	fs.StringVar(&p.user, "enreach-user", "", "Enreach API `user` for Basic auth (a session's enreachToken from bridge.hello is used instead when given)")
	p.secret.register(fs, "enreach-secret", "Enreach secret `key`")
	fs.StringVar(&p.aNumberBody, "enreach-anumber-body", enreach.DefaultANumberBody, "JSON `template` of the setANumber body; \"{{aNumber}}\" (with its quotes) is replaced by the number")
	fs.DurationVar(&p.timeout, "enreach-timeout", enreach.DefaultTimeout, "`timeout` of one Enreach API request")
}

func (p *enreachPlugin) configure(env *serveEnv) error {
	if p.url == "" && !p.emulate {
		if n := env.given("enreach-user", "enreach-secret", "enreach-secret-file", "enreach-anumber-body", "enreach-emulator-file"); len(n) > 0 {
			return usageError{fmt.Errorf("--%s needs --enreach-url or the Enreach emulator (--enreach-emulator=true)", n[0])}
		}
		return nil
	}
	if p.url == "" {
		return p.configureEmulator(env)
	}
	if env.Set["enreach-emulator-file"] {
		return usageError{errors.New("--enreach-emulator-file configures the embedded Enreach emulator, which --enreach-url replaces: give one of them")}
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
	if p.emu != nil {
		env.Log.Info().Str("rest", enreachEmulatorMount+"/").Str("admin", enreachemu.AdminPrefix).
			Msg("enreach emulator: enreach.executeQuery and enreach.setANumber answered in-process (--enreach-url for a real Enreach API, --enreach-emulator=false for none)")
		return nil
	}
	env.Log.Info().Str("url", p.url).Bool("basicAuth", p.user != "").Msg("enreach upstream: enreach.executeQuery and enreach.setANumber enabled")
	return nil
}

// configureEmulator builds the embedded Enreach emulator and a client that
// reaches it in-process. --enreach-user and a secret, when given, are what
// the client signs in with (the emulator checks them against its users);
// otherwise its first user's.
func (p *enreachPlugin) configureEmulator(env *serveEnv) error {
	var spec enreachemu.Spec
	if p.emuFile != "" {
		b, err := os.ReadFile(filepath.Clean(p.emuFile))
		if err != nil {
			return usageError{fmt.Errorf("--enreach-emulator-file: %w", err)}
		}
		if spec, err = enreachemu.ParseSpec(b); err != nil {
			return usageError{fmt.Errorf("--enreach-emulator-file %s: %w", p.emuFile, err)}
		}
	}
	emu, err := enreachemu.New(enreachemu.Config{Spec: spec, Logger: env.Log.With().Str("component", "enreach-emulator").Logger()})
	if err != nil {
		return usageError{fmt.Errorf("--enreach-emulator-file %s: %w", p.emuFile, err)}
	}
	user, secret := emu.Credentials()
	given, err := p.secret.read(env.Log)
	if err != nil {
		return err
	}
	if (p.user != "") != (given != "") {
		return usageError{errors.New("--enreach-user and an Enreach secret key go together (" + p.secret.hint() + ")")}
	}
	if p.user != "" {
		user, secret = p.user, given
	}
	c, err := enreach.New(enreach.Config{
		BaseURL: enreachEmulatorBase, User: user, Secret: secret, Timeout: p.timeout, ANumberBody: p.aNumberBody,
		HTTPClient: &http.Client{Transport: emu.Transport()},
		Logger:     env.Log.With().Str("component", "enreach").Logger(),
	})
	if err != nil {
		return usageError{fmt.Errorf("--enreach-anumber-body: %w", err)}
	}
	env.Config.Extra[enreachEmulatorMount+"/"] = http.StripPrefix(enreachEmulatorMount, emu)
	env.Config.Extra[enreachemu.AdminPrefix] = emu.AdminHandler()
	p.client, p.emu = c, emu
	return nil
}

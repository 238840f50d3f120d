package main

import (
	"context"
)

// The dashboard's live feed: GET /api/v1/stream (Server-Sent Events, admin
// token). The dashboard and the JS client themselves are mounted by
// web.Mount in serve.go.
type webPlugin struct{ noSteps }

func (webPlugin) start(_ context.Context, env *serveEnv) error {
	env.Server.Mount("GET /api/v1/stream", env.Server.StreamHandler())
	return nil
}

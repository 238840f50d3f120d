package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/cifbridge/cifbridge/bridge"
	"github.com/cifbridge/cifbridge/bridge/emulator"
	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// Example is the README's "Go client" example: create a contact, read it
// back, answer click-to-act events and hear about late answers.
func Example() {
	url, stop := exampleBridge() // a `cifbridge serve` on loopback
	defer stop()

	ctx := context.Background()
	c, err := client.Dial(ctx, url, &client.Options{
		Client: "my-softphone/1.0",
		OnLate: func(p protocol.LateParams) {
			log.Printf("%s answered %d ms after its timeout: %s", p.Method, p.LateByMs, p.Outcome)
		},
		OnEvent: func(ctx context.Context, event string, data json.RawMessage) (any, error) {
			log.Printf("event %s: %s", event, data)
			return nil, nil
		},
		Reconnect: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	created, err := c.CreateRecord(ctx, "contact", map[string]string{"firstname": "Ada", "lastname": "Lovelace"})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := c.RetrieveRecord(ctx, "contact", created.ID, "?$select=fullname")
	if err != nil {
		log.Fatal(err)
	}
	var contact struct {
		FullName string `json:"fullname"`
	}
	if err := json.Unmarshal(rec, &contact); err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", created.EntityType, contact.FullName)

	_, err = c.RetrieveRecord(ctx, "contact", "00000000-0000-0000-0000-000000000000", "")
	var pe *protocol.Error
	switch {
	case errors.Is(err, protocol.ErrTimeout):
		fmt.Println("no answer within the CIF timeout; a late answer comes to OnLate")
	case errors.As(err, &pe):
		fmt.Println("bridge error", pe.Code)
	}
	// Output:
	// created contact Ada Lovelace
	// bridge error -32001
}

// exampleBridge starts a bridge on the emulator, as `cifbridge serve` does.
func exampleBridge() (url string, stop func()) {
	emu, err := emulator.New(emulator.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := bridge.New(bridge.Config{Backend: emu})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	return "ws://" + ln.Addr().String() + protocol.PathWidget, func() {
		srv.Shutdown(context.Background())
		hs.Close()
	}
}

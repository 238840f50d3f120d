package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cifbridge/cifbridge/client"
	"github.com/cifbridge/cifbridge/protocol"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// and its key as PEM files; it returns their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "cifbridge test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLSHostPage serves https/wss with a self-signed certificate: the
// log names wss:// and https:// URLs, the host page and its config are
// served over https, and a widget session works over wss.
func TestServeTLSHostPage(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	t.Setenv("CIFBRIDGE_TLS_KEY", keyFile) // the environment works like the flag
	url, logs, _ := startServe(t, "--tls-cert", certFile, "--host-trusted-origins", "https://widgets.example.com:8443, *.contoso.com")
	if !strings.HasPrefix(url, "wss://") {
		t.Fatalf("widget URL %q, want wss://", url)
	}
	if !strings.Contains(logs.String(), `"hostPage":"https://127.0.0.1:`) {
		t.Errorf("no https hostPage URL logged:\n%s", logs)
	}
	base := "https://" + strings.TrimSuffix(strings.TrimPrefix(url, "wss://"), "/v1/widget")
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	res, err := hc.Get(base + PathHostConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		TrustedOrigins []string `json:"trustedOrigins"`
	}
	err = json.NewDecoder(res.Body).Decode(&cfg)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("config: %d %v", res.StatusCode, err)
	}
	want := []string{"https://widgets.example.com", "https://*.contoso.com"}
	if strings.Join(cfg.TrustedOrigins, ",") != strings.Join(want, ",") {
		t.Errorf("trustedOrigins %v, want %v (port dropped, https by default)", cfg.TrustedOrigins, want)
	}

	res, err = hc.Get(base + "/host/?widget=https%3A%2F%2Fwidgets.example.com%2Fw.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`src="/host/main.js"`)) {
		t.Fatalf("host page: %d\n%s", res.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := client.Dial(ctx, url, &client.Options{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dial over wss: %v", err)
	}
	defer w.Close()
	var mode int
	if err := w.Call(ctx, protocol.MethodGetMode, nil, &mode); err != nil || mode != 1 {
		t.Fatalf("getmode over wss: %d %v", mode, err)
	}

	// The Docker healthcheck follows the same variables.
	t.Setenv("CIFBRIDGE_TLS_CERT", certFile)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--listen", strings.TrimPrefix(base, "https://")}, &out, &out); err != nil {
		t.Errorf("healthcheck over https: %v\n%s", err, out.String())
	}

	// Plain http on the TLS port is refused.
	plain := "http://" + strings.TrimPrefix(base, "https://")
	if res, err := http.Get(plain + "/livez"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Error("plain http answered 200 on the TLS listener")
		}
	}
}

func TestServeTLSAndTrustedOriginsErrors(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, "--tls-cert and --tls-key go together"},
		{"key without cert", []string{"--tls-key", keyFile}, "--tls-cert and --tls-key go together"},
		{"missing cert file", []string{"--tls-cert", certFile + ".nope", "--tls-key", keyFile}, "no such file"},
		{"key is not a key", []string{"--tls-cert", certFile, "--tls-key", certFile}, "--tls-key"},
		{"origin not a URL", []string{"--host-trusted-origins", "https://"}, "is not an origin"},
		{"origin with a bad scheme", []string{"--host-trusted-origins", "ftp://x.example"}, "the scheme must be http or https"},
		{"inner wildcard", []string{"--host-trusted-origins", "https://a.*.example"}, "only a leading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refuseServe(t, tt.want, tt.args...)
		})
	}
}

func TestPortless(t *testing.T) {
	for _, tt := range []struct {
		addr  string
		https bool
		want  string
	}{
		{"127.0.0.1:80", false, "127.0.0.1"},
		{"127.0.0.1:443", true, "127.0.0.1"},
		{"127.0.0.1:443", false, "127.0.0.1:443"},
		{"127.0.0.1:80", true, "127.0.0.1:80"},
		{"127.0.0.1:8787", false, "127.0.0.1:8787"},
		{"[::1]:80", false, "[::1]"},
	} {
		if got := portless(tt.addr, tt.https); got != tt.want {
			t.Errorf("portless(%q, %v) = %q, want %q", tt.addr, tt.https, got, tt.want)
		}
	}
}

func TestListenHint(t *testing.T) {
	err := listenHint("127.0.0.1:80", &net.OpError{Op: "listen", Err: os.NewSyscallError("bind", syscall.EACCES)})
	if !strings.Contains(err.Error(), "cap_net_bind_service") || !errors.Is(err, syscall.EACCES) {
		t.Errorf("hint missing or cause lost: %v", err)
	}
	other := errors.New("address already in use")
	if got := listenHint("127.0.0.1:80", other); got != other {
		t.Errorf("other errors pass unchanged, got %v", got)
	}
}

// TestServeTLSHandshakeErrorsSampled: every botched TLS handshake is a line
// of net/http's ErrorLog, which a client can cause once per connection. They
// reach the daemon's JSON log, one per 10 s: 50 bad handshakes, one line.
func TestServeTLSHandshakeErrorsSampled(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	url, logs, _ := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "wss://"), "/v1/widget")
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// A TLS record header announcing a handshake, then nonsense: the
		// handshake fails, net/http logs it, then closes the connection.
		if _, err := c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef}); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c) // until the bridge closes it
		c.Close()
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "TLS handshake error") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"kind":"tls_handshake"`) {
		t.Fatalf("%d log lines about TLS handshakes, want one JSON line of kind tls_handshake:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

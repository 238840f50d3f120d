package enreachemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"

	"github.com/cifbridge/cifbridge/internal/httpjson"
)

// Spec is the emulator's configuration file (--enreach-emulator-file). Every
// field is optional; a zero Spec is DefaultSpec's users with no canned
// responses and no faults.
//
//	{
//	  "users": [{"id":"…","email":"agent@example.com","password":"…","secretKey":"…","firstName":"Ada","lastName":"Agent"}],
//	  "tokens": {"a-bearer-token": "agent@example.com"},
//	  "responses": [{"method":"GET","path":"/calls","status":200,"body":[{"Id":"…"}]}],
//	  "faults": {"seed":1,"rules":[{"method":"GET","path":"/users/me","latencyMs":3000,"count":1}]}
//	}
type Spec struct {
	// Users are the accounts the emulator knows; empty means DefaultUser.
	Users []User `json:"users,omitempty"`
	// Tokens maps bearer tokens to a user's email. nil: any bearer token is
	// accepted as the first user (the emulator cannot check an Enreach/OIDC
	// session token); non-nil (even {}): only the listed tokens are.
	Tokens map[string]string `json:"tokens,omitempty"`
	// Responses are canned answers, tried before the built-in routes.
	Responses []Response `json:"responses,omitempty"`
	// Faults is the initial fault profile.
	Faults *FaultProfile `json:"faults,omitempty"`
}

// User is one Enreach user. Basic auth is email (or userName):secretKey, as
// on the real API; POST /authuser/{email}/ with {"UserName","Password"}
// returns the secret key.
type User struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId,omitempty"`
	Email          string `json:"email"`
	UserName       string `json:"userName,omitempty"` // default: the email
	Password       string `json:"password"`
	SecretKey      string `json:"secretKey"`
	FirstName      string `json:"firstName,omitempty"`
	LastName       string `json:"lastName,omitempty"`
}

// Response is a canned answer to METHOD path. Path is matched without its
// query string and trailing slash; a final "*" segment matches any rest
// ("/calls/recordings/*"). Auth still applies unless Anonymous is set.
type Response struct {
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Status    int             `json:"status,omitempty"` // default 200
	Body      json.RawMessage `json:"body,omitempty"`   // default: no body
	Anonymous bool            `json:"anonymous,omitempty"`
}

// The built-in user the zero-config daemon signs in as.
const (
	DefaultUserID    = "6f1c5d2e-8a43-4b7e-9c1d-2e5f7a9b0c31"
	DefaultOrgID     = "0b7e4c19-3d5a-4f62-8e1b-9c7d2a6f4e85"
	DefaultEmail     = "agent@example.com"
	DefaultPassword  = "emulator-password"
	DefaultSecretKey = "emulator-secret-key"
)

// DefaultUser is the user of a Spec without users.
func DefaultUser() User {
	return User{ID: DefaultUserID, OrganizationID: DefaultOrgID, Email: DefaultEmail, Password: DefaultPassword,
		SecretKey: DefaultSecretKey, FirstName: "Ada", LastName: "Agent"}
}

// ParseSpec reads a Spec strictly (unknown fields are errors) and validates it.
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	if err := httpjson.DecodeStrict(data, &s); err != nil {
		return Spec{}, fmt.Errorf("not a valid emulator file (a JSON object with users, tokens, responses, faults): %w", err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// Validate checks a Spec; errors name the field.
func (s *Spec) Validate() error {
	seen := map[string]bool{}
	for i, u := range s.Users {
		where := fmt.Sprintf("users[%d]", i)
		if strings.TrimSpace(u.ID) == "" || strings.ContainsAny(u.ID, "/?#% ") {
			return fmt.Errorf("%s.id is required and must be usable in a path (no / ? # %% or space), got %q", where, u.ID)
		}
		if _, err := mail.ParseAddress(u.Email); err != nil || strings.Contains(u.Email, "/") {
			return fmt.Errorf("%s.email %q is not an email address like agent@example.com", where, u.Email)
		}
		if u.SecretKey == "" || u.Password == "" {
			return fmt.Errorf("%s: password and secretKey are required", where)
		}
		for _, k := range []string{"id:" + u.ID, "email:" + strings.ToLower(u.Email), "name:" + strings.ToLower(u.UserName)} {
			if k == "name:" {
				continue
			}
			if seen[k] {
				return fmt.Errorf("%s: %s is used by two users", where, k)
			}
			seen[k] = true
		}
	}
	users := s.users()
	for tok, email := range s.Tokens {
		if tok == "" {
			return fmt.Errorf("tokens: a token is empty")
		}
		if findUser(users, email) == nil {
			return fmt.Errorf("tokens: token for %q names no user in users", email)
		}
	}
	if err := validateResponses(s.Responses); err != nil {
		return err
	}
	if s.Faults != nil {
		if err := s.Faults.Validate(); err != nil {
			return fmt.Errorf("faults: %w", err)
		}
	}
	return nil
}

func validateResponses(rs []Response) error {
	for i, r := range rs {
		where := fmt.Sprintf("responses[%d]", i)
		if !validMethod(r.Method, false) {
			return fmt.Errorf("%s.method must be GET, POST, PUT, PATCH or DELETE, got %q", where, r.Method)
		}
		if err := validPath(r.Path); err != nil {
			return fmt.Errorf("%s.path: %w", where, err)
		}
		if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
			return fmt.Errorf("%s.status must be an HTTP status 200..599, got %d", where, r.Status)
		}
		if len(r.Body) > 0 && !json.Valid(r.Body) {
			return fmt.Errorf("%s.body is not valid JSON", where)
		}
	}
	return nil
}

func validMethod(m string, star bool) bool {
	switch strings.ToUpper(m) {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	case "*":
		return star
	}
	return false
}

func validPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must start with / (a path within the API, e.g. \"/calls\")", p)
	}
	if strings.ContainsAny(p, "?#") {
		return fmt.Errorf("%q must not hold a query or fragment", p)
	}
	if i := strings.Index(p, "*"); i >= 0 && i != len(p)-1 {
		return fmt.Errorf("%q may hold * only as its last character", p)
	}
	return nil
}

// users is Users or the default user.
func (s *Spec) users() []User {
	if len(s.Users) == 0 {
		return []User{DefaultUser()}
	}
	out := make([]User, len(s.Users))
	copy(out, s.Users)
	return out
}

// findUser finds a user by email or user name (case-insensitive).
func findUser(us []User, name string) *User {
	for i := range us {
		if strings.EqualFold(us[i].Email, name) || us[i].UserName != "" && strings.EqualFold(us[i].UserName, name) {
			return &us[i]
		}
	}
	return nil
}

// matchPath reports whether a request path matches a rule/response path
// (trailing slashes ignored, final * matches any rest, case-insensitive as
// ASP.NET routes are).
func matchPath(pattern, path string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	path = strings.TrimSuffix(path, "/")
	if rest, ok := strings.CutSuffix(pattern, "*"); ok {
		return len(path) >= len(rest) && strings.EqualFold(path[:len(rest)], rest)
	}
	return strings.EqualFold(strings.TrimSuffix(pattern, "/"), path)
}

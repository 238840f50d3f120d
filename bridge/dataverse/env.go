package dataverse

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cifbridge/cifbridge/protocol"
)

// environment answers cif.getenvironment with CIF's keys (the keys CIF documents),
// of the same types as the emulator's:
//
//	clientUrl, appUrl      the org URL, and its main.aspx (a daemon has no app page)
//	orgId, userId          WhoAmI
//	orgUniqueName          the org host's first label
//	orgLcid (number)       organizations(<orgId>)?$select=languagecode
//	crmVersion (string)    RetrieveVersion()
//	username (string)      systemusers(<userId>) domainname
//	userRoles ([]GUID)     systemusers(<userId>)/systemuserroles_association roleid
//	userLcid (number)      usersettingscollection(<userId>) uilanguageid
//	isDirty, msdyn_customparams   false, "" (no form, no provider parameters)
//
// The answer is cached: the application user and the org do not change
// while the daemon runs. Any failing read fails the call with its Dataverse
// error (a missing privilege on systemuser or usersettings shows as its
// 403), and nothing is cached.
func (b *Backend) environment(ctx context.Context, a attempt, _ json.RawMessage) (json.RawMessage, error) {
	b.envMu.Lock()
	env := b.env
	b.envMu.Unlock()
	if env != nil {
		return env, nil
	}
	var who struct {
		UserID         string `json:"UserId"`
		OrganizationID string `json:"OrganizationId"`
	}
	var version struct {
		Version string `json:"Version"`
	}
	if err := b.getJSON(ctx, a, "WhoAmI", "", &who); err != nil {
		return nil, err
	}
	userID, err := guid("WhoAmI UserId", who.UserID)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBackend, "dataverse: WhoAmI answered no usable UserId (%q)", who.UserID)
	}
	orgID, err := guid("WhoAmI OrganizationId", who.OrganizationID)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBackend, "dataverse: WhoAmI answered no usable OrganizationId (%q)", who.OrganizationID)
	}
	var user struct {
		DomainName string `json:"domainname"`
		Roles      []struct {
			RoleID string `json:"roleid"`
		} `json:"systemuserroles_association"`
	}
	var settings struct {
		UILanguageID int `json:"uilanguageid"`
	}
	var org struct {
		LanguageCode int `json:"languagecode"`
	}
	for _, r := range []struct {
		path, query string
		into        any
	}{
		{"RetrieveVersion()", "", &version},
		{"systemusers(" + userID + ")", "$select=domainname&$expand=systemuserroles_association($select=roleid)", &user},
		{"usersettingscollection(" + userID + ")", "$select=uilanguageid", &settings},
		{"organizations(" + orgID + ")", "$select=languagecode", &org},
	} {
		if err := b.getJSON(ctx, a, r.path, r.query, r.into); err != nil {
			return nil, err
		}
	}
	roles := make([]string, 0, len(user.Roles))
	for _, r := range user.Roles {
		roles = append(roles, r.RoleID)
	}
	uniq, _, _ := strings.Cut(b.org.Hostname(), ".")
	env, err = json.Marshal(map[string]any{
		"clientUrl":          b.org.String(),
		"appUrl":             b.org.String() + "/main.aspx",
		"orgLcid":            org.LanguageCode,
		"orgUniqueName":      uniq,
		"orgId":              orgID,
		"userId":             userID,
		"userLcid":           settings.UILanguageID,
		"username":           user.DomainName,
		"userRoles":          roles,
		"crmVersion":         version.Version,
		"isDirty":            false,
		"msdyn_customparams": "",
	})
	if err != nil {
		return nil, err
	}
	b.envMu.Lock()
	b.env = env
	b.envMu.Unlock()
	return env, nil
}

// getJSON GETs path?query and decodes the answer into v.
func (b *Backend) getJSON(ctx context.Context, a attempt, path, query string, v any) error {
	res, err := b.do(ctx, a, request{method: http.MethodGet, path: path, query: query})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		name, _, _ := strings.Cut(path, "(")
		return protocol.Errorf(protocol.CodeBackend, "dataverse: decode the %s answer: %v", name, err)
	}
	return nil
}

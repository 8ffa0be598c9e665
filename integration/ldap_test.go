package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// The searches desk phones send, from their vendors' documentation, with
// the typed text or the caller's number in place of %:
//
//   - Yealink: ldap.name_filter=(|(cn=%)(sn=%)), ldap.number_filter=
//     (|(telephoneNumber=%)(mobile=%)(homePhone=%)) for
//     ldap.call_in_lookup; % is what the user typed, or the caller's
//     number, followed by * in prefix mode (ldap.search_type=0, the
//     default); bind ldap.user=201@pbx.example.com.
//   - Snom: ldap_search_filter=(&(telephoneNumber=*)(sn=%)),
//     ldap_number_filter=(&(telephoneNumber=%)(sn=*)); bind with the
//     full DN uid=201,ou=users,dc=….
//   - Polycom: dir.corp.filterPrefix=(objectclass=person) and'ed with the
//     typed name, browsing with >= on the sort attribute (sn), results in
//     pages (RFC 2696).
//   - Grandstream: name filter (|(cn=%)(sn=%)), number filter
//     (|(telephoneNumber=%)(Mobile=%)(ipPhone=%)).
var phoneSearches = []struct {
	name, bind, filter string
	want               []string // cn of the entries expected
}{
	{name: "yealink name", bind: "201@pbx.example.com", filter: "(|(cn=Ali*)(sn=Ali*))", want: []string{"Alice Müller"}},
	{name: "yealink name by last name", bind: "201@pbx.example.com", filter: "(|(cn=Mul*)(sn=Mul*))", want: []string{"Alice Müller"}},
	{name: "yealink number as the trunk sends it", bind: "201@pbx.example.com",
		filter: "(|(telephoneNumber=+14155550132)(mobile=+14155550132)(homePhone=+14155550132))", want: []string{"Alice Müller"}},
	{name: "yealink number in prefix mode", bind: "201@pbx.example.com",
		filter: "(|(telephoneNumber=+14155550132*)(mobile=+14155550132*)(homePhone=+14155550132*))", want: []string{"Alice Müller"}},
	{name: "yealink typed digits in prefix mode", bind: "201@pbx.example.com",
		filter: "(|(telephoneNumber=415555014*)(mobile=415555014*)(homePhone=415555014*))", want: []string{"Dave Secret"}},
	{name: "yealink number of a mobile", bind: "201@pbx.example.com",
		filter: "(|(telephoneNumber=14155550199)(mobile=14155550199)(homePhone=14155550199))", want: []string{"Alice Müller"}},
	{name: "yealink number of own personal contact", bind: "201@pbx.example.com",
		filter: "(|(telephoneNumber=4155550142)(mobile=4155550142)(homePhone=4155550142))", want: []string{"Dave Secret"}},
	{name: "snom name", bind: "uid=201,ou=users,dc=pbx,dc=example,dc=com", filter: "(&(telephoneNumber=*)(sn=Tea*))", want: []string{"Carol Team"}},
	{name: "snom number", bind: "uid=201,ou=users,dc=pbx,dc=example,dc=com", filter: "(&(telephoneNumber=+1 \\28415\\29 555-0132)(sn=*))", want: []string{"Alice Müller"}},
	{name: "polycom browse", bind: "201@pbx.example.com", filter: "(&(objectclass=person)(sn>=M)(sn<=N))", want: []string{"Alice Müller"}},
	{name: "grandstream extension", bind: "201@pbx.example.com", filter: "(|(telephoneNumber=203)(Mobile=203)(ipPhone=203))", want: []string{"Carol Team"}},
	{name: "another user's personal number", bind: "201@pbx.example.com",
		filter: "(|(telephoneNumber=4155550166)(mobile=4155550166)(homePhone=4155550166))"},
	{name: "another user's personal name", bind: "201@pbx.example.com", filter: "(|(cn=Eve*)(sn=Eve*))"},
}

// ldapResult is what ldapsearch printed: the entries (attribute → values,
// "dn" included) and its exit code, the LDAP result code.
type ldapResult struct {
	entries []map[string][]string
	code    int
	out     string
}

func (r ldapResult) cns() []string {
	var out []string
	for _, e := range r.entries {
		out = append(out, e["cn"]...)
	}
	slices.Sort(out)
	return out
}

// ldapsearch runs the OpenLDAP client with args (-x, -LLL added).
func ldapsearch(t *testing.T, caFile string, args ...string) ldapResult {
	t.Helper()
	cmd := exec.Command("ldapsearch", append([]string{"-x", "-LLL", "-o", "nettimeout=5", "-l", "5"}, args...)...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+caFile, "LDAPTLS_REQCERT=demand", "LDAPCONF=/dev/null", "LDAPRC=/dev/null")
	out, err := cmd.CombinedOutput()
	res := ldapResult{out: string(out)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("ldapsearch: %v", err)
	}
	var cur map[string][]string
	var last string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "":
			cur = nil
			continue
		case strings.HasPrefix(line, " ") && cur != nil && last != "":
			vs := cur[last] // LDIF continuation line
			vs[len(vs)-1] += line[1:]
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(value, ":") { // base64 (non-ASCII values)
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
			require.NoError(t, err, line)
			value = string(b)
		}
		if name == "dn" {
			cur = map[string][]string{}
			res.entries = append(res.entries, cur)
		}
		if cur != nil {
			last = name
			cur[name] = append(cur[name], strings.TrimSpace(value))
		}
	}
	return res
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "switchboard test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

// TestLDAPDirectoryForDeskPhones drives the built binary with ldapsearch
// as Yealink, Snom, Polycom and Grandstream phones search: over plain
// LDAP, StartTLS and LDAPS, each search finds what the API shows the
// bound user (own personal, company, team), never another user's
// personal contacts nor another domain's; numbers match in any format.
func TestLDAPDirectoryForDeskPhones(t *testing.T) {
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatal("ldapsearch (ldap-utils) is not installed")
		}
		t.Skip("ldapsearch (ldap-utils) is not installed")
	}
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	cert, key := writeCert(t)
	ldapAddr := "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
	ldapsAddr := "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
	in := startInstance(t, "ldap", "--redis", redisURL, "--nats", natsURL, "--region", "US",
		"--domain", "pbx.example.com,b.example", "--tls-cert", cert, "--tls-key", key,
		"--ldap-listen", ldapAddr, "--ldaps-listen", ldapsAddr, "--ldap-anonymous", "b.example")
	operator := mintKey(t, redisURL, "--admin", "--scopes", "company:write,users:admin")
	k201 := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal,company:read")
	k202 := mintKey(t, redisURL, "--user", "202@pbx.example.com", "--scopes", "contacts:personal,company:read")
	tenantAdmin := mintKey(t, redisURL, "--admin", "--domain", "pbx.example.com", "--scopes", "company:read")

	for _, c := range []struct{ key, path, body string }{
		{operator, "/v1/contacts", `{"kind":"company","domain":"pbx.example.com","first_name":"Alice","last_name":"Müller","company":"Acme","job_title":"Buyer",
			"phones":[{"type":"work","number":"(415) 555-0132"},{"type":"mobile","number":"+1 415 555 0199"}],"emails":["alice@acme.example"]}`},
		{operator, "/v1/contacts", `{"kind":"company","domain":"b.example","first_name":"Bob","last_name":"Other","phones":[{"type":"work","number":"+1 212 555 0100"}]}`},
		{k201, "/v1/contacts", `{"kind":"personal","first_name":"Dave","last_name":"Secret","phones":[{"type":"home","number":"415 555 0142"}]}`},
		{k202, "/v1/contacts", `{"kind":"personal","first_name":"Eve","last_name":"Private","phones":[{"type":"mobile","number":"415-555-0166"}]}`},
	} {
		code, body, _ := in.call("POST", c.path, c.key, c.body)
		require.Equal(t, 201, code, body)
	}
	code, body, _ := in.call("PUT", "/v1/users/203@pbx.example.com", operator, `{"first_name":"Carol","last_name":"Team","department":"Support"}`)
	require.True(t, code == 200 || code == 201, "%d %s", code, body)

	base := "dc=pbx,dc=example,dc=com"
	plain, tls := "ldap://"+ldapAddr, "ldaps://"+ldapsAddr
	search := func(uri string, extra ...string) ldapResult {
		return ldapsearch(t, cert, append([]string{"-H", uri}, extra...)...)
	}
	// gldap binds its socket once serving starts: wait for it.
	require.Eventually(t, func() bool {
		return search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", base, "(cn=Alice*)").code == 0
	}, 10*time.Second, 100*time.Millisecond, "ldap listener up")

	transports := []struct {
		name string
		args []string
	}{
		{name: "ldap", args: []string{"-H", plain}},
		{name: "starttls", args: []string{"-H", plain, "-ZZ"}},
		{name: "ldaps", args: []string{"-H", tls}},
	}
	for _, tr := range transports {
		for _, ps := range phoneSearches {
			t.Run(tr.name+"/"+ps.name, func(t *testing.T) {
				args := append(slices.Clone(tr.args), "-D", ps.bind, "-w", k201, "-b", base, ps.filter)
				res := ldapsearch(t, cert, args...)
				require.Equal(t, 0, res.code, res.out)
				require.Equal(t, ps.want, res.cns(), res.out)
			})
		}
	}

	t.Run("everything 201 sees", func(t *testing.T) {
		res := search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", base, "(objectClass=inetOrgPerson)")
		require.Equal(t, 0, res.code, res.out)
		require.Equal(t, []string{"Alice Müller", "Carol Team", "Dave Secret"}, res.cns())
		for _, e := range res.entries {
			if e["cn"][0] == "Alice Müller" {
				// One entry per contact, with every number.
				require.Equal(t, []string{"(415) 555-0132"}, e["telephoneNumber"])
				require.Equal(t, []string{"+1 415 555 0199"}, e["mobile"])
				require.Equal(t, []string{"Müller"}, e["sn"])
				require.Contains(t, e["objectClass"], "inetOrgPerson")
			}
		}
		res = search(plain, "-D", "202@pbx.example.com", "-w", k202, "-b", base, "(objectClass=*)")
		require.Equal(t, []string{"Alice Müller", "Carol Team", "Eve Private"}, res.cns(), res.out)
	})
	t.Run("tenant admin sees company and team, no personal", func(t *testing.T) {
		res := search(plain, "-D", "pbx.example.com", "-w", tenantAdmin, "-b", base, "(objectClass=*)")
		require.Equal(t, 0, res.code, res.out)
		require.Equal(t, []string{"Alice Müller"}, res.cns(), "company:read only: team contacts need users:admin, as in the API")
	})
	t.Run("another domain's base gives nothing", func(t *testing.T) {
		res := search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", "dc=b,dc=example", "(objectClass=*)")
		require.Equal(t, 32, res.code, res.out) // noSuchObject
		require.Empty(t, res.entries)
		res = search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", "dc=unknown,dc=example", "(objectClass=*)")
		require.Equal(t, 32, res.code, res.out)
	})
	t.Run("binds", func(t *testing.T) {
		res := search(plain, "-D", "201@pbx.example.com", "-w", "sbk_0000000000000000_nope", "-b", base, "(cn=*)")
		require.Equal(t, 49, res.code, res.out) // invalidCredentials
		res = search(plain, "-D", "202@pbx.example.com", "-w", k201, "-b", base, "(cn=*)")
		require.Equal(t, 49, res.code, "201's key does not bind as 202: %s", res.out)
		res = search(plain, "-D", "uid=201,ou=users,dc=b,dc=example", "-w", k201, "-b", base, "(cn=*)")
		require.Equal(t, 49, res.code, res.out)
	})
	t.Run("anonymous", func(t *testing.T) {
		res := search(plain, "-b", base, "(objectClass=*)")
		require.Equal(t, 50, res.code, "no anonymous view of pbx.example.com: %s", res.out) // insufficientAccessRights
		require.Empty(t, res.entries)
		res = search(plain, "-b", "dc=b,dc=example", "(objectClass=*)")
		require.Equal(t, 0, res.code, res.out)
		require.Equal(t, []string{"Bob Other"}, res.cns(), "b.example's read-only company view")
	})
	t.Run("size limit and paging", func(t *testing.T) {
		res := search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", base, "-z", "1", "(objectClass=*)")
		require.Equal(t, 4, res.code, res.out) // sizeLimitExceeded
		require.Len(t, res.entries, 1)
		res = search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", base, "-E", "pr=1/noprompt", "(objectClass=*)")
		require.Equal(t, 0, res.code, res.out)
		require.Equal(t, []string{"Alice Müller", "Carol Team", "Dave Secret"}, res.cns(), res.out)
	})
	t.Run("read-only", func(t *testing.T) {
		cmd := exec.Command("ldapdelete", "-x", "-H", plain, "-D", "201@pbx.example.com", "-w", k201, "uid=x,"+base)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, string(out))
		require.Equal(t, 53, exit.ExitCode(), string(out)) // unwillingToPerform
	})
	t.Run("root DSE", func(t *testing.T) {
		res := search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", "", "-s", "base", "(objectClass=*)", "+", "*")
		require.Equal(t, 0, res.code, res.out)
		require.Len(t, res.entries, 1, res.out)
		require.Equal(t, []string{base}, res.entries[0]["namingContexts"], "only 201's own domain")
		require.Contains(t, res.entries[0]["supportedControl"], "1.2.840.113556.1.4.319")   // paged results
		require.Contains(t, res.entries[0]["supportedExtension"], "1.3.6.1.4.1.1466.20037") // StartTLS
	})
	t.Run("garbage keeps serving", func(t *testing.T) {
		for _, junk := range []string{"GET / HTTP/1.1\r\n\r\n", "\x30\x84\xff\xff\xff\xff", "\x30\x05\x02\x01\x01\x63\x00"} {
			c, err := net.Dial("tcp", ldapAddr)
			require.NoError(t, err)
			_, _ = c.Write([]byte(junk))
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, _ = c.Read(make([]byte, 512))
			c.Close()
		}
		res := search(plain, "-D", "201@pbx.example.com", "-w", k201, "-b", base, "(cn=Alice*)")
		require.Equal(t, []string{"Alice Müller"}, res.cns(), res.out)
	})
	in.stop() // SIGTERM: the LDAP listeners close with the rest
}

// TestSubscriptionCapsConfigurable: one watcher holds 200 subscriptions
// by default and the 201st is refused (403, what the SIP edge answers a
// cap); raised through SWITCHBOARD_MAX_SUBS_PER_WATCHER it is admitted.
// --max-subs-per-target is wired the same way: lowered to 2, a third
// subscription to one extension is refused.
func TestSubscriptionCapsConfigurable(t *testing.T) {
	subscribe := func(p *siptest.Phone, target, callID string) int {
		p.Request("SUBSCRIBE", target, 1, callID, "w-"+callID, "", "Event: dialog\nExpires: 600\n", "")
		res := p.Response("SUBSCRIBE")
		if res.StatusCode == 200 {
			p.Notify(200)
		}
		return res.StatusCode
	}
	fill := func(t *testing.T, p *siptest.Phone, from, n int) {
		for i := from; i < from+n; i++ {
			require.Equal(t, 200, subscribe(p, fmt.Sprintf("sip:%d@pbx.example.com", 1000+i), fmt.Sprintf("cap-%d", i)), "subscription %d", i)
		}
	}

	def := startInstance(t, "caps-default", "--rate-limit", "-1")
	p := siptest.NewPhone(t, "TCP", def.sipAddr())
	fill(t, p, 0, 200)
	require.Equal(t, 403, subscribe(p, "sip:2000@pbx.example.com", "cap-over"), "the default cap still refuses the 201st")

	raised := &instance{t: t, sipPort: freeSIPPort(t), http: "127.0.0.1:" + strconv.Itoa(harness.FreePort(t)), logs: &syncBuffer{}}
	raised.args = []string{"--sip-listen", raised.sipAddr(), "--http-listen", raised.http, "--domain", "pbx.example.com",
		"--data-dir", t.TempDir(), "--instance-id", "caps-raised", "--rate-limit", "-1", "--max-subs-per-target", "2"}
	t.Setenv("SWITCHBOARD_MAX_SUBS_PER_WATCHER", "201")
	raised.start()
	t.Cleanup(raised.kill)
	p = siptest.NewPhone(t, "TCP", raised.sipAddr())
	// Two dialogs to one extension reach --max-subs-per-target 2.
	require.Equal(t, 200, subscribe(p, "sip:999@pbx.example.com", "tgt-1"))
	require.Equal(t, 200, subscribe(p, "sip:999@pbx.example.com", "tgt-2"))
	require.Equal(t, 403, subscribe(p, "sip:999@pbx.example.com", "tgt-3"), "the lowered per-target cap refuses a third")
	// 2 + 199 = 201 subscriptions for the watcher: admitted, the next not.
	fill(t, p, 0, 199)
	require.Equal(t, 403, subscribe(p, "sip:2000@pbx.example.com", "cap-over"), "the raised cap holds at 201")
}

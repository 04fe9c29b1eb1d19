package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// The tests load the real config.toml from the repository root, as main embeds it.
func init() {
	b, err := os.ReadFile("../config.toml")
	if err != nil {
		panic(err)
	}
	Default = b
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "irm.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadEmbeddedDefault(t *testing.T) {
	t.Setenv("IRM_CONFIG", "")
	cwd, _ := os.Getwd()
	c, err := Load(FromEnv(""))
	if err != nil {
		t.Fatalf("embedded default does not load: %v", err)
	}
	want := map[string]any{
		"DataDir":           filepath.Join(cwd, "data"),
		"Listen":            "127.0.0.1:8080",
		"Drop.Dir":          filepath.Join(cwd, "drop"),
		"Drop.Keep":         30,
		"Drop.Rescan":       10,
		"Drop.Settle":       500,
		"Rules.Dir":         filepath.Join(cwd, "rules.d"),
		"Org.Domains":       []string{"contoso.com"},
		"Org.Timezone":      "UTC",
		"Retention.Days":    180,
		"File":              "",
		"TLS":               "",
		"HR.Columns.length": 0,
		"Audit.KeyFile":     filepath.Join(cwd, "audit.key"),
		"Audit.Retention":   365,
		"Audit.Anchor":      60,
		"Audit.Syslog":      "",
		"UI.Idle":           30,
		"UI.MaxHours":       12,
	}
	got := map[string]any{
		"DataDir":           c.DataDir,
		"Listen":            c.Listen,
		"Drop.Dir":          c.Drop.Dir,
		"Drop.Keep":         c.Drop.KeepProcessedDays,
		"Drop.Rescan":       c.Drop.RescanSeconds,
		"Drop.Settle":       c.Drop.SettleMS,
		"Rules.Dir":         c.Rules.Dir,
		"Org.Domains":       c.Org.Domains,
		"Org.Timezone":      c.Org.Timezone,
		"Retention.Days":    c.Retention.EventsDays,
		"File":              c.File,
		"TLS":               c.TLSCert + c.TLSKey,
		"HR.Columns.length": len(c.HR.Columns),
		"Audit.KeyFile":     c.Audit.KeyFile,
		"Audit.Retention":   c.Audit.RetentionDays,
		"Audit.Anchor":      c.Audit.AnchorMinutes,
		"Audit.Syslog":      c.Audit.Syslog,
		"UI.Idle":           c.UI.SessionIdleMinutes,
		"UI.MaxHours":       c.UI.SessionMaxHours,
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}

func TestLoadOverride(t *testing.T) {
	t.Setenv("IRM_CONFIG", "")
	tests := []struct {
		name  string
		text  string
		check func(t *testing.T, c *Config, dir string)
	}{
		{
			name: "only what is set changes",
			text: "listen = \"0.0.0.0:9443\"\n[retention]\nevents_days = 30\n",
			check: func(t *testing.T, c *Config, dir string) {
				if c.Listen != "0.0.0.0:9443" || c.Retention.EventsDays != 30 {
					t.Errorf("override not applied: listen %q, events_days %d", c.Listen, c.Retention.EventsDays)
				}
				if c.Drop.KeepProcessedDays != 30 || c.Drop.SettleMS != 500 {
					t.Errorf("defaults lost: %+v", c.Drop)
				}
			},
		},
		{
			name: "relative paths resolve against the config file's folder",
			text: "data_dir = \"var/db\"\n[drop]\ndir = \"../incoming\"\n[rules]\ndir = \"/abs/rules\"\n",
			check: func(t *testing.T, c *Config, dir string) {
				if c.DataDir != filepath.Join(dir, "var/db") {
					t.Errorf("data_dir = %q, want under %q", c.DataDir, dir)
				}
				if c.Drop.Dir != filepath.Join(filepath.Dir(dir), "incoming") {
					t.Errorf("drop.dir = %q", c.Drop.Dir)
				}
				if c.Rules.Dir != "/abs/rules" {
					t.Errorf("absolute rules.dir changed: %q", c.Rules.Dir)
				}
			},
		},
		{
			name: "defaults that stay relative also resolve against the file's folder",
			text: "listen = \"127.0.0.1:8081\"\n",
			check: func(t *testing.T, c *Config, dir string) {
				if c.DataDir != filepath.Join(dir, "data") || c.Drop.Dir != filepath.Join(dir, "drop") {
					t.Errorf("data_dir %q drop.dir %q, want under %q", c.DataDir, c.Drop.Dir, dir)
				}
			},
		},
		{
			name: "a list replaces the default list and domains are lower-cased",
			text: "[org]\ndomains = [\"Fabrikam.COM \", \"*.fabrikam.net\"]\n",
			check: func(t *testing.T, c *Config, dir string) {
				if want := []string{"fabrikam.com", "*.fabrikam.net"}; !reflect.DeepEqual(c.Org.Domains, want) {
					t.Errorf("domains = %q, want %q", c.Org.Domains, want)
				}
			},
		},
		{
			name: "an IANA time zone for the organisation",
			text: "[org]\ntimezone = \"America/New_York\"\n",
			check: func(t *testing.T, c *Config, dir string) {
				if c.Org.Timezone != "America/New_York" || !reflect.DeepEqual(c.Org.Domains, []string{"contoso.com"}) {
					t.Errorf("org = %+v", c.Org)
				}
			},
		},
		{
			name: "hr column remaps are free-form",
			text: "[hr.columns]\nEmailAddress = \"Email\"\nResignationDate = \"Resigned On\"\n",
			check: func(t *testing.T, c *Config, dir string) {
				want := map[string]string{"EmailAddress": "Email", "ResignationDate": "Resigned On"}
				if !reflect.DeepEqual(c.HR.Columns, want) {
					t.Errorf("hr.columns = %v", c.HR.Columns)
				}
			},
		},
		{
			name: "TLS paths resolve too",
			text: "tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n",
			check: func(t *testing.T, c *Config, dir string) {
				if c.TLSCert != filepath.Join(dir, "tls/cert.pem") || c.TLSKey != filepath.Join(dir, "tls/key.pem") {
					t.Errorf("tls %q %q", c.TLSCert, c.TLSKey)
				}
			},
		},
		{
			name: "a UTF-8 byte-order mark is accepted",
			text: "\ufeff# saved by Notepad\nlisten = \"127.0.0.1:9000\"\n",
			check: func(t *testing.T, c *Config, dir string) {
				if c.Listen != "127.0.0.1:9000" {
					t.Errorf("listen = %q", c.Listen)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.text)
			c, err := Load(p)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.File != p {
				t.Errorf("File = %q, want %q", c.File, p)
			}
			tt.check(t, c, filepath.Dir(p))
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Setenv("IRM_CONFIG", "")
	tests := []struct {
		name string
		text string
		want []string // substrings of the error
		not  []string // substrings the error must not have
	}{
		{"unknown top-level key names key and line", "listen = \"127.0.0.1:1\"\n\nlisten_port = 8080\n",
			[]string{`unknown key "listen_port"`, "line 3"}, nil},
		{"unknown key in a table", "[drop]\ndir = \"d\"\nsettle = 5\n",
			[]string{`unknown key "drop.settle"`, "line 3"}, nil},
		{"unknown table reported once", "[dorp]\ndir = \"d\"\nkeep_processed_days = 3\n",
			[]string{`unknown key "dorp"`, "line 1"}, []string{"dorp.dir", "dorp.keep"}},
		{"every unknown key is listed", "a = 1\n[org]\ndomain = [\"x.com\"]\n",
			[]string{`unknown key "a"`, "line 1", `unknown key "org.domain"`, "line 3"}, nil},
		{"nested table under hr.columns", "[hr.columns.x]\ny = \"z\"\n",
			[]string{`"hr.columns.x"`, "line 1"}, nil},
		{"syntax error names line", "listen = \"127.0.0.1:1\"\nlisten_on 8080\n",
			[]string{"line 2"}, nil},
		{"wrong type names key and line", "[drop]\nsettle_ms = \"fast\"\n",
			[]string{"line 2", "drop.settle_ms"}, nil},
		{"negative keep days", "[drop]\nkeep_processed_days = -1\n",
			[]string{"keep_processed_days must be 0 or more"}, nil},
		{"zero rescan", "[drop]\nrescan_seconds = 0\n", []string{"rescan_seconds must be at least 1"}, nil},
		{"negative settle", "[drop]\nsettle_ms = -5\n", []string{"settle_ms must be 0 or more"}, nil},
		{"zero retention", "[retention]\nevents_days = 0\n", []string{"events_days must be at least 1"}, nil},
		{"listen without port", "listen = \"localhost\"\n", []string{"listen", "host:port"}, nil},
		{"empty listen", "listen = \"\"\n", []string{"listen must be set"}, nil},
		{"tls half set", "tls_cert = \"c.pem\"\n", []string{"tls_cert and tls_key"}, nil},
		{"bad domain", "[org]\ndomains = [\"alice@contoso.com\", \"\"]\n", []string{`"alice@contoso.com" is not a domain`, `"" is not a domain`}, nil},
		{"empty data_dir", "data_dir = \"\"\n", []string{"data_dir must be set"}, nil},
		{"audit key inside data_dir", "data_dir = \"d\"\n[audit]\nkey_file = \"d/audit.key\"\n", []string{"audit.key_file", "must be outside data_dir"}, nil},
		{"empty audit key", "[audit]\nkey_file = \"\"\n", []string{"audit.key_file must be set"}, nil},
		{"negative audit retention", "[audit]\nretention_days = -1\n", []string{"audit.retention_days"}, nil},
		{"zero anchor period", "[audit]\nanchor_minutes = 0\n", []string{"audit.anchor_minutes must be at least 1"}, nil},
		{"bad syslog", "[audit]\nsyslog = \"syslog.example:514\"\n", []string{"audit.syslog", "udp, tcp, unix or unixgram"}, nil},
		{"syslog without port", "[audit]\nsyslog = \"udp://loghost\"\n", []string{"audit.syslog", "udp://host:port"}, nil},
		{"zero idle timeout", "[ui]\nsession_idle_minutes = 0\n", []string{"ui.session_idle_minutes must be at least 1"}, nil},
		{"idle beyond max age", "[ui]\nsession_idle_minutes = 120\nsession_max_hours = 1\n", []string{"must not exceed ui.session_max_hours"}, nil},

		{"unknown time zone", "[org]\ntimezone = \"Europe/Berlim\"\n", []string{"org.timezone", `unknown time zone "Europe/Berlim"`, "IANA"}, nil},
		{"empty time zone", "[org]\ntimezone = \"\"\n", []string{"org.timezone: must be set"}, nil},
		{"machine-local time zone", "[org]\ntimezone = \"Local\"\n", []string{"org.timezone", `"Local" depends on the machine`}, nil},
		{"all problems at once", "data_dir = \"\"\n[drop]\ndir = \"\"\n", []string{"data_dir must be set", "drop.dir must be set"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.text)
			_, err := Load(p)
			if err == nil {
				t.Fatalf("Load accepted:\n%s", tt.text)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) && !strings.Contains(msg, filepath.Base(p)) {
				t.Errorf("error does not name the file %s: %v", p, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(msg, w) {
					t.Errorf("error %q should not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestIRMConfigEnv(t *testing.T) {
	p := writeConfig(t, "listen = \"127.0.0.1:7777\"\n")
	t.Setenv("IRM_CONFIG", p)
	c, err := Load(FromEnv(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7777" || c.File != p {
		t.Errorf("IRM_CONFIG not used: listen %q file %q", c.Listen, c.File)
	}
	// -config wins over IRM_CONFIG.
	q := writeConfig(t, "listen = \"127.0.0.1:8888\"\n")
	c, err = Load(FromEnv(q))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8888" {
		t.Errorf("-config did not win over IRM_CONFIG: %q", c.Listen)
	}
}

// The embedded default documents every key: a config that sets each key of config.toml
// to its default value loads, so the file and the struct cannot drift apart.
func TestDefaultFileIsValidOverride(t *testing.T) {
	p := writeConfig(t, string(Default))
	if _, err := Load(p); err != nil {
		t.Fatalf("config.toml as an override file: %v", err)
	}
}

// ...and every key of the Config struct is in config.toml, documented there: a key
// added to the struct but not to the file would be an undocumented default.
func TestEveryConfigKeyIsInDefaultFile(t *testing.T) {
	var c Config
	md, err := toml.Decode(string(Default), &c)
	if err != nil {
		t.Fatal(err)
	}
	keys := structKeys(reflect.TypeOf(c), nil)
	if len(keys) < 20 {
		t.Fatalf("found only %d keys in Config: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !md.IsDefined(k...) {
			t.Errorf("Config key %q is not in config.toml", strings.Join(k, "."))
		}
	}
}

// structKeys lists the dotted TOML keys of a struct type: nested structs are tables,
// everything else (maps included) a key; fields tagged "-" are not configuration.
func structKeys(t reflect.Type, prefix []string) [][]string {
	var out [][]string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("toml"), ",")[0]
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		key := append(append([]string(nil), prefix...), name)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, structKeys(f.Type, key)...)
			continue
		}
		out = append(out, key)
	}
	return out
}

// The production example loads, and every place it makes irm write (data_dir, the
// audit key, the drop directories) is writable under deploy/irm.service's
// ProtectSystem=strict, that is below one of its ReadWritePaths.
func TestDeployExampleMatchesUnit(t *testing.T) {
	c, err := Load("../deploy/irm.toml")
	if err != nil {
		t.Fatalf("deploy/irm.toml: %v", err)
	}
	unit, err := os.ReadFile("../deploy/irm.service")
	if err != nil {
		t.Fatal(err)
	}
	var writable []string
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ReadWritePaths="); ok {
			writable = append(writable, strings.Fields(v)...)
		}
	}
	if len(writable) == 0 || !strings.Contains(string(unit), "ProtectSystem=strict") {
		t.Fatalf("deploy/irm.service: no ReadWritePaths under ProtectSystem=strict")
	}
	for what, p := range map[string]string{"data_dir": c.DataDir, "audit.key_file": c.Audit.KeyFile, "drop.dir": c.Drop.Dir} {
		ok := false
		for _, w := range writable {
			if rel, err := filepath.Rel(w, p); err == nil && !strings.HasPrefix(rel, "..") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("deploy/irm.toml %s = %s is not under the unit's ReadWritePaths %v", what, p, writable)
		}
	}
}

// Package config loads irm's TOML configuration: the embedded documented default,
// overridden by a file named with -config or IRM_CONFIG.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	// The zone database is compiled in, so [org] timezone resolves on appliances
	// without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration. Paths are absolute after Load.
type Config struct {
	DataDir string `toml:"data_dir"`
	Listen  string `toml:"listen"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`

	Drop struct {
		Dir               string `toml:"dir"`
		KeepProcessedDays int    `toml:"keep_processed_days"`
		RescanSeconds     int    `toml:"rescan_seconds"`
		SettleMS          int    `toml:"settle_ms"`
	} `toml:"drop"`

	Rules struct {
		Dir string `toml:"dir"`
	} `toml:"rules"`

	Org struct {
		Domains []string `toml:"domains"`
		// Timezone is the organisation's time zone, an IANA name ("Europe/Berlin"): rules
		// read it as org.timezone (working hours, weekends).
		Timezone string `toml:"timezone"`
	} `toml:"org"`

	Retention struct {
		EventsDays int `toml:"events_days"`
	} `toml:"retention"`

	Audit struct {
		// KeyFile is the per-installation secret keying the audit chain; outside data_dir.
		KeyFile       string `toml:"key_file"`
		RetentionDays int    `toml:"retention_days"` // 0 = keep forever
		AnchorMinutes int    `toml:"anchor_minutes"`
		// Syslog is where the chain head is also sent: udp://host:port, tcp://host:port
		// or unix:///dev/log; "" = process log only.
		Syslog string `toml:"syslog"`
	} `toml:"audit"`

	UI struct {
		SessionIdleMinutes int `toml:"session_idle_minutes"`
		SessionMaxHours    int `toml:"session_max_hours"`
	} `toml:"ui"`

	// SMTP is the mail server notices to users are sent through ("" host: none).
	SMTP    SMTP `toml:"smtp"`
	Metrics struct {
		// Allow lists the client addresses (IPs or CIDR ranges) that may read /metrics.
		Allow []string `toml:"allow"`
	} `toml:"metrics"`

	// SIEM and Webhooks: alerts and cases sent out (package integrations).
	SIEM     SIEM     `toml:"siem"`
	Webhooks Webhooks `toml:"webhooks"`

	HR struct {
		// Columns maps a canonical HR column name to the name used in the files.
		Columns map[string]string `toml:"columns"`
	} `toml:"hr"`

	// File is the config file that was loaded ("" for the embedded default).
	File string `toml:"-"`
}

// Default is the embedded config.toml; main sets it from the embedded file.
var Default []byte

// Load reads the embedded default, then the file (if path is not empty) on top of it.
// Relative paths resolve against the file's folder, or the working directory for the
// default. Unknown keys are errors naming the key and its line.
func Load(path string) (*Config, error) {
	var c Config
	if _, err := decode(&c, string(Default), "config.toml (embedded)"); err != nil {
		return nil, err
	}
	base, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if _, err := decode(&c, string(data), path); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		c.File = abs
		base = filepath.Dir(abs)
	}
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	resolve(&c.DataDir)
	resolve(&c.Drop.Dir)
	resolve(&c.Rules.Dir)
	resolve(&c.TLSCert)
	resolve(&c.TLSKey)
	resolve(&c.Audit.KeyFile)
	resolve(&c.SMTP.PasswordFile)
	resolve(&c.SIEM.CAFile)
	for i, d := range c.Org.Domains {
		c.Org.Domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", c.name(), err)
	}
	return &c, nil
}

// FromEnv returns the config path named by -config (flagValue) or else IRM_CONFIG.
func FromEnv(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("IRM_CONFIG")
}

func (c *Config) name() string {
	if c.File == "" {
		return "(embedded default)"
	}
	return c.File
}

// Validate reports settings that cannot work, in the operator's terms.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must be set"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen must be set"))
	} else if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port (e.g. 127.0.0.1:8080)", c.Listen))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert and tls_key must both be set, or neither"))
	}
	if c.Drop.Dir == "" {
		errs = append(errs, errors.New("drop.dir must be set"))
	}
	if c.Drop.KeepProcessedDays < 0 {
		errs = append(errs, errors.New("drop.keep_processed_days must be 0 or more"))
	}
	if c.Drop.RescanSeconds < 1 {
		errs = append(errs, errors.New("drop.rescan_seconds must be at least 1"))
	}
	if c.Drop.SettleMS < 0 {
		errs = append(errs, errors.New("drop.settle_ms must be 0 or more"))
	}
	if c.Retention.EventsDays < 1 {
		errs = append(errs, errors.New("retention.events_days must be at least 1"))
	}
	if c.Audit.KeyFile == "" {
		errs = append(errs, errors.New("audit.key_file must be set"))
	} else if c.DataDir != "" {
		if rel, err := filepath.Rel(c.DataDir, c.Audit.KeyFile); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			errs = append(errs, fmt.Errorf("audit.key_file %s must be outside data_dir %s: a copy of the database must not carry its key", c.Audit.KeyFile, c.DataDir))
		}
	}
	if c.Audit.RetentionDays < 0 {
		errs = append(errs, errors.New("audit.retention_days must be 0 (keep forever) or more"))
	}
	if c.Audit.AnchorMinutes < 1 {
		errs = append(errs, errors.New("audit.anchor_minutes must be at least 1"))
	}
	if c.Audit.Syslog != "" {
		if _, _, err := SyslogAddr(c.Audit.Syslog); err != nil {
			errs = append(errs, fmt.Errorf("audit.syslog: %w", err))
		}
	}
	if c.UI.SessionIdleMinutes < 1 {
		errs = append(errs, errors.New("ui.session_idle_minutes must be at least 1"))
	}
	if c.UI.SessionMaxHours < 1 {
		errs = append(errs, errors.New("ui.session_max_hours must be at least 1"))
	} else if c.UI.SessionIdleMinutes > c.UI.SessionMaxHours*60 {
		errs = append(errs, errors.New("ui.session_idle_minutes must not exceed ui.session_max_hours"))
	}
	for _, d := range c.Org.Domains {
		if d == "" || strings.ContainsAny(d, " @/") {
			errs = append(errs, fmt.Errorf("org.domains: %q is not a domain", d))
		}
	}
	if err := c.SMTP.validate(); err != nil {
		errs = append(errs, fmt.Errorf("smtp.%w", err))
	}
	if err := checkTimezone(c.Org.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("org.timezone: %w", err))
	}
	if _, err := c.MetricsAllow(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateIntegrations()...)
	return errors.Join(errs...)
}

// MetricsAllow parses metrics.allow: each entry an IP address ("10.0.0.5") or a CIDR
// range ("10.0.0.0/24").
func (c *Config) MetricsAllow() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range c.Metrics.Allow {
		a = strings.TrimSpace(a)
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("metrics.allow: %q is neither an IP address nor a CIDR range (e.g. \"10.0.0.5\" or \"10.0.0.0/24\")", a)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// SyslogAddr splits an audit.syslog value into the network and address of
// log/syslog.Dial: udp://host:port, tcp://host:port, unix:///path or unixgram:///path.
func SyslogAddr(v string) (network, addr string, err error) {
	u, err := url.Parse(v)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a URL (udp://host:514, tcp://host:514 or unix:///dev/log)", v)
	}
	switch u.Scheme {
	case "udp", "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Path != "" {
			return "", "", fmt.Errorf("%q: want %s://host:port", v, u.Scheme)
		}
		return u.Scheme, u.Host, nil
	case "unix", "unixgram":
		if u.Path == "" || u.Host != "" {
			return "", "", fmt.Errorf("%q: want %s:///path/to/socket", v, u.Scheme)
		}
		return u.Scheme, u.Path, nil
	}
	return "", "", fmt.Errorf("%q: the scheme must be udp, tcp, unix or unixgram", v)
}

// checkTimezone accepts IANA zone names only: "Local" would make rule results depend on
// the machine's own setting, and an empty name is a mistake rather than a choice.
func checkTimezone(tz string) error {
	switch tz {
	case "":
		return errors.New(`must be set: an IANA time zone name such as "UTC" or "Europe/Berlin"`)
	case "Local":
		return errors.New(`"Local" depends on the machine; use an IANA time zone name such as "Europe/Berlin"`)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("unknown time zone %q: use an IANA time zone name such as \"UTC\" or \"Europe/Berlin\"", tz)
	}
	return nil
}

func decode(c *Config, text, name string) (toml.MetaData, error) {
	// Editors on Windows save UTF-8 with a byte-order mark, which TOML does not allow.
	text = strings.TrimPrefix(text, "\ufeff")
	md, err := toml.Decode(text, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			if perr.LastKey != "" {
				return md, fmt.Errorf("config %s line %d: %s: %s", name, perr.Position.Line, perr.LastKey, perr.Message)
			}
			return md, fmt.Errorf("config %s line %d: %s", name, perr.Position.Line, perr.Message)
		}
		return md, fmt.Errorf("config %s: %s", name, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if und := md.Undecoded(); len(und) > 0 {
		var msgs []string
		reported := map[string]bool{}
		for _, k := range und {
			// HR column remaps are free-form keys under [hr.columns].
			if len(k) == 3 && k[0] == "hr" && k[1] == "columns" {
				continue
			}
			// An unknown table is one mistake: report it, not every key inside it too.
			if len(k) > 1 && reported[k[:len(k)-1].String()] {
				reported[k.String()] = true
				continue
			}
			reported[k.String()] = true
			where := ""
			if line := KeyLine(text, k); line > 0 {
				where = fmt.Sprintf(" line %d", line)
			}
			msgs = append(msgs, fmt.Sprintf("config %s%s: unknown key %q", name, where, k.String()))
		}
		if len(msgs) > 0 {
			return md, errors.New(strings.Join(msgs, "\n"))
		}
	}
	return md, nil
}

// KeyLine finds the line defining a dotted key, since toml.MetaData keeps no positions:
// it tracks [table] and [[array]] headers and inline tables, and matches "key =" lines.
// 0 if not found. config and the engine's settings and policy files share it.
func KeyLine(text string, key toml.Key) int {
	want := key.String()
	table := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			table = strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t")
			if table == want {
				return i + 1
			}
			continue
		}
		name, rest, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		full := strings.Trim(strings.TrimSpace(name), `"'`)
		if table != "" {
			full = table + "." + full
		}
		if full == want {
			return i + 1
		}
		// Inline table: key = { a = 1, b = 2 } defines full.a and full.b on this line.
		if strings.HasPrefix(want, full+".") && strings.Contains(rest, "{") {
			leaf := want[strings.LastIndex(want, ".")+1:]
			if strings.Contains(rest, leaf) {
				return i + 1
			}
		}
	}
	return 0
}

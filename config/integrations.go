package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// SIEM is the [siem] section: alerts exported as CEF lines over syslog.
type SIEM struct {
	// Address is where to send: tcp://host:port, tls://host:port or udp://host:port;
	// "" = no export.
	Address string `toml:"address"`
	// CAFile verifies a tls:// server's certificate (PEM); "" = the system's roots.
	CAFile string `toml:"ca_file"`
	// Facility is the syslog facility: local0..local7, user, daemon, auth, authpriv.
	Facility string `toml:"facility"`
	// QueueMax bounds the on-disk queue of lines not yet sent; the oldest are dropped
	// (and counted) beyond it.
	QueueMax int `toml:"queue_max"`
	// RealNames sends UPNs even when the settings pseudonymise (default: pseudonyms).
	RealNames bool `toml:"real_names"`
}

// Webhooks is the [webhooks] section: how deliveries are retried. The webhooks
// themselves are records in the database (UI, API), not configuration.
type Webhooks struct {
	// RetryFirstMS is the delay before the first retry; each retry doubles it (with
	// jitter) up to RetryMaxMinutes.
	RetryFirstMS    int `toml:"retry_first_ms"`
	RetryMaxMinutes int `toml:"retry_max_minutes"`
	// GiveUpHours: a delivery still failing this long after its event is given up.
	GiveUpHours int `toml:"give_up_hours"`
	// TimeoutSeconds bounds one attempt.
	TimeoutSeconds int `toml:"timeout_seconds"`
}

// Facilities are the syslog facility codes by name.
var Facilities = map[string]int{"user": 1, "daemon": 3, "auth": 4, "authpriv": 10,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// SIEMAddr splits siem.address into the network (tcp, tls or udp) and host:port.
func SIEMAddr(v string) (network, addr string, err error) {
	u, err := url.Parse(v)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a URL (tcp://host:6514, tls://host:6514 or udp://host:514)", v)
	}
	switch u.Scheme {
	case "tcp", "tls", "udp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || (u.Path != "" && u.Path != "/") {
			return "", "", fmt.Errorf("%q: want %s://host:port", v, u.Scheme)
		}
		return u.Scheme, u.Host, nil
	}
	return "", "", fmt.Errorf("%q: the scheme must be tcp, tls or udp", v)
}

func (c *Config) validateIntegrations() []error {
	var errs []error
	if c.SIEM.Address != "" {
		if _, _, err := SIEMAddr(c.SIEM.Address); err != nil {
			errs = append(errs, fmt.Errorf("siem.address: %w", err))
		}
	}
	if _, ok := Facilities[strings.ToLower(c.SIEM.Facility)]; !ok {
		errs = append(errs, fmt.Errorf("siem.facility: %q is not one of local0..local7, user, daemon, auth, authpriv", c.SIEM.Facility))
	}
	if c.SIEM.QueueMax < 1 {
		errs = append(errs, fmt.Errorf("siem.queue_max must be at least 1"))
	}
	w := c.Webhooks
	if w.RetryFirstMS < 1 || w.RetryMaxMinutes < 1 || w.GiveUpHours < 1 || w.TimeoutSeconds < 1 {
		errs = append(errs, fmt.Errorf("webhooks: retry_first_ms, retry_max_minutes, give_up_hours and timeout_seconds must each be at least 1"))
	}
	return errs
}

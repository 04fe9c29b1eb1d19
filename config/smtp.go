package config

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"strings"
)

// SMTP security modes.
const (
	SMTPStartTLS = "starttls" // plain connection upgraded with STARTTLS; refused if the server cannot
	SMTPTLS      = "tls"      // TLS from the first byte (port 465)
	SMTPNone     = "none"     // no encryption: only for a relay on the same host or a test server
)

// SMTP is the [smtp] section: the server that sends notices to users.
type SMTP struct {
	Host     string `toml:"host"`     // "" = notices cannot be sent
	Port     int    `toml:"port"`     // 587 for starttls, 465 for tls
	Security string `toml:"security"` // starttls (default), tls or none
	User     string `toml:"user"`     // "" = no authentication
	// PasswordFile holds the password on its first line, so the config file can be
	// readable by operators who should not know it.
	PasswordFile string `toml:"password_file"`
	// From is the sender of notices whose template names none.
	From string `toml:"from"`
}

// Enabled reports whether a mail server is configured.
func (s *SMTP) Enabled() bool { return s.Host != "" }

func (s *SMTP) validate() error {
	if s.Host == "" {
		return nil
	}
	if strings.ContainsAny(s.Host, " /@") {
		return fmt.Errorf("host: %q is not a host name or address", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("port: %d is not a port (587 for starttls, 465 for tls)", s.Port)
	}
	switch s.Security {
	case SMTPStartTLS, SMTPTLS, SMTPNone:
	default:
		return fmt.Errorf("security: %q is not one of starttls, tls, none", s.Security)
	}
	if (s.User == "") != (s.PasswordFile == "") {
		return errors.New("user and password_file: set both for authentication, or neither")
	}
	if s.From != "" {
		if _, err := mail.ParseAddress(s.From); err != nil {
			return fmt.Errorf("from: %q is not a mail address: %v", s.From, err)
		}
	}
	return nil
}

// Password reads the first line of PasswordFile ("" without one).
func (s *SMTP) Password() (string, error) {
	if s.PasswordFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("smtp.password_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

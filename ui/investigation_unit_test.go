package ui

import (
	"encoding/json"
	"strings"
	"testing"

	"irm/engine"
	"irm/event"
)

// TestEventInWords: a USB copy names the device and the path on it (from the endpoint
// record), a Defender alert its title and severity, a mail its recipients.
func TestEventInWords(t *testing.T) {
	usb := &event.Event{Feed: event.FeedAudit, RecordType: 63, Operation: "FileCopiedToRemovableMedia", FileName: "plan.xlsx", Device: "LAPTOP-1",
		Raw: json.RawMessage(`{"TargetFilePath":"E:\\Backup\\plan.xlsx","RemovableMediaDeviceAttributes":{"Manufacturer":"SanDisk","Model":"Ultra","SerialNumber":"4C53"}}`)}
	if d := eventDestination(usb); d != `USB device SanDisk Ultra (serial 4C53) · E:\Backup\plan.xlsx` {
		t.Errorf("USB destination: %q", d)
	}
	if s := eventSentence(usb); !strings.HasPrefix(s, "Copied a file to removable media plan.xlsx — USB device SanDisk") || !strings.Contains(s, "device LAPTOP-1") {
		t.Errorf("USB sentence: %q", s)
	}
	def := &event.Event{Feed: event.FeedDefender, Operation: "alert", Title: "Suspicious PowerShell", Category: "DefenseEvasion", Severity: "high", Device: "LAPTOP-2"}
	if d := eventDetail(def); d != `"Suspicious PowerShell" · defense evasion · high severity · device LAPTOP-2` {
		t.Errorf("defender detail: %q", d)
	}
	mail := &event.Event{Feed: event.FeedAudit, Operation: "Send", Recipients: []string{"x@gmail.com", "y@gmail.com"}}
	if d := eventDestination(mail); d != "to x@gmail.com, y@gmail.com" || opWords(mail) != "sent an email" {
		t.Errorf("mail: %q / %q", d, opWords(mail))
	}
	if s := eventSentence(&event.Event{Feed: event.FeedAudit}); s != "audit event" {
		t.Errorf("empty event: %q", s)
	}
	if w := engine.DurationWords(168 * 60 * 60 * 1e9); w != "7 days" {
		t.Errorf("168h in words: %q", w)
	}
}

// TestScrubber: the forms of a user's name that free text carries.
func TestScrubber(t *testing.T) {
	env := newTestEnv(t)
	acct, _, err := env.db.Account("analyst")
	if err != nil {
		t.Fatal(err)
	}
	an := &reqCtx{Account: acct}
	scrub := env.srv.scrubber(an, "ann.smith@contoso.com")
	pseudo := env.srv.who(an, "ann.smith@contoso.com")
	boss := env.srv.who(an, "boss@contoso.com")
	for in, want := range map[string]string{
		`C:\Users\ann.smith\Documents\plan.docx`:                             `C:\Users\` + pseudo + `\Documents\plan.docx`,
		"https://contoso-my.sharepoint.com/personal/ann_smith_contoso_com/x": "https://contoso-my.sharepoint.com/personal/" + pseudo + "/x",
		"to annsmith84@gmail.com and Smith.Ann@yahoo.com":                    "to " + pseudo + "84@gmail.com and " + pseudo + "@yahoo.com",
		"Ann Smith's laptop; cc boss@contoso.com":                            pseudo + "'s laptop; cc " + boss,
		"Meeting with Ann about the annual plan":                             "Meeting with [name] about the annual plan",
	} {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

package ui

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"irm/event"
)

// An event in words: what the user did, where it went, and the detail that matters
// for its feed (an endpoint alert's title and severity, a badge reader, an HR record).

var operationWords = map[string]string{
	"FileCopiedToRemovableMedia":       "copied a file to removable media",
	"FileCreatedOnRemovableMedia":      "created a file on removable media",
	"FileCopiedToNetworkShare":         "copied a file to a network share",
	"FileCreatedOnNetworkShare":        "created a file on a network share",
	"FileUploadedToCloud":              "uploaded a file to a cloud service",
	"FileDownloadedFromBrowser":        "downloaded a file in the browser",
	"FilePrinted":                      "printed a file",
	"FileCopiedToClipboard":            "copied a file to the clipboard",
	"FileCopiedToRemoteDesktopSession": "copied a file to a remote desktop session",
	"FileTransferredByBluetooth":       "sent a file over Bluetooth",
	"FileAccessedByUnallowedApp":       "opened a file with an unallowed app",
	"RemovableMediaMount":              "connected removable media",
	"RemovableMediaUnmount":            "disconnected removable media",
	"WebsiteVisited":                   "visited a website",
	"FileDownloaded":                   "downloaded a file",
	"FileSyncDownloadedFull":           "synced a file down",
	"FileUploaded":                     "uploaded a file",
	"FileDeleted":                      "deleted a file",
	"FileRenamed":                      "renamed a file",
	"FileArchived":                     "archived files",
	"FileAccessed":                     "opened a file",
	"SharingSet":                       "shared a file",
	"SharingInvitationCreated":         "invited someone to a file",
	"AnonymousLinkCreated":             "created an anyone-with-the-link link",
	"CompanyLinkCreated":               "created an organisation link",
	"SecureLinkCreated":                "created a sharing link",
	"Send":                             "sent an email",
	"SendAs":                           "sent an email as someone else",
	"SendOnBehalf":                     "sent an email on someone's behalf",
	"UserLoggedIn":                     "signed in",
	"UserLoginFailed":                  "failed to sign in",
	"Delete user.":                     "account deleted",
	"DlpRuleMatch":                     "matched a DLP rule",
	"FileSensitivityLabelRemoved":      "removed a sensitivity label",
	"FileSensitivityLabelChanged":      "changed a sensitivity label",
	"FileSensitivityLabelApplied":      "applied a sensitivity label",
	"SensitivityLabelRemoved":          "removed a sensitivity label",
	"SensitivityLabelChanged":          "changed a sensitivity label",
}

// opWords is the event's operation in words.
func opWords(ev *event.Event) string {
	switch ev.Feed {
	case event.FeedBadging:
		if strings.EqualFold(ev.Status, "failed") {
			return "badge refused"
		}
		return "badge used"
	case event.FeedDefender:
		return "endpoint security alert"
	case event.FeedHR:
		return "HR record: " + strings.ReplaceAll(ev.Operation, "_", " ")
	}
	if w, ok := operationWords[ev.Operation]; ok {
		return w
	}
	return splitCamel(ev.Operation)
}

func splitCamel(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// endpointExtra is what an endpoint record carries beyond the event model.
type endpointExtra struct {
	TargetFilePath          string
	DestinationLocationType string
	Application             string
	Device                  struct {
		Manufacturer, Model, SerialNumber string
	} `json:"RemovableMediaDeviceAttributes"`
}

// eventDestination says where the event sent something: the removable device and the
// path on it, the recipients, the domain or URL, the person shared with.
func eventDestination(ev *event.Event) string {
	var parts []string
	if ev.RecordType == 63 || strings.Contains(ev.Operation, "RemovableMedia") || strings.Contains(ev.Operation, "NetworkShare") {
		var x endpointExtra
		if len(ev.Raw) > 0 && json.Unmarshal(ev.Raw, &x) == nil {
			if d := strings.TrimSpace(x.Device.Manufacturer + " " + x.Device.Model); d != "" {
				dev := "USB device " + d
				if x.Device.SerialNumber != "" {
					dev += " (serial " + x.Device.SerialNumber + ")"
				}
				parts = append(parts, dev)
			}
			if x.TargetFilePath != "" {
				parts = append(parts, x.TargetFilePath)
			}
		}
	}
	if len(ev.Recipients) > 0 {
		parts = append(parts, "to "+strings.Join(ev.Recipients, ", "))
	}
	if ev.TargetUser != "" {
		parts = append(parts, "with "+ev.TargetUser)
	}
	if ev.URL != "" {
		parts = append(parts, ev.URL)
	} else if ev.TargetDomain != "" {
		parts = append(parts, ev.TargetDomain)
	}
	return strings.Join(parts, " · ")
}

// eventDetail is the feed's own detail: an endpoint alert's title, category and
// severity; a badge reader; DLP policies; labels; the device.
func eventDetail(ev *event.Event) string {
	var parts []string
	switch ev.Feed {
	case event.FeedDefender:
		if ev.Title != "" {
			parts = append(parts, fmt.Sprintf("%q", ev.Title))
		}
		if ev.Category != "" {
			parts = append(parts, splitCamel(ev.Category))
		}
		if ev.Severity != "" {
			parts = append(parts, ev.Severity+" severity")
		}
		if ev.Status != "" {
			parts = append(parts, "status "+ev.Status)
		}
	case event.FeedBadging:
		if ev.AssetName != "" {
			parts = append(parts, ev.AssetName)
		}
		if ev.Asset != "" {
			parts = append(parts, "reader "+ev.Asset)
		}
	case event.FeedDLP:
		if len(ev.Policies) > 0 {
			parts = append(parts, "policies "+strings.Join(ev.Policies, ", "))
		}
		if ev.Severity != "" {
			parts = append(parts, ev.Severity+" severity")
		}
	case event.FeedHR:
		if h := ev.HR; h != nil {
			if !h.ResignationDate.IsZero() {
				parts = append(parts, "resignation "+fmtDate(h.ResignationDate))
			}
			if !h.LastWorkingDate.IsZero() {
				parts = append(parts, "last working day "+fmtDate(h.LastWorkingDate))
			}
			if h.Rating != "" {
				parts = append(parts, "rating "+h.Rating)
			}
			if h.OldLevel != "" || h.NewLevel != "" {
				parts = append(parts, h.OldLevel+" → "+h.NewLevel)
			}
		}
	}
	if len(ev.Labels) > 0 {
		parts = append(parts, "labels "+strings.Join(ev.Labels, ", "))
	}
	if len(ev.SensitiveTypes) > 0 {
		parts = append(parts, "sensitive info "+strings.Join(ev.SensitiveTypes, ", "))
	}
	if ev.Size > 0 {
		parts = append(parts, fmtBytes(ev.Size))
	}
	if ev.Device != "" {
		parts = append(parts, "device "+ev.Device)
	}
	return strings.Join(parts, " · ")
}

// eventSentence describes an event in one line, for a triggering event.
func eventSentence(ev *event.Event) string {
	s := opWords(ev)
	if ev.FileName != "" {
		s += " " + ev.FileName
	}
	if d := eventDestination(ev); d != "" {
		s += " — " + d
	}
	if d := eventDetail(ev); d != "" {
		s += " (" + d + ")"
	}
	if s == "" {
		return ev.Feed + " event"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

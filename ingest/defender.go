package ingest

import (
	"strings"

	"irm/event"
)

// defenderRecord is one endpoint security alert (Microsoft Defender for Endpoint).
type defenderRecord struct {
	AlertId           string
	Title             string
	Category          string
	Severity          string
	Status            string
	UserPrincipalName string
	DeviceName        string
	CreatedTime       string
}

var defenderFieldNames = map[string]string{"alertid": "AlertId", "title": "Title", "category": "Category",
	"severity": "Severity", "status": "Status", "userprincipalname": "UserPrincipalName",
	"devicename": "DeviceName", "createdtime": "CreatedTime"}

// OperationSecurityAlert is the operation of every defender event.
const OperationSecurityAlert = "SecurityAlert"

func decodeDefender(users *userCache, data []byte) (*event.Event, *recordReject) {
	var rec defenderRecord
	if rj := readFlatStrings(data, map[string]*string{
		"alertid": &rec.AlertId, "title": &rec.Title, "category": &rec.Category, "severity": &rec.Severity,
		"status": &rec.Status, "userprincipalname": &rec.UserPrincipalName, "devicename": &rec.DeviceName,
		"createdtime": &rec.CreatedTime,
	}, defenderFieldNames); rj != nil {
		return nil, rj
	}
	id := strings.TrimSpace(rec.AlertId)
	if id == "" {
		return nil, reject("AlertId", "missing")
	}
	user := users.lower(rec.UserPrincipalName)
	if user == "" {
		return nil, reject("UserPrincipalName", "missing")
	}
	t, err := parseFeedTime(rec.CreatedTime)
	if err != nil {
		return nil, reject("CreatedTime", "%v", err)
	}
	return &event.Event{
		// An alert keeps its AlertId through status changes: the first record of an alert
		// is the event, later updates of the same alert are duplicates of it.
		ID:        id,
		Time:      t,
		User:      user,
		Operation: OperationSecurityAlert,
		Workload:  "Defender",
		Object:    id,
		Device:    strings.TrimSpace(rec.DeviceName),
		Title:     strings.TrimSpace(rec.Title),
		Category:  strings.TrimSpace(rec.Category),
		Severity:  normalizeToken(rec.Severity),
		Status:    normalizeToken(rec.Status),
	}, nil
}

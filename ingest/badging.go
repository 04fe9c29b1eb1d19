package ingest

import (
	"strings"
	"time"

	"irm/event"
)

// badgingRecord is one physical badging connector record.
type badgingRecord struct {
	UserId       string
	AssetId      string
	AssetName    string
	EventTime    string
	AccessStatus string
}

var badgingFieldNames = map[string]string{"userid": "UserId", "assetid": "AssetId", "assetname": "AssetName",
	"eventtime": "EventTime", "accessstatus": "AccessStatus"}

// OperationPhysicalAccess is the operation of every badging event.
const OperationPhysicalAccess = "PhysicalAccess"

func decodeBadging(users *userCache, data []byte) (*event.Event, *recordReject) {
	var rec badgingRecord
	if rj := readFlatStrings(data, map[string]*string{
		"userid": &rec.UserId, "assetid": &rec.AssetId, "assetname": &rec.AssetName,
		"eventtime": &rec.EventTime, "accessstatus": &rec.AccessStatus,
	}, badgingFieldNames); rj != nil {
		return nil, rj
	}
	user := users.lower(rec.UserId)
	if user == "" {
		return nil, reject("UserId", "missing")
	}
	asset := strings.TrimSpace(rec.AssetId)
	if asset == "" {
		return nil, reject("AssetId", "missing")
	}
	t, err := parseFeedTime(rec.EventTime)
	if err != nil {
		return nil, reject("EventTime", "%v", err)
	}
	status := lowerTrim(rec.AccessStatus)
	switch status {
	case "success", "failed":
	case "":
		return nil, reject("AccessStatus", "missing")
	default:
		return nil, reject("AccessStatus", "%q is not Success or Failed", truncate(rec.AccessStatus, 40))
	}
	return &event.Event{
		// The connector's records carry no ID: the same swipe is the same person at the
		// same access point at the same instant with the same outcome.
		ID:        contentID("badge-", user, asset, t.Format(time.RFC3339Nano), status),
		Time:      t,
		User:      user,
		Operation: OperationPhysicalAccess,
		Workload:  "PhysicalBadging",
		Object:    asset,
		Status:    status,
		Asset:     asset,
		AssetName: strings.TrimSpace(rec.AssetName),
	}, nil
}

package ingest

import (
	"strings"

	"irm/event"
)

// dlpRecord is a DLP rule match in the audit log's DLP schema (RecordType 11
// ComplianceDLPSharePoint, 13 ComplianceDLPExchange).
type dlpRecord struct {
	Id           string
	RecordType   recordTypeValue
	CreationTime string
	Operation    string
	Workload     string
	UserId       string
	ObjectId     string
	ClientIP     string

	SharePointMetaData *struct {
		From                 string
		SiteCollectionUrl    string
		FileName             string
		FilePathUrl          string
		DocumentLastModifier string
		FileSize             flexInt
	}
	ExchangeMetaData *struct {
		MessageID string
		From      string
		To        stringList
		CC        stringList
		BCC       stringList
	}
	PolicyDetails []struct {
		PolicyId   string
		PolicyName string
		Rules      []struct {
			RuleId            string
			RuleName          string
			Severity          string
			ConditionsMatched *struct {
				SensitiveInformation []dlpSIT
			}
		}
	}
	SensitiveInformation []dlpSIT
}

type dlpSIT struct {
	SensitiveInformationTypeName string
	SensitiveType                string
}

func (s *dlpSIT) name() string {
	if s.SensitiveInformationTypeName != "" {
		return s.SensitiveInformationTypeName
	}
	return s.SensitiveType
}

// dlpOps are the DLP schema's operations.
var dlpOps = kinds(0, "DlpRuleMatch", "DlpRuleUndo", "DlpInfo")

// severityRank orders rule severities; the event carries the highest.
var severityRank = map[string]int{"informational": 1, "low": 2, "medium": 3, "high": 4}

func decodeDLP(users *userCache, data []byte) (*event.Event, *recordReject) {
	var rec dlpRecord
	if rj := unmarshalRecord(data, &rec); rj != nil {
		return nil, rj
	}
	op := strings.TrimSpace(rec.Operation)
	if op == "" {
		return nil, reject("Operation", "missing")
	}
	canon, _, ok := dlpOps.lookup(op)
	if !ok {
		return nil, reject("Operation", "unknown DLP operation %q (accepted: DlpRuleMatch, DlpRuleUndo, DlpInfo)", op)
	}
	rt := int(rec.RecordType)
	if rt != 0 && rt != 11 && rt != 13 {
		return nil, reject("RecordType", "%d is not a DLP record type (11 ComplianceDLPSharePoint, 13 ComplianceDLPExchange)", rt)
	}
	id := strings.TrimSpace(rec.Id)
	if id == "" {
		return nil, reject("Id", "missing")
	}
	t, err := parseFeedTime(rec.CreationTime)
	if err != nil {
		return nil, reject("CreationTime", "%v", err)
	}
	sp, ex := rec.SharePointMetaData, rec.ExchangeMetaData

	// DLP records are written by the DLP agent; the person is the author of the item.
	user := users.lower(rec.UserId)
	if dlpAgentUser(user) {
		user = ""
		switch {
		case sp != nil && strings.TrimSpace(sp.From) != "":
			user = users.lower(sp.From)
		case ex != nil && strings.TrimSpace(ex.From) != "":
			user = users.lower(ex.From)
		case sp != nil && strings.TrimSpace(sp.DocumentLastModifier) != "":
			user = users.lower(sp.DocumentLastModifier)
		}
	}
	if user == "" {
		return nil, reject("UserId", "missing (and no SharePointMetaData.From or ExchangeMetaData.From)")
	}

	ev := &event.Event{
		ID:         id,
		Time:       t,
		User:       user,
		Operation:  canon,
		Workload:   strings.TrimSpace(rec.Workload),
		RecordType: rt,
		Object:     strings.TrimSpace(rec.ObjectId),
		ClientIP:   strings.TrimSpace(rec.ClientIP),
	}
	if sp != nil {
		ev.Site = strings.TrimSpace(sp.SiteCollectionUrl)
		ev.FileName = strings.TrimSpace(sp.FileName)
		if ev.Object == "" {
			ev.Object = strings.TrimSpace(sp.FilePathUrl)
		}
		ev.Size = int64(sp.FileSize)
		if ev.Workload == "" {
			ev.Workload = "SharePoint"
		}
	}
	if ex != nil {
		if ev.Object == "" {
			ev.Object = strings.TrimSpace(ex.MessageID)
		}
		for _, list := range [][]string{ex.To, ex.CC, ex.BCC} {
			for _, r := range list {
				ev.Recipients = appendUnique(ev.Recipients, strings.ToLower(strings.Trim(strings.TrimSpace(r), "<>")))
			}
		}
		if ev.Workload == "" {
			ev.Workload = "Exchange"
		}
	}
	if ev.FileName == "" && ev.Object != "" && sp != nil {
		ev.FileName = urlBaseName(ev.Object)
	}
	ev.FileExt = fileExt("", ev.FileName)
	if ev.Size < 0 {
		return nil, reject("SharePointMetaData.FileSize", "negative: %d", ev.Size)
	}

	best := 0
	for _, p := range rec.PolicyDetails {
		ev.Policies = appendUnique(ev.Policies, p.PolicyName)
		for _, r := range p.Rules {
			ev.Rules = appendUnique(ev.Rules, r.RuleName)
			sev := lowerTrim(r.Severity)
			if rank := severityRank[sev]; rank > best {
				best, ev.Severity = rank, sev
			}
			if r.ConditionsMatched != nil {
				for i := range r.ConditionsMatched.SensitiveInformation {
					ev.SensitiveTypes = appendUnique(ev.SensitiveTypes, r.ConditionsMatched.SensitiveInformation[i].name())
				}
			}
		}
	}
	for i := range rec.SensitiveInformation {
		ev.SensitiveTypes = appendUnique(ev.SensitiveTypes, rec.SensitiveInformation[i].name())
	}
	if canon == "DlpRuleMatch" && len(ev.Policies) == 0 && len(ev.Rules) == 0 {
		return nil, reject("PolicyDetails", "DlpRuleMatch without any policy or rule")
	}
	return ev, nil
}

// dlpAgentUser reports whether a DLP record's UserId is the service rather than a person.
func dlpAgentUser(u string) bool {
	return u == "" || u == "dlpagent" || u == "app@sharepoint" || !strings.Contains(u, "@")
}

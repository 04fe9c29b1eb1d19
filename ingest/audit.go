package ingest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"irm/event"
)

// auditRecord holds the fields of an Office 365 Management Activity API record that the
// event model uses; everything else stays in Raw. encoding/json matches keys without
// regard to case, as the API's own clients do.
type auditRecord struct {
	Id           string
	RecordType   recordTypeValue
	CreationTime string
	Operation    string
	Workload     string
	UserId       string
	ObjectId     string
	ClientIP     string

	// SharePoint / OneDrive file and sharing operations.
	SiteUrl               string
	SourceRelativeUrl     string
	SourceFileName        string
	SourceFileExtension   string
	TargetUserOrGroupName string
	TargetUserOrGroupType string
	SensitivityLabelId    string
	SourceLabel           string
	FileSizeBytes         flexInt

	SensitivityLabelEventData *auditLabelData

	// Exchange. Recipients and Attachments are this appliance's documented extension of
	// the Send record; Item is the API's own message item.
	Recipients      stringList
	Attachments     auditAttachments
	Item            *auditItem
	ClientIPAddress string

	// Azure AD user administration.
	Target []auditTarget
	// Azure AD sign-ins: the device the sign-in came from, as name/value pairs.
	DeviceProperties []auditNameValue

	// Endpoint (RecordType 63) and browsing (WebsiteVisited, our extension: Url).
	DeviceName            string
	FileExtension         string
	FileSize              flexInt
	Hidden                flexBool
	TargetDomain          string
	TargetUrl             string
	Url                   string
	SensitiveInfoTypeData []auditSIT
	SensitivityLabelIds   stringList
}

type auditLabelData struct {
	SensitivityLabelId      string
	OldSensitivityLabelId   string
	SensitivityLabelName    string // not in the API; accepted when an exporter adds names
	OldSensitivityLabelName string
	LabelEventType          flexInt
}

type auditItem struct {
	Id                string
	InternetMessageId string
	Attachments       auditAttachments
}

type auditTarget struct {
	Type flexInt
	ID   string
}

type auditNameValue struct {
	Name  string
	Value string
}

type auditSIT struct {
	SensitiveInfoTypeName        string
	SensitiveInformationTypeName string
	Name                         string
	SensitiveInfoTypeId          string
}

func (s *auditSIT) name() string {
	switch {
	case s.SensitiveInfoTypeName != "":
		return s.SensitiveInfoTypeName
	case s.SensitiveInformationTypeName != "":
		return s.SensitiveInformationTypeName
	case s.Name != "":
		return s.Name
	}
	return s.SensitiveInfoTypeId
}

// quickSITs decodes SensitiveInfoTypeData as encoding/json would into []auditSIT, for
// its usual shape: a list of objects whose name members are strings (or null), with
// plain ASCII keys. For anything else ok is false and the caller uses encoding/json, which
// also words the errors. Endpoint records carry the list in most records, and
// encoding/json cost about 5% of the ingest CPU.
func quickSITs(val []byte) (out []auditSIT, ok bool) {
	d := val // validated JSON
	if len(d) == 0 || d[0] != '[' {
		return nil, false
	}
	out = []auditSIT{}
	i := skipWS(d, 1)
	for i < len(d) && d[i] != ']' {
		if len(out) > 0 {
			if d[i] != ',' {
				return nil, false
			}
			i = skipWS(d, i+1)
		}
		if i >= len(d) || d[i] != '{' {
			return nil, false
		}
		end, err := scanValue(d, i, 1)
		if err != nil {
			return nil, false
		}
		var sit auditSIT
		o := jsonObject{data: d[i:end]}
		for {
			key, v, more := o.next()
			if !more {
				break
			}
			var dst *string
			switch {
			case asciiFold(key, "sensitiveinfotypename"):
				dst = &sit.SensitiveInfoTypeName
			case asciiFold(key, "sensitiveinformationtypename"):
				dst = &sit.SensitiveInformationTypeName
			case asciiFold(key, "name"):
				dst = &sit.Name
			case asciiFold(key, "sensitiveinfotypeid"):
				dst = &sit.SensitiveInfoTypeId
			default:
				for _, c := range key {
					if c == '\\' || c >= 0x80 {
						return nil, false // a key encoding/json might fold onto a field
					}
				}
				continue
			}
			switch v[0] {
			case '"':
				*dst, _ = valString("", v)
			case 'n': // null leaves the field as it is
			default:
				return nil, false
			}
		}
		if o.err != nil {
			return nil, false
		}
		out = append(out, sit)
		i = skipWS(d, end)
	}
	if i >= len(d) || skipWS(d, i+1) != len(d) {
		return nil, false
	}
	return out, true
}

// asciiFold reports whether key equals lower, a lower-case ASCII name, ignoring ASCII case.
func asciiFold(key []byte, lower string) bool {
	if len(key) != len(lower) {
		return false
	}
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

type auditAttachment struct {
	Name string
	Size flexInt
}

// auditAttachments accepts our documented list of {Name, Size}, or the Exchange API's
// own string form "report.xlsx (23456b); plan.docx (1234b)".
type auditAttachments []auditAttachment

var attachmentPart = regexp.MustCompile(`^(.*?)\s*\((\d+)\s*b\)$`)

func (a *auditAttachments) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = nil
		for _, part := range strings.Split(s, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			att := auditAttachment{Name: part}
			if m := attachmentPart.FindStringSubmatch(part); m != nil {
				n, _ := strconv.ParseInt(m[2], 10, 64)
				att = auditAttachment{Name: m[1], Size: flexInt(n)}
			}
			*a = append(*a, att)
		}
		return nil
	}
	var list []auditAttachment
	if err := json.Unmarshal(b, &list); err != nil {
		return &fieldValueError{field: "Attachments", reason: "not a list of {Name, Size}"}
	}
	*a = list
	return nil
}

// recordTypeValue accepts the AuditLogRecordType as a number (the API) or its name (some
// exports).
type recordTypeValue int

var recordTypeNames = map[string]int{
	"exchangeadmin": 1, "exchangeitem": 2, "exchangeitemgroup": 3, "sharepoint": 4,
	"sharepointfileoperation": 6, "onedrive": 7, "azureactivedirectory": 8,
	"compliancedlpsharepoint": 11, "compliancedlpexchange": 13, "sharepointsharingoperation": 14,
	"azureactivedirectorystslogon": 15, "microsoftteams": 25, "miplabel": 43,
	"exchangeitemaggregated": 50, "dlpendpoint": 63, "sensitivitylabelaction": 83,
	"sensitivitylabeledfileaction": 84,
}

func (v *recordTypeValue) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if n, err := strconv.Atoi(s); err == nil {
			*v = recordTypeValue(n)
			return nil
		}
		if n, ok := recordTypeNames[strings.ToLower(s)]; ok {
			*v = recordTypeValue(n)
			return nil
		}
		return &fieldValueError{field: "RecordType", reason: fmt.Sprintf("unknown record type %q", truncate(s, 40))}
	}
	if string(b) == "null" {
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return &fieldValueError{field: "RecordType", reason: fmt.Sprintf("not a record type number: %s", truncate(string(b), 40))}
	}
	*v = recordTypeValue(n)
	return nil
}

// auditKind is how an operation's fields map to the event model.
type auditKind uint8

const (
	kindSPOFile auditKind = iota + 1
	kindSharing
	kindLabel
	kindSend
	kindMailbox
	kindSignIn
	kindUserAdmin
	kindEndpoint
	kindBrowse
)

// Workload groups whose operations the audit feed accepts.
const (
	wlSharePoint = "SharePoint" // also OneDrive: same operations and schema
	wlExchange   = "Exchange"
	wlAzureAD    = "AzureActiveDirectory"
	wlEndpoint   = "Endpoint"
)

// auditOps is the documented set of accepted audit operations per workload group (see
// docs/feeds.md). Sensitivity label operations are accepted from any workload, since
// label events arrive as SharePoint, MIPLabel and Endpoint records alike.
var auditOps = map[string]opSet{
	wlSharePoint: kinds(kindSPOFile,
		"FileAccessed", "FileAccessedExtended", "FilePreviewed", "FileDownloaded", "FileUploaded",
		"FileModified", "FileModifiedExtended", "FileCopied", "FileMoved", "FileRenamed",
		"FileDeleted", "FileRecycled", "FileDeletedFirstStageRecycleBin", "FileDeletedSecondStageRecycleBin",
		"FileRestored", "FileCheckedIn", "FileCheckedOut", "FileSyncDownloadedFull", "FileSyncDownloadedPartial",
		"FileSyncUploadedFull", "FileSyncUploadedPartial",
		"FolderCreated", "FolderCopied", "FolderMoved", "FolderRenamed", "FolderDeleted", "FolderRecycled",
		"FolderDeletedFirstStageRecycleBin", "FolderDeletedSecondStageRecycleBin", "FolderRestored",
		"SearchQueryPerformed", "PageViewed").
		with(kindSharing,
			"SharingSet", "SharingRevoked", "SharingInvitationCreated", "SharingInvitationAccepted",
			"SharingInvitationBlocked", "SharingInvitationUpdated", "SharingInvitationRevoked",
			"AnonymousLinkCreated", "AnonymousLinkUpdated", "AnonymousLinkUsed", "AnonymousLinkRemoved",
			"CompanyLinkCreated", "CompanyLinkUsed", "CompanyLinkRemoved",
			"SecureLinkCreated", "SecureLinkUsed", "SecureLinkDeleted", "AddedToSecureLink", "RemovedFromSecureLink",
			"AccessRequestCreated", "AccessRequestAccepted", "AccessRequestDenied", "AccessRequestUpdated",
			"AccessInvitationCreated", "AccessInvitationAccepted", "AccessInvitationRevoked", "AccessInvitationUpdated",
			"AddedToGroup", "SiteCollectionAdminAdded"),
	wlExchange: kinds(kindSend, "Send", "SendAs", "SendOnBehalf").
		with(kindMailbox,
			"MailItemsAccessed", "Create", "Update", "Copy", "Move", "MoveToDeletedItems", "SoftDelete",
			"HardDelete", "New-InboxRule", "Set-InboxRule", "UpdateInboxRules", "Add-MailboxPermission",
			"Remove-MailboxPermission", "AddFolderPermissions", "MailboxLogin"),
	wlAzureAD: kinds(kindSignIn, "UserLoggedIn", "UserLoginFailed").
		with(kindUserAdmin, "Delete user.", "Add user.", "Update user."),
	wlEndpoint: kinds(kindEndpoint,
		"FileCreated", "FileRead", "FileModified", "FileRenamed", "FileMoved", "FileDeleted", "FileArchived",
		"FileCopiedToRemovableMedia", "FileCreatedOnRemovableMedia", "FileCopiedToNetworkShare",
		"FileCreatedOnNetworkShare", "FileUploadedToCloud", "FileDownloadedFromBrowser", "FilePrinted",
		"FileCopiedToClipboard", "FileCopiedToRemoteDesktopSession", "FileTransferredByBluetooth",
		"FileAccessedByUnallowedApp", "RemovableMediaMount", "RemovableMediaUnmount").
		with(kindBrowse, "WebsiteVisited"),
}

// labelOps are accepted from any workload.
var labelOps = kinds(kindLabel,
	"FileSensitivityLabelApplied", "FileSensitivityLabelChanged", "FileSensitivityLabelRemoved",
	"SensitivityLabelApplied", "SensitivityLabelUpdated", "SensitivityLabelChanged", "SensitivityLabelRemoved",
	"SiteSensitivityLabelApplied", "SiteSensitivityLabelChanged", "SiteSensitivityLabelRemoved")

// workloadOrder is the order in which a record with neither Workload nor a known
// RecordType is matched by its operation.
var workloadOrder = []string{wlSharePoint, wlExchange, wlAzureAD, wlEndpoint}

// opSet maps operation names, and their lower-case forms, to their canonical name and
// kind.
type opSet map[string]opEntry

type opEntry struct {
	name string
	kind auditKind
}

func kinds(k auditKind, ops ...string) opSet { return opSet{}.with(k, ops...) }

func (s opSet) with(k auditKind, ops ...string) opSet {
	for _, op := range ops {
		s[op] = opEntry{op, k}
		s[strings.ToLower(op)] = opEntry{op, k}
	}
	return s
}

// lookup finds an operation, ignoring case as a fallback, and returns its canonical name.
func (s opSet) lookup(op string) (string, auditKind, bool) {
	e, ok := s[op]
	if !ok {
		e, ok = s[strings.ToLower(op)]
	}
	return e.name, e.kind, ok
}

// names lists the canonical operation names.
func (s opSet) names() []string {
	var out []string
	for k, e := range s {
		if k == e.name {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// AuditOperations lists the accepted audit operations per workload group, for
// documentation and the UI.
func AuditOperations() map[string][]string {
	out := map[string][]string{}
	for wl, set := range auditOps {
		out[wl] = set.names()
	}
	out["any"] = labelOps.names()
	return out
}

// workloadGroup maps the record's Workload, or failing that its RecordType, to the group
// whose operations apply.
func workloadGroup(workload string, rt int) (string, bool) {
	switch workload { // the API's own spelling, without the cost of lower-casing
	case "SharePoint", "OneDrive":
		return wlSharePoint, true
	case "Exchange":
		return wlExchange, true
	case "AzureActiveDirectory":
		return wlAzureAD, true
	case "Endpoint":
		return wlEndpoint, true
	}
	switch strings.ToLower(strings.TrimSpace(workload)) {
	case "sharepoint", "onedrive":
		return wlSharePoint, true
	case "exchange":
		return wlExchange, true
	case "azureactivedirectory":
		return wlAzureAD, true
	case "endpoint":
		return wlEndpoint, true
	case "":
	default:
		return "", false
	}
	switch rt {
	case 4, 6, 7, 14:
		return wlSharePoint, true
	case 1, 2, 3, 50:
		return wlExchange, true
	case 8, 15:
		return wlAzureAD, true
	case 63:
		return wlEndpoint, true
	}
	return "", rt == 0
}

var labelEvents = [...]string{1: event.LabelUpgraded, 2: event.LabelDowngraded, 3: event.LabelRemoved, 4: event.LabelChanged}

// read fills the record from JSON in one pass (see parse_json.go). A syntax error
// anywhere wins over a bad value, as with encoding/json. Nested members decode into
// variables of their own so that rec does not escape and only records that have them
// allocate.
func (rec *auditRecord) read(data []byte) *recordReject {
	o := jsonObject{data: data, src: string(data)}
	var kb [64]byte
	var first *recordReject
	for {
		key, val, ok := o.next()
		if !ok {
			break
		}
		var rj *recordReject
		var n int64
		switch string(lowerKey(&kb, key)) {
		case "id":
			rec.Id, rj = o.str("Id", val)
		case "recordtype":
			rj = valRecordType(val, &rec.RecordType)
		case "creationtime":
			rec.CreationTime, rj = o.str("CreationTime", val)
		case "operation":
			rec.Operation, rj = o.str("Operation", val)
		case "workload":
			rec.Workload, rj = o.str("Workload", val)
		case "userid":
			rec.UserId, rj = o.str("UserId", val)
		case "objectid":
			rec.ObjectId, rj = o.str("ObjectId", val)
		case "clientip":
			rec.ClientIP, rj = o.str("ClientIP", val)
		case "siteurl":
			rec.SiteUrl, rj = o.str("SiteUrl", val)
		case "sourcerelativeurl":
			rec.SourceRelativeUrl, rj = o.str("SourceRelativeUrl", val)
		case "sourcefilename":
			rec.SourceFileName, rj = o.str("SourceFileName", val)
		case "sourcefileextension":
			rec.SourceFileExtension, rj = o.str("SourceFileExtension", val)
		case "targetuserorgroupname":
			rec.TargetUserOrGroupName, rj = o.str("TargetUserOrGroupName", val)
		case "targetuserorgrouptype":
			rec.TargetUserOrGroupType, rj = o.str("TargetUserOrGroupType", val)
		case "sensitivitylabelid":
			rec.SensitivityLabelId, rj = o.str("SensitivityLabelId", val)
		case "sourcelabel":
			rec.SourceLabel, rj = o.str("SourceLabel", val)
		case "filesizebytes":
			n, rj = valInt("FileSizeBytes", val)
			rec.FileSizeBytes = flexInt(n)
		case "sensitivitylabeleventdata":
			var v *auditLabelData
			rj = valNested("SensitivityLabelEventData", val, &v)
			rec.SensitivityLabelEventData = v
		case "recipients":
			var v stringList
			rj = valNested("Recipients", val, &v)
			rec.Recipients = v
		case "attachments":
			var v auditAttachments
			rj = valNested("Attachments", val, &v)
			rec.Attachments = v
		case "item":
			var v *auditItem
			rj = valNested("Item", val, &v)
			rec.Item = v
		case "clientipaddress":
			rec.ClientIPAddress, rj = o.str("ClientIPAddress", val)
		case "target":
			var v []auditTarget
			rj = valNested("Target", val, &v)
			rec.Target = v
		case "deviceproperties":
			var v []auditNameValue
			rj = valNested("DeviceProperties", val, &v)
			rec.DeviceProperties = v
		case "devicename":
			rec.DeviceName, rj = o.str("DeviceName", val)
		case "fileextension":
			rec.FileExtension, rj = o.str("FileExtension", val)
		case "filesize":
			n, rj = valInt("FileSize", val)
			rec.FileSize = flexInt(n)
		case "hidden":
			var b bool
			b, rj = valBool("Hidden", val)
			rec.Hidden = flexBool(b)
		case "targetdomain":
			rec.TargetDomain, rj = o.str("TargetDomain", val)
		case "targeturl":
			rec.TargetUrl, rj = o.str("TargetUrl", val)
		case "url":
			rec.Url, rj = o.str("Url", val)
		case "sensitiveinfotypedata":
			v, ok := quickSITs(val)
			if !ok {
				rj = valNested("SensitiveInfoTypeData", val, &v)
			}
			rec.SensitiveInfoTypeData = v
		case "sensitivitylabelids":
			var v stringList
			rj = valNested("SensitivityLabelIds", val, &v)
			rec.SensitivityLabelIds = v
		}
		if rj != nil && first == nil {
			first = rj
		}
	}
	if rj := o.reject(); rj != nil {
		return rj
	}
	return first
}

func valRecordType(val []byte, rt *recordTypeValue) *recordReject {
	if err := rt.UnmarshalJSON(val); err != nil {
		if fe, ok := err.(*fieldValueError); ok {
			return reject("RecordType", "%s", fe.reason)
		}
		return reject("RecordType", "%v", err)
	}
	return nil
}

func decodeAudit(users *userCache, data []byte) (*event.Event, *recordReject) {
	var rec auditRecord
	if rj := rec.read(data); rj != nil {
		return nil, rj
	}
	op := strings.TrimSpace(rec.Operation)
	if op == "" {
		return nil, reject("Operation", "missing")
	}
	if len(op) >= 3 && strings.EqualFold(op[:3], "dlp") {
		return nil, reject("Operation", "%q is a DLP record: DLP rule matches go to the dlp feed", op)
	}
	rt := int(rec.RecordType)
	if rt == 11 || rt == 13 {
		return nil, reject("RecordType", "%d is a DLP record type: DLP rule matches go to the dlp feed", rt)
	}

	// Which operations apply depends on the workload: FileDeleted on a device is not
	// FileDeleted in SharePoint.
	wl, known := workloadGroup(rec.Workload, rt)
	var canon string
	var kind auditKind
	ok := false
	if wl != "" {
		var e opEntry
		e, ok = auditOps[wl][op] // the common case: exact spelling, no case folding
		canon, kind = e.name, e.kind
	}
	if !ok {
		canon, kind, ok = labelOps.lookup(op)
	}
	if !ok {
		switch {
		case !known:
			what := fmt.Sprintf("Workload %q", rec.Workload)
			if strings.TrimSpace(rec.Workload) == "" {
				what = fmt.Sprintf("RecordType %d", rt)
			}
			return nil, reject("Operation", "unknown audit operation %q (%s is not an accepted workload: SharePoint, OneDrive, Exchange, AzureActiveDirectory, Endpoint)", op, what)
		case wl != "":
			if canon, kind, ok = auditOps[wl].lookup(op); !ok {
				return nil, reject("Operation", "unknown audit operation %q for workload %s (the accepted operations are listed in docs/feeds.md)", op, wl)
			}
		default:
			for _, w := range workloadOrder {
				if canon, kind, ok = auditOps[w].lookup(op); ok {
					wl = w
					break
				}
			}
			if !ok {
				return nil, reject("Operation", "unknown audit operation %q (the accepted operations are listed in docs/feeds.md)", op)
			}
		}
	}

	id := strings.TrimSpace(rec.Id)
	if id == "" {
		return nil, reject("Id", "missing")
	}
	t, err := parseFeedTime(rec.CreationTime)
	if err != nil {
		return nil, reject("CreationTime", "%v", err)
	}
	user := users.lower(rec.UserId)
	if user == "" {
		return nil, reject("UserId", "missing")
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
	if ev.Workload == "" {
		ev.Workload = wl
	}

	switch kind {
	case kindSPOFile, kindSharing, kindLabel:
		ev.Site = strings.TrimSpace(rec.SiteUrl)
		ev.FileName = strings.TrimSpace(rec.SourceFileName)
		if ev.FileName == "" && ev.Object != "" {
			// ObjectId is the item's URL (SharePoint) or local path (a device's label event).
			if strings.Contains(ev.Object, "://") {
				ev.FileName = urlBaseName(ev.Object)
			} else {
				ev.FileName = baseName(ev.Object)
			}
		}
		ev.FileExt = fileExt(firstNonEmpty(rec.SourceFileExtension, rec.FileExtension), ev.FileName)
		ev.Size = int64(rec.FileSizeBytes)
		if ev.Size == 0 {
			ev.Size = int64(rec.FileSize)
		}
		ev.Device = strings.TrimSpace(rec.DeviceName)
		ev.TargetDomain = hostOf(rec.TargetDomain)
		if kind == kindSharing {
			ev.TargetUser = strings.TrimSpace(rec.TargetUserOrGroupName)
			ev.TargetUserType = strings.TrimSpace(rec.TargetUserOrGroupType)
			if ev.TargetDomain == "" && strings.Contains(ev.TargetUser, "@") {
				ev.TargetDomain = emailDomain(ev.TargetUser)
			}
		}
	case kindSend, kindMailbox:
		if ev.ClientIP == "" {
			ev.ClientIP = strings.TrimSpace(rec.ClientIPAddress)
		}
		if kind == kindSend {
			if ev.Object == "" && rec.Item != nil {
				ev.Object = strings.TrimSpace(firstNonEmpty(rec.Item.InternetMessageId, rec.Item.Id))
			}
			for _, r := range rec.Recipients {
				ev.Recipients = appendUnique(ev.Recipients, strings.ToLower(strings.Trim(strings.TrimSpace(r), "<>")))
			}
			atts := rec.Attachments
			if len(atts) == 0 && rec.Item != nil {
				atts = rec.Item.Attachments
			}
			for _, a := range atts {
				if a.Size < 0 {
					return nil, reject("Attachments", "negative size %d for %q", a.Size, a.Name)
				}
				ev.Size += int64(a.Size)
			}
			ev.Attachments = len(atts)
			if len(atts) > 0 {
				// One event per message: the first attachment names the file, so that
				// sequences linked by file name can follow a file into an email.
				ev.FileName = strings.TrimSpace(atts[0].Name)
				ev.FileExt = fileExt("", ev.FileName)
			}
		}
	case kindSignIn:
		// The device a sign-in came from: Azure AD names it in DeviceProperties
		// (DisplayName, else its Id); an exporter may give DeviceName instead.
		ev.Device = strings.TrimSpace(rec.DeviceName)
		for _, want := range []string{"displayname", "id"} {
			for _, p := range rec.DeviceProperties {
				if ev.Device == "" && strings.EqualFold(strings.TrimSpace(p.Name), want) {
					ev.Device = strings.TrimSpace(p.Value)
				}
			}
		}
	case kindUserAdmin:
		target := accountFromObject(rec.ObjectId)
		if target == "" {
			for _, tg := range rec.Target {
				if strings.Contains(tg.ID, "@") {
					target = accountFromObject(tg.ID)
					break
				}
			}
		}
		if target == "" {
			return nil, reject("ObjectId", "%s: no account (UPN) in ObjectId or Target", canon)
		}
		// The event is about the account; the admin who acted is the actor.
		ev.Actor = user
		ev.User = target
	case kindEndpoint:
		ev.Device = strings.TrimSpace(rec.DeviceName)
		ev.FileName = baseName(ev.Object)
		ev.FileExt = fileExt(rec.FileExtension, ev.FileName)
		ev.Size = int64(rec.FileSize)
		ev.Hidden = bool(rec.Hidden)
		ev.URL = strings.TrimSpace(firstNonEmpty(rec.TargetUrl, rec.Url))
		ev.TargetDomain = hostOf(rec.TargetDomain)
		if ev.TargetDomain == "" && ev.URL != "" {
			ev.TargetDomain = hostOf(ev.URL)
		}
	case kindBrowse:
		ev.Device = strings.TrimSpace(rec.DeviceName)
		ev.URL = strings.TrimSpace(firstNonEmpty(rec.Url, rec.TargetUrl))
		if ev.URL == "" && strings.Contains(ev.Object, "://") {
			ev.URL = ev.Object
		}
		ev.TargetDomain = hostOf(rec.TargetDomain)
		if ev.TargetDomain == "" {
			ev.TargetDomain = hostOf(ev.URL)
		}
		if ev.TargetDomain == "" {
			return nil, reject("Url", "WebsiteVisited: missing (neither Url nor TargetDomain given)")
		}
		if ev.Object == "" {
			ev.Object = ev.URL
		}
	}
	if ev.Size < 0 {
		return nil, reject("FileSize", "negative: %d", ev.Size)
	}

	for i := range rec.SensitiveInfoTypeData {
		ev.SensitiveTypes = appendUnique(ev.SensitiveTypes, rec.SensitiveInfoTypeData[i].name())
	}

	// Labels: the label the item has now (or is given), then the one it had before.
	if ld := rec.SensitivityLabelEventData; ld != nil {
		ev.Labels = appendUnique(ev.Labels, ld.SensitivityLabelName)
		ev.Labels = appendUnique(ev.Labels, ld.SensitivityLabelId)
	}
	ev.Labels = appendUnique(ev.Labels, rec.SensitivityLabelId)
	ev.Labels = appendUnique(ev.Labels, rec.SourceLabel)
	for _, l := range rec.SensitivityLabelIds {
		ev.Labels = appendUnique(ev.Labels, l)
	}
	if ld := rec.SensitivityLabelEventData; ld != nil {
		ev.Labels = appendUnique(ev.Labels, ld.OldSensitivityLabelName)
		ev.Labels = appendUnique(ev.Labels, ld.OldSensitivityLabelId)
		if n := int(ld.LabelEventType); n != 0 {
			if n < 0 || n >= len(labelEvents) || labelEvents[n] == "" {
				return nil, reject("SensitivityLabelEventData.LabelEventType", "unknown value %d (1 upgraded, 2 downgraded, 3 removed, 4 changed)", n)
			}
			ev.LabelEvent = labelEvents[n]
		}
	}
	if ev.LabelEvent == "" && kind == kindLabel && strings.HasSuffix(canon, "Removed") {
		ev.LabelEvent = event.LabelRemoved
	}
	return ev, nil
}

// accountFromObject returns the UPN named by an Azure AD ObjectId or Target ID. Deleted
// accounts are renamed with their object id in front (<32 hex><upn>); that prefix goes.
func accountFromObject(s string) string {
	s = lowerTrim(s)
	if !strings.Contains(s, "@") {
		return ""
	}
	if len(s) > 32 && isHex(s[:32]) && strings.IndexByte(s, '@') > 32 {
		s = s[32:]
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// urlBaseName is the decoded last path element of a SharePoint URL.
func urlBaseName(u string) string {
	name := baseName(u)
	if strings.Contains(name, "%") {
		if dec, err := url.PathUnescape(name); err == nil {
			return dec
		}
	}
	return name
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

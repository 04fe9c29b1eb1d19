package demo

import "strings"

// Record builders. Each writes one complete record into g.b and hands it to the feed
// writer. Field names follow the Office 365 Management Activity schema (audit, DLP),
// the badging connector schema and the defender alert format of the feed table.

type attachment struct {
	name  string
	size  int64
	label string
}

// head starts an audit-log record with the common schema fields.
func (g *gen) head(rt int, op, workload, userID, userKey, ip string, secs int) {
	b := append(g.b[:0], '{')
	b = key(b, "Id")
	b = append(b, '"')
	b = appendGUID(b, g.r.Uint64(), g.r.Uint64())
	b = append(b, '"', ',')
	b = ki(b, "RecordType", int64(rt))
	b = g.kTime(b, "CreationTime", secs)
	b = ks(b, "Operation", op)
	b = ks(b, "OrganizationId", g.orgID)
	b = ki(b, "UserType", 0)
	b = ks(b, "UserKey", userKey)
	b = ks(b, "Workload", workload)
	b = ks(b, "ResultStatus", "Succeeded")
	b = ks(b, "UserId", userID)
	if ip != "" {
		b = ks(b, "ClientIP", ip)
	}
	g.b = b
}

// kTime writes "k":"YYYY-MM-DDThh:mm:ssZ" (UTC, as the Management Activity API does)
// for secs seconds after 00:00 local on the current day.
func (g *gen) kTime(b []byte, k string, secs int) []byte {
	b = key(b, k)
	b = g.cal.appendUTC(b, g.cal.unix(g.day, secs))
	return append(b, ',')
}

// timeSuffix is appended to every generated timestamp.
const timeSuffix = "Z"

func (g *gen) emitAudit() error {
	g.b = end(g.b, '}')
	return g.audit.write(g.b)
}

// label adds the sensitivity label of the item. SharePoint file records carry it as
// SourceLabel (schema field); device and mail records in SensitivityLabelEventData
// with the label's name, which the parser accepts in place of the label GUID so that
// policies can name labels ("Confidential").
func label(b []byte, name string, sharePoint bool) []byte {
	if name == "" {
		return b
	}
	if sharePoint {
		return ks(b, "SourceLabel", name)
	}
	b = key(b, "SensitivityLabelEventData")
	b = append(b, '{')
	b = ks(b, "SensitivityLabelName", name)
	b = end(b, '}')
	return append(b, ',')
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

// spFile is a SharePoint/OneDrive file operation (RecordType 6).
func (g *gen) spFile(u *user, secs int, op, site, name, lbl string) error {
	workload := "SharePoint"
	lib := "Shared Documents"
	if strings.Contains(site, "-my.sharepoint.com") {
		workload, lib = "OneDrive", "Documents"
	}
	g.head(6, op, workload, u.upn, u.puid, u.ip, secs)
	b := g.b
	b = key(b, "ObjectId")
	b = appendJSONString(b, site+"/"+lib+"/"+name)
	b = append(b, ',')
	b = ks(b, "SiteUrl", site+"/")
	b = ks(b, "SourceRelativeUrl", lib)
	b = ks(b, "SourceFileName", name)
	b = ks(b, "SourceFileExtension", extOf(name))
	b = ks(b, "ItemType", "File")
	b = ks(b, "EventSource", "SharePoint")
	b = ks(b, "UserAgent", userAgent)
	b = label(b, lbl, true)
	g.b = b
	return g.emitAudit()
}

const userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"

// spShare is a sharing operation (RecordType 14).
func (g *gen) spShare(u *user, secs int, op, site, name, target, targetType, lbl string) error {
	g.head(14, op, "SharePoint", u.upn, u.puid, u.ip, secs)
	b := g.b
	b = key(b, "ObjectId")
	b = appendJSONString(b, site+"/Shared Documents/"+name)
	b = append(b, ',')
	b = ks(b, "SiteUrl", site+"/")
	b = ks(b, "SourceRelativeUrl", "Shared Documents")
	b = ks(b, "SourceFileName", name)
	b = ks(b, "SourceFileExtension", extOf(name))
	b = ks(b, "ItemType", "File")
	b = ks(b, "EventSource", "SharePoint")
	if target != "" {
		b = ks(b, "TargetUserOrGroupName", target)
		b = ks(b, "TargetUserOrGroupType", targetType)
	}
	b = label(b, lbl, true)
	g.b = b
	return g.emitAudit()
}

// send is an Exchange Send (RecordType 2) with the documented extension fields
// Recipients and Attachments.
func (g *gen) send(u *user, secs int, subject string, to []string, att []attachment) error {
	g.head(2, "Send", "Exchange", u.upn, u.puid, u.ip, secs)
	b := g.b
	b = key(b, "ObjectId")
	b = append(b, '"', '<')
	b = appendGUID(b, g.r.Uint64(), g.r.Uint64())
	b = append(b, '@')
	b = append(b, g.opt.OrgDomain...)
	b = append(b, '>', '"', ',')
	b = ks(b, "MailboxOwnerUPN", u.upn)
	b = ki(b, "LogonType", 0)
	b = kstrs(b, "Recipients", to...)
	if len(att) > 0 {
		b = key(b, "Attachments")
		b = append(b, '[')
		for _, a := range att {
			b = append(b, '{')
			b = ks(b, "Name", a.name)
			b = ki(b, "Size", a.size)
			if a.label != "" {
				b = ks(b, "SensitivityLabel", a.label)
			}
			b = end(b, '}')
			b = append(b, ',')
		}
		b = end(b, ']')
		b = append(b, ',')
	}
	for _, a := range att {
		if a.label != "" {
			b = label(b, a.label, false) // the message carries its attachment's label
			break
		}
	}
	b = key(b, "Item")
	b = append(b, '{')
	b = ks(b, "Subject", subject)
	b = ks(b, "ParentFolder", "Sent Items")
	b = end(b, '}')
	b = append(b, ',')
	g.b = b
	return g.emitAudit()
}

// signIn is an Azure AD sign-in (RecordType 15). In the realistic background it
// names the device it came from in DeviceProperties (the schema's name/value list).
func (g *gen) signIn(u *user, secs int, ok bool) error {
	op := "UserLoggedIn"
	if !ok {
		op = "UserLoginFailed"
	}
	g.head(15, op, "AzureActiveDirectory", u.upn, u.puid, u.ip, secs)
	b := g.b
	b = ks(b, "ObjectId", "00000003-0000-0ff1-ce00-000000000000")
	b = ki(b, "AzureActiveDirectoryEventType", 1)
	b = ks(b, "ApplicationId", "4765445b-32c6-49b0-83e6-1d93765276ca")
	if !ok {
		b = ks(b, "LogonError", "InvalidPasswordExpiredOnPremPassword")
	}
	if g.realistic {
		b = append(b, `"DeviceProperties":[{"Name":"DisplayName","Value":`...)
		b = appendJSONString(b, u.device)
		b = append(b, `},{"Name":"OS","Value":"Windows10"},{"Name":"BrowserType","Value":"Edge"}],`...)
	}
	g.b = b
	return g.emitAudit()
}

// deleteUser is the Azure AD admin operation "Delete user." on u, performed by an admin.
func (g *gen) deleteUser(u *user, secs int) error {
	admin := "it-admin@" + g.opt.OrgDomain
	g.head(8, "Delete user.", "AzureActiveDirectory", admin, "10037FFE8A1B2C3D", "", secs)
	b := g.b
	b = ks(b, "ObjectId", u.upn)
	b = ki(b, "AzureActiveDirectoryEventType", 1)
	b = key(b, "Target")
	b = append(b, "[{\"ID\":\"User_"...)
	b = appendGUID(b, g.r.Uint64(), g.r.Uint64())
	b = append(b, "\",\"Type\":2},{\"ID\":"...)
	b = appendJSONString(b, u.upn)
	b = append(b, ",\"Type\":5}],"...)
	b = key(b, "Actor")
	b = append(b, "[{\"ID\":"...)
	b = appendJSONString(b, admin)
	b = append(b, ",\"Type\":5}],"...)
	g.b = b
	return g.emitAudit()
}

// endpointFile describes a device file operation (RecordType 63).
type endpointFile struct {
	op, path       string
	size           int64
	targetDomain   string
	targetURL      string
	lbl            string
	sensitiveTypes []string
	usb            bool
	dest           string // TargetFilePath (rename, copy)
	previous       string // PreviousFileName (rename)
	app            string
}

func (g *gen) endpoint(u *user, secs int, f endpointFile) error {
	g.head(63, f.op, "Endpoint", u.upn, u.puid, u.ip, secs)
	b := g.b
	b = ks(b, "ObjectId", f.path)
	b = ks(b, "DeviceName", u.device)
	b = ks(b, "Platform", "Windows")
	app := f.app
	if app == "" {
		app = "explorer.exe"
	}
	b = ks(b, "Application", app)
	name := f.path[strings.LastIndexByte(f.path, '\\')+1:]
	ext := extOf(name)
	b = ks(b, "FileExtension", ext)
	b = ki(b, "FileSize", f.size)
	b = ks(b, "FileType", fileTypes[ext])
	b = kb(b, "Hidden", false)
	if f.targetDomain != "" {
		b = ks(b, "TargetDomain", f.targetDomain)
	}
	if f.targetURL != "" {
		b = ks(b, "TargetUrl", f.targetURL)
	}
	if f.dest != "" {
		b = ks(b, "TargetFilePath", f.dest)
	}
	if f.previous != "" {
		b = ks(b, "PreviousFileName", f.previous)
	}
	if f.usb {
		b = key(b, "RemovableMediaDeviceAttributes")
		if u.h != nil {
			b = append(b, `{"Manufacturer":`...)
			b = appendJSONString(b, u.h.usbMaker)
			b = append(b, `,"Model":`...)
			b = appendJSONString(b, u.h.usbModel)
			b = append(b, `,"SerialNumber":`...)
			b = appendJSONString(b, u.h.usbSerial)
			b = append(b, `,"BusType":"USB"},`...)
		} else {
			b = append(b, `{"Manufacturer":"SanDisk","Model":"Ultra USB 3.0","SerialNumber":"4C53000123`...)
			b = appendInt(b, int64(len(u.upn)))
			b = append(b, `","BusType":"USB"},`...)
		}
		b = ks(b, "DestinationLocationType", "RemovableMedia")
	}
	if len(f.sensitiveTypes) > 0 {
		b = key(b, "SensitiveInfoTypeData")
		b = append(b, '[')
		for _, st := range f.sensitiveTypes {
			b = append(b, '{')
			b = ks(b, "SensitiveInfoTypeId", sensitiveTypeIDs[st])
			b = ks(b, "SensitiveInfoTypeName", st)
			b = ki(b, "Count", 3)
			b = ki(b, "Confidence", 85)
			b = end(b, '}')
			b = append(b, ',')
		}
		b = end(b, ']')
		b = append(b, ',')
	}
	b = label(b, f.lbl, false)
	g.b = b
	return g.emitAudit()
}

var fileTypes = map[string]string{"docx": "Word", "xlsx": "Excel", "pptx": "PowerPoint", "pdf": "PDF", "zip": "Archive", "csv": "Text", "txt": "Text", "jpg": "Image"}

// website is a browser visit: Endpoint record with Operation WebsiteVisited (the
// appliance's documented extension).
func (g *gen) website(u *user, secs int, domain, path string) error {
	g.head(63, "WebsiteVisited", "Endpoint", u.upn, u.puid, u.ip, secs)
	b := g.b
	b = key(b, "ObjectId")
	b = append(b, "\"https://"...)
	b = append(b, domain...)
	b = append(b, path...)
	b = append(b, '"', ',')
	b = key(b, "Url")
	b = append(b, "\"https://"...)
	b = append(b, domain...)
	b = append(b, path...)
	b = append(b, '"', ',')
	b = ks(b, "TargetDomain", domain)
	b = ks(b, "DeviceName", u.device)
	b = ks(b, "Platform", "Windows")
	b = ks(b, "Application", "msedge.exe")
	g.b = b
	return g.emitAudit()
}

// dlpMatch is a DlpRuleMatch (RecordType 11 for SharePoint/OneDrive, 13 for Exchange).
type dlpMatch struct {
	policy, rule, severity string
	sensitiveType          string
	count                  int
	file, site             string // SharePoint
	to                     []string
	subject                string // Exchange
}

func (g *gen) dlp(u *user, secs int, m dlpMatch) error {
	rt, workload := 11, "SharePoint"
	if m.subject != "" {
		rt, workload = 13, "Exchange"
	}
	b := append(g.b[:0], '{')
	b = key(b, "Id")
	b = append(b, '"')
	b = appendGUID(b, g.r.Uint64(), g.r.Uint64())
	b = append(b, '"', ',')
	b = ki(b, "RecordType", int64(rt))
	b = g.kTime(b, "CreationTime", secs)
	b = ks(b, "Operation", "DlpRuleMatch")
	b = ks(b, "OrganizationId", g.orgID)
	b = ki(b, "UserType", 4)
	b = ks(b, "UserKey", "DlpAgent")
	b = ks(b, "Workload", workload)
	b = ks(b, "UserId", u.upn)
	if rt == 11 {
		obj := m.site + "/Shared Documents/" + m.file
		b = ks(b, "ObjectId", obj)
		b = key(b, "SharePointMetaData")
		b = append(b, '{')
		b = ks(b, "From", u.upn)
		b = ks(b, "SiteCollectionUrl", m.site)
		b = ks(b, "FileName", m.file)
		b = ks(b, "FileOwner", u.upn)
		b = ks(b, "FilePathUrl", obj)
		b = ks(b, "DocumentLastModifier", u.upn)
		b = kb(b, "IsViewableByExternalUsers", false)
		b = end(b, '}')
		b = append(b, ',')
	} else {
		b = key(b, "ObjectId")
		msgID := len(b)
		b = append(b, '"', '<')
		b = appendGUID(b, g.r.Uint64(), g.r.Uint64())
		b = append(b, '@')
		b = append(b, g.opt.OrgDomain...)
		b = append(b, '>', '"', ',')
		id := string(b[msgID : len(b)-1])
		b = key(b, "ExchangeMetaData")
		b = append(b, '{')
		b = key(b, "MessageID")
		b = append(b, id...)
		b = append(b, ',')
		b = ks(b, "From", u.upn)
		b = kstrs(b, "To", m.to...)
		b = kstrs(b, "CC")
		b = kstrs(b, "BCC")
		b = ks(b, "Subject", m.subject)
		b = g.kTime(b, "Sent", secs)
		b = ki(b, "RecipientCount", int64(len(m.to)))
		b = end(b, '}')
		b = append(b, ',')
	}
	b = key(b, "PolicyDetails")
	b = append(b, "[{"...)
	b = ks(b, "PolicyId", policyIDs[m.policy])
	b = ks(b, "PolicyName", m.policy)
	b = key(b, "Rules")
	b = append(b, "[{"...)
	b = ks(b, "RuleId", ruleIDs[m.rule])
	b = ks(b, "RuleName", m.rule)
	b = kstrs(b, "Actions", "NotifyUser", "GenerateAlert")
	b = ks(b, "RuleMode", "Enforce")
	b = ks(b, "Severity", m.severity)
	b = key(b, "ConditionsMatched")
	b = append(b, `{"SensitiveInformation":[{`...)
	b = ki(b, "Confidence", 85)
	b = ki(b, "Count", int64(m.count))
	b = ks(b, "SensitiveType", sensitiveTypeIDs[m.sensitiveType])
	b = ks(b, "SensitiveInformationTypeName", m.sensitiveType)
	b = ki(b, "UniqueCount", int64(m.count))
	b = end(b, '}')
	b = append(b, "]}}]}],"...)
	b = kb(b, "SensitiveInfoDetectionIsIncluded", false)
	g.b = end(b, '}')
	return g.dlpW.write(g.b)
}

// The demo's DLP policies and rules. Only the High rule of dlpPolicyFinancial is a
// data-leaks trigger; benign users only ever match Low and Medium rules.
const (
	dlpPolicyFinancial = "Financial Data Protection"
	dlpPolicyPII       = "PII Protection"
	ruleFinLow         = "Low volume of financial data"
	ruleFinMed         = "Medium volume of financial data"
	ruleFinHigh        = "High volume of financial data shared"
	rulePIILow         = "Personal data detected"
	rulePIIMed         = "Personal data shared internally"
)

var policyIDs = map[string]string{
	dlpPolicyFinancial: "8e1f2b8c-6a3d-4c1e-9f60-3a2b1c0d9e11",
	dlpPolicyPII:       "2d7c9b1a-0e4f-4a6b-8c3d-5e6f7a8b9c22",
}

var ruleIDs = map[string]string{
	ruleFinLow:  "a1b2c3d4-0001-4000-8000-000000000001",
	ruleFinMed:  "a1b2c3d4-0002-4000-8000-000000000002",
	ruleFinHigh: "a1b2c3d4-0003-4000-8000-000000000003",
	rulePIILow:  "a1b2c3d4-0004-4000-8000-000000000004",
	rulePIIMed:  "a1b2c3d4-0005-4000-8000-000000000005",
}

var sensitiveTypeIDs = map[string]string{
	"Credit Card Number":                   "50842eb7-edc8-4019-85dd-5a5c1f2bb085",
	"U.S. Bank Account Number":             "a2ce32a8-f935-4bb6-8e96-2a5157672e2c",
	"International Banking Account Number": "e7dc4711-11b7-4cb0-b88b-2c394a771f0e",
	"U.S. Social Security Number (SSN)":    "a44669fe-0d48-453d-a9b1-2cc83f2cba77",
	"EU Passport Number":                   "21883626-6245-4f3d-9b61-5cbb43e625ee",
}

// badge is a physical badging record.
func (g *gen) badge(u *user, secs int, assetID, assetName string, ok bool) error {
	b := append(g.b[:0], '{')
	b = ks(b, "UserId", u.upn)
	b = ks(b, "AssetId", assetID)
	b = ks(b, "AssetName", assetName)
	b = g.kTime(b, "EventTime", secs)
	if ok {
		b = ks(b, "AccessStatus", "Success")
	} else {
		b = ks(b, "AccessStatus", "Failed")
	}
	g.b = end(b, '}')
	return g.badgeW.write(g.b)
}

// alert is a defender (MDE) alert.
func (g *gen) alert(u *user, secs int, title, category, severity, status string) error {
	b := append(g.b[:0], '{')
	b = key(b, "AlertId")
	b = append(b, `"da`...)
	for i := 0; i < 2; i++ {
		v := g.r.Uint64()
		for j := 0; j < 9; j++ {
			b = append(b, byte('0'+v%10))
			v /= 10
		}
	}
	b = append(b, '_', '-')
	b = appendInt(b, int64(g.r.Uint32()))
	b = append(b, '"', ',')
	b = ks(b, "Title", title)
	b = ks(b, "Category", category)
	b = ks(b, "Severity", severity)
	b = ks(b, "Status", status)
	b = ks(b, "UserPrincipalName", u.upn)
	b = ks(b, "DeviceName", u.device)
	b = g.kTime(b, "CreatedTime", secs)
	g.b = end(b, '}')
	return g.defW.write(g.b)
}

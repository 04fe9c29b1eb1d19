// Package auditgen writes realistic Office 365 Management Activity API audit records
// (about 560 bytes each) for benchmarks and crash tests: SharePoint/OneDrive file
// operations, Exchange Send, Azure AD sign-ins and Endpoint DLP activities, spread over
// a few hundred users. Record i always has the same content and a unique Id, so tests
// can overlap index ranges across files to create duplicate records.
package auditgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Users is how many distinct users the records are spread over.
const Users = 300

// Base is the time of record 0; record i is i*Step later.
var Base = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// Step is the time between consecutive records.
const Step = 350 * time.Millisecond

// ID returns the Id of record i of a run (a GUID-shaped string; the run tag keeps
// separate runs, such as separate benchmark iterations, apart).
func ID(run string, i int) string {
	h := fnv.New64a()
	h.Write([]byte(run))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	h.Write(b[:])
	x := h.Sum64()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(x>>32), uint16(x>>16), uint16(x)&0xfff, (i>>12)&0xfff, i&0xffffffffffff)
}

// User returns the UPN of user u.
func User(u int) string { return "user" + strconv.Itoa(u%Users) + "@contoso.com" }

// UserOf returns the UPN that record i is about.
func UserOf(i int) string { return User(int(mix(uint64(i)) % Users)) }

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

var (
	sites = []string{"Finance", "Legal", "Engineering", "HR", "Sales", "Marketing", "Board", "Projects"}
	files = []string{"Q3 forecast.xlsx", "Customer list.csv", "Merger plan.docx", "Salary review 2026.xlsx",
		"Roadmap.pptx", "Contract draft v7.docx", "Source export.zip", "Design spec.pdf", "Budget.xlsx", "Notes.txt"}
	spOps   = []string{"FileDownloaded", "FileAccessed", "FileUploaded", "FileModified", "FileSyncDownloadedFull", "FileDeleted", "FileRecycled"}
	epOps   = []string{"FileCopiedToRemovableMedia", "FilePrinted", "FileUploadedToCloud", "FileCopiedToNetworkShare", "FileCopiedToClipboard"}
	domains = []string{"gmail.com", "fabrikam.com", "dropbox.com", "contoso.com", "outlook.com", "wetransfer.com"}
	agents  = []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/128.0.0.0", "OneDriveMpc-Transform_Thumbnail/1.0", "Microsoft Office Excel 2014"}
	orgID   = "4a1f2c3d-9b8e-4f70-a6d5-3c2b1a09e8f7"
)

// Append appends record i of run as one JSON object (no trailing newline).
func Append(b []byte, run string, i int) []byte {
	r := mix(uint64(i) ^ 0x9e3779b97f4a7c15)
	user := UserOf(i)
	t := Base.Add(time.Duration(i) * Step)
	ip := "10." + strconv.Itoa(int(r>>8&0xff)) + "." + strconv.Itoa(int(r>>16&0xff)) + "." + strconv.Itoa(int(r>>24&0xff)+1)
	file := files[r>>32%uint64(len(files))]
	ext := filepath.Ext(file)[1:]
	site := sites[r>>40%uint64(len(sites))]

	b = append(b, `{"Id":"`...)
	b = append(b, ID(run, i)...)
	b = append(b, `","CreationTime":"`...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	switch kind := r % 10; {
	case kind < 6: // SharePoint file operation
		op := spOps[r>>48%uint64(len(spOps))]
		b = append(b, `","RecordType":6,"Operation":"`...)
		b = append(b, op...)
		b = append(b, `","OrganizationId":"`...)
		b = append(b, orgID...)
		b = append(b, `","UserType":0,"UserKey":"i:0h.f|membership|10032001`...)
		b = strconv.AppendUint(b, r&0xffffff, 16)
		b = append(b, `@live.com","Workload":"SharePoint","ObjectId":"https://contoso.sharepoint.com/sites/`...)
		b = append(b, site...)
		b = append(b, `/Shared Documents/`...)
		b = append(b, file...)
		b = append(b, `","UserId":"`...)
		b = append(b, user...)
		b = append(b, `","ClientIP":"`...)
		b = append(b, ip...)
		b = append(b, `","SiteUrl":"https://contoso.sharepoint.com/sites/`...)
		b = append(b, site...)
		b = append(b, `/","SourceRelativeUrl":"Shared Documents","SourceFileName":"`...)
		b = append(b, file...)
		b = append(b, `","SourceFileExtension":"`...)
		b = append(b, ext...)
		b = append(b, `"}`...)
	case kind < 8: // Endpoint DLP
		op := epOps[r>>48%uint64(len(epOps))]
		dom := domains[r>>44%uint64(len(domains))]
		b = append(b, `","RecordType":63,"Operation":"`...)
		b = append(b, op...)
		b = append(b, `","OrganizationId":"`...)
		b = append(b, orgID...)
		b = append(b, `","UserType":0,"UserKey":"`...)
		b = append(b, user...)
		b = append(b, `","Workload":"Endpoint","ObjectId":"C:\\Users\\`...)
		b = append(b, user[:len(user)-12]...)
		b = append(b, `\\Documents\\`...)
		b = append(b, file...)
		b = append(b, `","UserId":"`...)
		b = append(b, user...)
		b = append(b, `","ClientIP":"`...)
		b = append(b, ip...)
		b = append(b, `","DeviceName":"LT-`...)
		b = strconv.AppendUint(b, r>>20&0xffff, 10)
		b = append(b, `.contoso.com","FileExtension":"`...)
		b = append(b, ext...)
		b = append(b, `","FileSize":`...)
		b = strconv.AppendUint(b, r>>10&0xfffff+1024, 10)
		b = append(b, `,"TargetDomain":"`...)
		b = append(b, dom...)
		b = append(b, `","SensitiveInfoTypeData":[{"SensitiveInfoTypeName":"Credit Card Number","Count":3,"Confidence":85}]}`...)
	case kind < 9: // Exchange Send
		dom := domains[r>>44%uint64(len(domains))]
		b = append(b, `","RecordType":2,"Operation":"Send","OrganizationId":"`...)
		b = append(b, orgID...)
		b = append(b, `","UserType":0,"UserKey":"10032001`...)
		b = strconv.AppendUint(b, r&0xffffff, 16)
		b = append(b, `","Workload":"Exchange","ResultStatus":"Succeeded","ObjectId":"<`...)
		b = strconv.AppendUint(b, r, 36)
		b = append(b, `@contoso.com>","UserId":"`...)
		b = append(b, user...)
		b = append(b, `","ClientIP":"`...)
		b = append(b, ip...)
		b = append(b, `","ClientInfoString":"Client=OWA","Recipients":["partner`...)
		b = strconv.AppendUint(b, r>>30&0xff, 10)
		b = append(b, '@')
		b = append(b, dom...)
		b = append(b, `","colleague@contoso.com"],"Attachments":[{"Name":"`...)
		b = append(b, file...)
		b = append(b, `","Size":`...)
		b = strconv.AppendUint(b, r>>12&0xfffff+2048, 10)
		b = append(b, `}]}`...)
	default: // Azure AD sign-in
		op := "UserLoggedIn"
		if r>>50&7 == 0 {
			op = "UserLoginFailed"
		}
		b = append(b, `","RecordType":15,"Operation":"`...)
		b = append(b, op...)
		b = append(b, `","OrganizationId":"`...)
		b = append(b, orgID...)
		b = append(b, `","UserType":0,"UserKey":"`...)
		b = strconv.AppendUint(b, r&0xffffffff, 16)
		b = append(b, `","Workload":"AzureActiveDirectory","ResultStatus":"Success","ObjectId":"00000003-0000-0ff1-ce00-000000000000","UserId":"`...)
		b = append(b, user...)
		b = append(b, `","ClientIP":"`...)
		b = append(b, ip...)
		b = append(b, `","AzureActiveDirectoryEventType":1,"ExtendedProperties":[{"Name":"RequestType","Value":"OAuth2:Authorize"}],"ApplicationId":"89bee1f7-5e6e-4d8a-9f3d-ecd601259da7"}`...)
	}
	return b
}

// WriteFile writes records [from, to) of run to path as JSON lines (or, with array, as
// one JSON array), following the drop protocol: it writes a dot-named temporary file in
// the same directory, syncs it and renames it into place.
func WriteFile(path, run string, from, to int, array bool) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	buf := make([]byte, 0, 2048)
	if array {
		w.WriteString("[\n")
	}
	for i := from; i < to; i++ {
		buf = Append(buf[:0], run, i)
		if array && i+1 < to {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if array {
		w.WriteString("]\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

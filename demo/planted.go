package demo

import (
	"fmt"
	"slices"
	"strconv"
)

// Planted activity, on top of the planted user's ordinary background. Timelines are
// fixed relative to the last day L, so every case lies inside a window of 21+ days.

var externalGuests = []string{"deals@rivalcorp.net", "k.weiss@northpeak-consulting.com", "maren.h.private@gmail.com"}

var codenames = []string{"Atlas", "Borealis", "Cobalt", "Drake", "Ember", "Falcon", "Granite", "Helix"}

// securityAlerts are the defender alerts planted users raise, one category each.
var securityAlerts = []struct{ title, category, severity, status string }{
	{"Attempt to turn off Microsoft Defender Antivirus protection", "DefenseEvasion", "High", "New"},
	{"'uTorrent' unwanted software was detected", "UnwantedSoftware", "Medium", "InProgress"},
	{"'Wacatac' trojan malware was detected", "Malware", "High", "New"},
	{"Suspicious tampering with security event logging", "DefenseEvasion", "Medium", "InProgress"},
	{"'Mimikatz' credential theft tool was detected", "Malware", "High", "InProgress"},
	{"'CoinMiner' unwanted software was blocked", "UnwantedSoftware", "Medium", "New"},
}

// planted writes the case's activity for today. "from, to" count working days back
// from the last day L (cal.at): in the clean background every day is a working day,
// so they are calendar days; in the realistic one the case runs on working days.
func (g *gen) planted(u *user) error {
	d, at := g.day, g.cal.at
	work := g.cal.work[d]
	in := func(from, to int) bool { return work && d >= at(from) && d <= at(to) }
	switch u.plant.scenario {
	case scDepartingUSBCloud:
		if in(7, 2) {
			return g.plantUSBCloud(u)
		}
	case scRiskySharing:
		if in(10, 3) {
			return g.plantRiskySharing(u)
		}
	case scPriorityLeak:
		if in(9, 3) {
			return g.plantPriorityLeak(u)
		}
	case scDLPExfil:
		if in(10, 3) {
			return g.plantDLPExfil(u, d == at(10) || d == at(5))
		}
	case scSequence:
		if in(6, 2) {
			return g.plantSequence(u, g.cal.workdaysIn(at(6), d)-1)
		}
	case scDefender, scDefenderDeparting, scDefenderPriority:
		if in(8, 2) {
			return g.plantAlerts(u)
		}
	case scDefenderRisky:
		if in(9, 2) {
			return g.plantAlerts(u)
		}
	case scBadgeAfterTerminat:
		if d >= at(8) && d <= at(1) { // every night, working day or not: the account is gone
			return g.plantBadges(u)
		}
	case scRiskyBrowsing:
		if in(7, 1) {
			return g.plantBrowsing(u)
		}
	case scFirstTimeBurst:
		if d == at(5) {
			return g.plantFirstTimeBurst(u)
		}
	case scJobSitesBurst:
		switch {
		case d == at(5) || d == at(4):
			return g.plantJobLeaverBurst(u)
		case in(28, 6) && g.r.IntN(10) < 6:
			return g.plantJobSearch(u)
		}
	case scAdminHackTools:
		switch d {
		case at(9):
			return g.plantHackToolDownloads(u)
		case at(8):
			return g.plantHackToolUSB(u)
		case at(7):
			return g.plantMassEmail(u)
		}
	case scSlowExfiltration:
		if in(slowFrom, slowTo) {
			return g.plantSlowExfiltration(u)
		}
	case scUnallowedUpload:
		if d == at(4) {
			return g.plantUnallowedUpload(u)
		}
	}
	return nil
}

// labelEvery returns "Confidential" for every n-th i.
func labelEvery(i, n int) string {
	if i%n == 0 {
		return "Confidential"
	}
	return ""
}

func (g *gen) plantUSBCloud(u *user) error {
	pool := g.pools[u.dept]
	t := 10*3600 + g.r.IntN(1800)
	if err := g.endpoint(u, t, endpointFile{op: "RemovableMediaMount", path: `E:\`, usb: true}); err != nil {
		return err
	}
	for i := range 8 + g.r.IntN(5) {
		if err := g.spFile(u, 9*3600+i*300, "FileDownloaded", u.site, pool[i], labelEvery(i, 3)); err != nil {
			return err
		}
	}
	for i := range 20 + g.r.IntN(11) {
		name := pool[(i*7)%len(pool)]
		f := endpointFile{op: "FileCopiedToRemovableMedia", path: g.docPath(u, "Documents", name), dest: `E:\Backup\` + name,
			size: fileSize(g.r), usb: true, lbl: labelEvery(i, 3)}
		if err := g.endpoint(u, t+60+i*45, f); err != nil {
			return err
		}
	}
	for i := range 8 + g.r.IntN(7) {
		name := pool[(i*11+3)%len(pool)]
		dom := g.pick(cloudTargets)
		f := endpointFile{op: "FileUploadedToCloud", path: g.docPath(u, "Documents", name), size: fileSize(g.r),
			targetDomain: dom, targetURL: "https://" + dom + "/upload", app: "chrome.exe", lbl: labelEvery(i, 3)}
		if err := g.endpoint(u, 14*3600+i*120, f); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) plantRiskySharing(u *user) error {
	pool := g.pools[u.dept]
	for i := range 8 + g.r.IntN(5) {
		if err := g.spShare(u, 10*3600+i*240, "SharingSet", u.site, pool[(i*5)%len(pool)], g.pick(externalGuests), "Guest", ""); err != nil {
			return err
		}
	}
	for i := range 3 + g.r.IntN(3) {
		if err := g.spShare(u, 13*3600+i*300, "AnonymousLinkCreated", u.site, pool[(i*13+1)%len(pool)], "", "", ""); err != nil {
			return err
		}
	}
	for i := range 6 + g.r.IntN(4) {
		att := []attachment{{name: pool[(i*3+2)%len(pool)], size: fileSize(g.r)}}
		if i%2 == 0 {
			att = append(att, attachment{name: pool[(i*9+4)%len(pool)], size: fileSize(g.r)})
		}
		to := "maren.h.private@" + freeMail[i%len(freeMail)]
		if err := g.send(u, 15*3600+i*400, "fwd", []string{to}, att); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) plantPriorityLeak(u *user) error {
	pool := g.pools[u.dept]
	for i := range 10 + g.r.IntN(5) {
		if err := g.spFile(u, 9*3600+i*200, "FileDownloaded", u.site, pool[(i*7)%len(pool)], "Confidential"); err != nil {
			return err
		}
	}
	for i := range 8 + g.r.IntN(5) {
		to := "v.lang@" + freeMail[i%len(freeMail)]
		if i%2 == 1 {
			to = "board-contact@" + g.pick(partnerDomains)
		}
		att := []attachment{{name: pool[(i*11+1)%len(pool)], size: fileSize(g.r), label: "Confidential"}}
		secs := 11*3600 + i*600
		if err := g.send(u, secs, "Board material", []string{to}, att); err != nil {
			return err
		}
		if i == 0 {
			m := dlpMatch{policy: dlpPolicyFinancial, rule: ruleFinHigh, severity: "High", sensitiveType: "International Banking Account Number",
				count: 40 + g.r.IntN(40), to: []string{to}, subject: "Board material"}
			if err := g.dlp(u, secs+5, m); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *gen) plantDLPExfil(u *user, dlpDay bool) error {
	pool := g.pools[u.dept]
	if dlpDay {
		m := dlpMatch{policy: dlpPolicyFinancial, rule: ruleFinHigh, severity: "High", sensitiveType: "Credit Card Number",
			count: 120 + g.r.IntN(80), site: u.site, file: pool[0]}
		if err := g.dlp(u, 9*3600+g.r.IntN(1800), m); err != nil {
			return err
		}
		if g.day == g.cal.at(10) {
			return nil // the trigger day itself is quiet; exfiltration starts the next day
		}
	}
	for i := range 25 + g.r.IntN(11) {
		if err := g.spFile(u, 10*3600+i*90, "FileDownloaded", u.site, pool[i%len(pool)], labelEvery(i, 4)); err != nil {
			return err
		}
	}
	for i := range 8 + g.r.IntN(5) {
		name := pool[(i*7+1)%len(pool)]
		dom := g.pick(cloudTargets)
		f := endpointFile{op: "FileUploadedToCloud", path: g.docPath(u, "Downloads", name), size: fileSize(g.r),
			targetDomain: dom, targetURL: "https://" + dom + "/upload", app: "msedge.exe", sensitiveTypes: []string{"Credit Card Number"}}
		if err := g.endpoint(u, 13*3600+i*150, f); err != nil {
			return err
		}
	}
	for i := range 4 + g.r.IntN(3) {
		att := []attachment{{name: pool[(i*5+2)%len(pool)], size: fileSize(g.r)}}
		if err := g.send(u, 16*3600+i*300, "numbers", []string{"s.ortiz.home@" + freeMail[i%len(freeMail)]}, att); err != nil {
			return err
		}
	}
	return nil
}

// plantSequence: ten files a day, each downloaded, renamed on the device (moved to a
// personal folder; the base name is kept so the steps link by file name), exfiltrated
// and deleted.
func (g *gen) plantSequence(u *user, n int) error {
	for i := range 10 {
		name := "Design-Spec-" + codenames[n%len(codenames)] + "-" + strconv.Itoa(i+1) + ".docx"
		t := 9*3600 + 1800 + i*1800
		if err := g.spFile(u, t, "FileDownloaded", u.site, name, labelEvery(i, 2)); err != nil {
			return err
		}
		src, dst := g.docPath(u, "Downloads", name), g.docPath(u, `Documents\Personal`, name)
		size := fileSize(g.r)
		if err := g.endpoint(u, t+300, endpointFile{op: "FileRenamed", path: dst, previous: src, dest: dst, size: size}); err != nil {
			return err
		}
		ex := endpointFile{op: "FileUploadedToCloud", path: dst, size: size, targetDomain: "mega.nz", targetURL: "https://mega.nz/upload", app: "chrome.exe"}
		if i%3 == 2 {
			ex = endpointFile{op: "FileCopiedToRemovableMedia", path: dst, dest: `F:\` + name, size: size, usb: true}
		}
		if err := g.endpoint(u, t+900, ex); err != nil {
			return err
		}
		if err := g.endpoint(u, t+1800, endpointFile{op: "FileDeleted", path: dst, size: size}); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) plantAlerts(u *user) error {
	for i := range 3 + g.r.IntN(3) {
		a := securityAlerts[(g.day+i)%len(securityAlerts)]
		if err := g.alert(u, 9*3600+i*4800+g.r.IntN(600), a.title, a.category, a.severity, a.status); err != nil {
			return err
		}
	}
	return nil
}

// plantBadges: the terminated user still gets in at the main entrance, after hours,
// and tries the data centre and server room.
func (g *gen) plantBadges(u *user) error {
	main := ordinaryAssets[0]
	t := 19*3600 + g.r.IntN(2*3600)
	if err := g.badge(u, t, main[0], main[1], true); err != nil {
		return err
	}
	for i := range 2 + g.r.IntN(3) {
		a := priorityAssets[i%len(priorityAssets)]
		if err := g.badge(u, t+300+i*120, a[0], a[1], false); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) plantBrowsing(u *user) error {
	for i := range 10 + g.r.IntN(8) {
		site := riskySites[(g.day+i)%len(riskySites)]
		path := fmt.Sprintf("/page/%d", g.r.IntN(10000))
		if err := g.website(u, 12*3600+i*420, site, path); err != nil {
			return err
		}
	}
	return nil
}

// plantFirstTimeBurst: at 3 a.m., from home, a first sign-in outside working hours, a
// first USB mount and a handful of copies, then visits to an anonymous file drop and a
// paste site (unallowed domains). The user never used USB nor signed in late before.
func (g *gen) plantFirstTimeBurst(u *user) error {
	pool := g.pools[u.dept]
	ip := u.ip
	u.ip = u.h.homeIP
	defer func() { u.ip = ip }()
	t := 3*3600 + g.r.IntN(600)
	if err := g.signIn(u, t, true); err != nil {
		return err
	}
	if err := g.endpoint(u, t+420, endpointFile{op: "RemovableMediaMount", path: `F:\`, usb: true}); err != nil {
		return err
	}
	for i := range 5 + g.r.IntN(4) {
		name := pool[(i*7+3)%len(pool)]
		f := endpointFile{op: "FileCopiedToRemovableMedia", path: g.docPath(u, "Documents", name), dest: `F:\` + name,
			size: fileSize(g.r), usb: true, lbl: labelEvery(i, 3)}
		if err := g.endpoint(u, t+600+i*75, f); err != nil {
			return err
		}
	}
	for i, site := range []string{"anonfiles.com", "pastebin.com", "anonfiles.com"} {
		if err := g.website(u, t+1500+i*240, site, fmt.Sprintf("/%d", 100000+g.r.IntN(900000))); err != nil {
			return err
		}
	}
	return nil
}

// plantJobSearch: a few job-site pages at lunch or late in the afternoon.
func (g *gen) plantJobSearch(u *user) error {
	t := 12*3600 + g.r.IntN(5*3600)
	for i := range 3 + g.r.IntN(8) {
		s := jobSites[(g.day+i)%len(jobSites)]
		if err := g.website(u, t+i*150, s.domain, s.path+fmt.Sprint(1000000+g.r.IntN(9000000))); err != nil {
			return err
		}
	}
	return nil
}

// plantJobLeaverBurst: the two days before resigning, many files to USB and to
// personal cloud storage.
func (g *gen) plantJobLeaverBurst(u *user) error {
	pool := g.pools[u.dept]
	t := 16*3600 + g.r.IntN(1800)
	if err := g.endpoint(u, t, endpointFile{op: "RemovableMediaMount", path: `E:\`, usb: true}); err != nil {
		return err
	}
	for i := range 12 + g.r.IntN(9) {
		name := pool[(i*5+g.day)%len(pool)]
		f := endpointFile{op: "FileCopiedToRemovableMedia", path: g.docPath(u, "Documents", name), dest: `E:\Sales\` + name,
			size: fileSize(g.r), usb: true, lbl: labelEvery(i, 4)}
		if err := g.endpoint(u, t+60+i*35, f); err != nil {
			return err
		}
	}
	for i := range 5 + g.r.IntN(5) {
		name := pool[(i*11+g.day)%len(pool)]
		dom := []string{"drive.google.com", "www.dropbox.com"}[i%2]
		f := endpointFile{op: "FileUploadedToCloud", path: g.docPath(u, "Documents", name), size: fileSize(g.r),
			targetDomain: dom, targetURL: "https://" + dom + "/upload", app: "chrome.exe"}
		if err := g.endpoint(u, t+1800+i*90, f); err != nil {
			return err
		}
	}
	return nil
}

var hackTools = []struct{ file, alert, category, severity, status string }{
	{"mimikatz_trunk.zip", "'HackTool:Win32/Mimikatz' credential theft tool was detected", "Malware", "High", "New"},
	{"LaZagne.exe", "'HackTool:Win32/LaZagne' password recovery tool was detected", "UnwantedSoftware", "Medium", "New"},
	{"Rubeus.exe", "'HackTool:MSIL/Rubeus' Kerberos abuse tool was detected", "UnwantedSoftware", "Medium", "InProgress"},
	{"hashcat-6.2.6.7z", "", "", "", ""},
}

// plantHackToolDownloads: the administrator browses an exploit archive (an unallowed
// domain) and downloads hacking tools; Defender flags three of the four.
func (g *gen) plantHackToolDownloads(u *user) error {
	t := 14*3600 + g.r.IntN(1800)
	for i := range 3 {
		if err := g.website(u, t+i*120, "www.exploit-db.com", fmt.Sprintf("/exploits/%d", 50000+g.r.IntN(2000))); err != nil {
			return err
		}
	}
	for i, tool := range hackTools {
		at := t + 600 + i*240
		f := endpointFile{op: "FileDownloadedFromBrowser", path: g.docPath(u, "Downloads", tool.file), size: fileSize(g.r),
			targetDomain: "www.exploit-db.com", targetURL: "https://www.exploit-db.com/download/" + tool.file, app: "msedge.exe"}
		if err := g.endpoint(u, at, f); err != nil {
			return err
		}
		if tool.alert != "" {
			if err := g.alert(u, at+45, tool.alert, tool.category, tool.severity, tool.status); err != nil {
				return err
			}
		}
	}
	return nil
}

// plantHackToolUSB: the tools and a few documents to USB.
func (g *gen) plantHackToolUSB(u *user) error {
	pool := g.pools[u.dept]
	t := 10*3600 + g.r.IntN(1800)
	if err := g.endpoint(u, t, endpointFile{op: "RemovableMediaMount", path: `E:\`, usb: true}); err != nil {
		return err
	}
	var files []string
	for _, tool := range hackTools {
		files = append(files, tool.file)
	}
	for i := range 8 {
		files = append(files, pool[(i*7+2)%len(pool)])
	}
	for i, name := range files {
		f := endpointFile{op: "FileCopiedToRemovableMedia", path: g.docPath(u, "Downloads", name), dest: `E:\tools\` + name,
			size: fileSize(g.r), usb: true}
		if err := g.endpoint(u, t+60+i*40, f); err != nil {
			return err
		}
	}
	return nil
}

// plantMassEmail: one message with a Confidential attachment to 45 colleagues and 15
// outside addresses (partners, customers, free mail).
func (g *gen) plantMassEmail(u *user) error {
	var to []string
	for i := range 45 {
		to = append(to, g.users[(i*37+g.day)%len(g.users)].upn)
	}
	for i := range 15 {
		dom := append(slices.Clone(partnerDomains), customerDomains...)[i%(len(partnerDomains)+len(customerDomains))]
		if i%5 == 4 {
			dom = freeMail[i%len(freeMail)]
		}
		to = append(to, firstNames[(i*11)%len(firstNames)]+"."+lastNames[(i*13)%len(lastNames)]+"@"+dom)
	}
	att := []attachment{{name: "Salary-Bands-FY26.xlsx", size: fileSize(g.r), label: "Confidential"}}
	return g.send(u, 16*3600+g.r.IntN(1800), "What management is not telling you", to, att)
}

// plantSlowExfiltration: every working day for three weeks, 2 external emails with an
// attachment to a contact at a competitor, 4 printed files and 6 SharePoint downloads
// (the user's own habits for these are replaced on these days; see planDay).
func (g *gen) plantSlowExfiltration(u *user) error {
	pool := g.pools[u.dept]
	for i := range 6 {
		if err := g.spFile(u, 9*3600+g.r.IntN(8*3600), "FileDownloaded", u.site, pool[(i*7+g.day)%len(pool)], ""); err != nil {
			return err
		}
	}
	for i := range 2 {
		att := []attachment{{name: pool[(i*13+g.day*3)%len(pool)], size: fileSize(g.r)}}
		if err := g.send(u, 11*3600+i*14400+g.r.IntN(3600), "as discussed", []string{"t.hale@rivalcorp.net"}, att); err != nil {
			return err
		}
	}
	t := 17*3600 + g.r.IntN(1800)
	for i := range 4 {
		name := pool[(i*5+g.day)%len(pool)]
		f := endpointFile{op: "FilePrinted", path: g.docPath(u, "Documents", name), size: fileSize(g.r), app: "EXCEL.EXE"}
		if err := g.endpoint(u, t+i*60, f); err != nil {
			return err
		}
	}
	return nil
}

// plantUnallowedUpload: one customer list to an anonymous file-drop site.
func (g *gen) plantUnallowedUpload(u *user) error {
	f := endpointFile{op: "FileUploadedToCloud", path: g.docPath(u, "Documents", "Customer-List-FY26.xlsx"), size: fileSize(g.r),
		targetDomain: "gofile.io", targetURL: "https://gofile.io/uploadFiles", app: "chrome.exe"}
	return g.endpoint(u, 15*3600+g.r.IntN(3600), f)
}

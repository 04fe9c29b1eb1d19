// Package event holds the one normalized event model that every feed is parsed into,
// and the per-user profile that HR records maintain. It has no dependencies beyond
// the standard library so that every other package can share it.
package event

import (
	"encoding/json"
	"time"
)

// Feed names, which are also the drop sub-directory names.
const (
	FeedAudit    = "audit"
	FeedHR       = "hr"
	FeedBadging  = "badging"
	FeedDLP      = "dlp"
	FeedDefender = "defender"
)

// Feeds lists every feed in a fixed order.
var Feeds = []string{FeedAudit, FeedHR, FeedBadging, FeedDLP, FeedDefender}

// Label event kinds (from SensitivityLabelEventData.LabelEventType 1, 2, 3, 4).
const (
	LabelUpgraded   = "upgraded"
	LabelDowngraded = "downgraded"
	LabelRemoved    = "removed"
	LabelChanged    = "changed"
)

// HR scenarios.
const (
	HRResignation       = "resignation"
	HRJobLevelChange    = "job_level_change"
	HRPerformanceReview = "performance_review"
	HRImprovementPlan   = "improvement_plan"
)

// Event is one record from any feed, normalized. Fields that do not apply to a feed are
// left empty. JSON names are the documented field names (README "Event model").
type Event struct {
	// ID is stable for the same source record: the record's own Id (audit, DLP, defender
	// AlertId) or a digest of its content for feeds without one (HR, badging).
	ID         string    `json:"id"`
	Feed       string    `json:"feed"`
	Time       time.Time `json:"time"`            // UTC
	User       string    `json:"user"`            // lower-cased UPN of the person the event is about
	Actor      string    `json:"actor,omitempty"` // who acted, when not the user (e.g. the admin in "Delete user.")
	Operation  string    `json:"operation"`
	Workload   string    `json:"workload"`
	RecordType int       `json:"record_type,omitempty"`

	Object         string   `json:"object"`    // ObjectId: URL, path, message id, asset id
	FileName       string   `json:"file_name"` // base name of the file concerned
	FileExt        string   `json:"file_ext"`  // lower-case, without the dot
	Site           string   `json:"site"`      // SharePoint/OneDrive site URL
	URL            string   `json:"url,omitempty"`
	TargetDomain   string   `json:"target_domain"`              // lower-case
	TargetUser     string   `json:"target_user,omitempty"`      // sharing: TargetUserOrGroupName
	TargetUserType string   `json:"target_user_type,omitempty"` // sharing: Member, Guest, Group, Partner
	Recipients     []string `json:"recipients"`                 // lower-cased addresses
	Device         string   `json:"device"`
	ClientIP       string   `json:"client_ip,omitempty"`
	Labels         []string `json:"labels"`
	LabelEvent     string   `json:"label_event"` // upgraded|downgraded|removed|changed
	SensitiveTypes []string `json:"sensitive_types"`
	Severity       string   `json:"severity"`              // low|medium|high (DLP rule, defender alert)
	Status         string   `json:"status"`                // defender: new|inprogress|resolved; badging: success|failed
	Category       string   `json:"category,omitempty"`    // defender alert category, e.g. DefenseEvasion
	Title          string   `json:"title,omitempty"`       // defender alert title
	Policies       []string `json:"policies,omitempty"`    // DLP policy names matched
	Rules          []string `json:"rules,omitempty"`       // DLP rule names matched
	Size           int64    `json:"size"`                  // bytes (file size, or total attachment size)
	Attachments    int      `json:"attachments,omitempty"` // number of email attachments
	Hidden         bool     `json:"hidden,omitempty"`      // endpoint: file is hidden
	Asset          string   `json:"asset,omitempty"`       // badging AssetId
	AssetName      string   `json:"asset_name,omitempty"`  // badging AssetName

	HR *HR `json:"hr,omitempty"`

	// Raw is the source record exactly as received, kept for forensics.
	Raw json.RawMessage `json:"raw"`
}

// HR carries the scenario-specific fields of an HR connector record.
type HR struct {
	Scenario        string    `json:"scenario"` // resignation|job_level_change|performance_review|improvement_plan
	EffectiveDate   time.Time `json:"effective_date"`
	ResignationDate time.Time `json:"resignation_date,omitzero"`
	LastWorkingDate time.Time `json:"last_working_date,omitzero"`
	Remarks         string    `json:"remarks,omitempty"`
	OldLevel        string    `json:"old_level,omitempty"`
	NewLevel        string    `json:"new_level,omitempty"`
	Rating          string    `json:"rating,omitempty"`
	Department      string    `json:"department,omitempty"` // optional column in any HR file
	Manager         string    `json:"manager,omitempty"`    // optional column in any HR file
}

// LevelChange is one job level change from HR.
type LevelChange struct {
	Date     time.Time `json:"date"`
	OldLevel string    `json:"old_level"`
	NewLevel string    `json:"new_level"`
	Remarks  string    `json:"remarks,omitempty"`
}

// Profile is what the appliance knows about a user outside their activity: it is
// maintained from HR records (and account deletion) as they are ingested.
type Profile struct {
	UPN                 string        `json:"upn"`
	Department          string        `json:"department,omitempty"`
	Manager             string        `json:"manager,omitempty"`
	ResignationDate     time.Time     `json:"resignation_date,omitzero"`
	LastWorkingDate     time.Time     `json:"last_working_date,omitzero"`
	AccountDeleted      time.Time     `json:"account_deleted,omitzero"`
	LatestRating        string        `json:"latest_rating,omitempty"`
	LatestReviewDate    time.Time     `json:"latest_review_date,omitzero"`
	LatestReviewRemarks string        `json:"latest_review_remarks,omitempty"`
	ImprovementPlan     time.Time     `json:"improvement_plan,omitzero"` // date of the latest plan
	LevelChanges        []LevelChange `json:"level_changes,omitempty"`
}

// Departing reports whether the user has resigned or had their account deleted.
func (p *Profile) Departing() bool {
	return p != nil && (!p.ResignationDate.IsZero() || !p.LastWorkingDate.IsZero() || !p.AccountDeleted.IsZero())
}

// OnImprovementPlan reports whether the user has ever been put on an improvement plan.
func (p *Profile) OnImprovementPlan() bool { return p != nil && !p.ImprovementPlan.IsZero() }

// Apply folds one HR or account-deletion event into the profile. Later effective dates
// win, so applying the same events in any order gives the same profile.
func (p *Profile) Apply(ev *Event) {
	if p.UPN == "" {
		p.UPN = ev.User
	}
	if ev.Operation == "Delete user." {
		if p.AccountDeleted.IsZero() || ev.Time.Before(p.AccountDeleted) {
			p.AccountDeleted = ev.Time
		}
		return
	}
	h := ev.HR
	if h == nil {
		return
	}
	if h.Department != "" {
		p.Department = h.Department
	}
	if h.Manager != "" {
		p.Manager = h.Manager
	}
	switch h.Scenario {
	case HRResignation:
		if !h.ResignationDate.Before(p.ResignationDate) {
			p.ResignationDate = h.ResignationDate
			p.LastWorkingDate = h.LastWorkingDate
		}
	case HRPerformanceReview:
		if !h.EffectiveDate.Before(p.LatestReviewDate) {
			p.LatestReviewDate = h.EffectiveDate
			p.LatestRating = h.Rating
			p.LatestReviewRemarks = h.Remarks
		}
	case HRImprovementPlan:
		if h.EffectiveDate.After(p.ImprovementPlan) {
			p.ImprovementPlan = h.EffectiveDate
		}
		if h.Rating != "" && !h.EffectiveDate.Before(p.LatestReviewDate) {
			p.LatestReviewDate = h.EffectiveDate
			p.LatestRating = h.Rating
		}
	case HRJobLevelChange:
		lc := LevelChange{Date: h.EffectiveDate, OldLevel: h.OldLevel, NewLevel: h.NewLevel, Remarks: h.Remarks}
		for _, have := range p.LevelChanges {
			if have == lc {
				return
			}
		}
		i := len(p.LevelChanges)
		for i > 0 && p.LevelChanges[i-1].Date.After(lc.Date) {
			i--
		}
		p.LevelChanges = append(p.LevelChanges, LevelChange{})
		copy(p.LevelChanges[i+1:], p.LevelChanges[i:])
		p.LevelChanges[i] = lc
	}
}

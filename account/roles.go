package account

import (
	"fmt"
	"slices"
	"strings"
)

// Role groups, as in Microsoft Purview insider risk management. A user may hold several.
const (
	RoleIRM          = "insider_risk_management" // everything
	RoleAdmin        = "admin"                   // settings, policies, connectors, accounts
	RoleAnalyst      = "analyst"                 // alerts and cases, pseudonymized
	RoleInvestigator = "investigator"            // alerts, cases, raw event content, real names
	RoleAuditor      = "auditor"                 // the audit log, read and export
	// RoleSecurityEngineer writes, tests and backtests custom indicators: rules only,
	// and backtest results always pseudonymised.
	RoleSecurityEngineer = "security_engineer"
)

// Roles lists every role group in the order the UI shows them.
var Roles = []string{RoleIRM, RoleAdmin, RoleAnalyst, RoleInvestigator, RoleAuditor, RoleSecurityEngineer}

// Perm is one thing a role group may do. Every route names the Perm it needs.
type Perm string

const (
	PermSignedIn   Perm = "signed_in"   // any role: the overview, own session
	PermConfigure  Perm = "configure"   // settings and policies
	PermConnectors Perm = "connectors"  // feed health, ledger, failed files
	PermAccounts   Perm = "accounts"    // local accounts and their role groups
	PermAlerts     Perm = "alerts"      // see and triage alerts (and cases)
	PermRawContent Perm = "raw_content" // the raw source record behind an event
	PermRealNames  Perm = "real_names"  // reveal UPNs when pseudonymization is on (audited)
	PermAudit      Perm = "audit"       // view and export the audit log
	PermRules      Perm = "rules"       // the rule workbench: browse, edit, test, backtest and save rule files
)

// matrix is the permission matrix of docs/ui.md (after Purview's role-group table):
// configuration is for admins, alerts for analysts and investigators, raw content and
// real names for investigators, the audit log for auditors, and everything for
// insider_risk_management. Rules (custom indicators) are for admins and for security
// engineers, who see nothing of alerts and only pseudonyms in backtests. Accounts belong with admins because, as in Purview, whoever
// administers the solution assigns its role groups; every such change is audited.
var matrix = map[string][]Perm{
	RoleIRM:              {PermSignedIn, PermConfigure, PermConnectors, PermAccounts, PermAlerts, PermRawContent, PermRealNames, PermAudit, PermRules},
	RoleAdmin:            {PermSignedIn, PermConfigure, PermConnectors, PermAccounts, PermRules},
	RoleAnalyst:          {PermSignedIn, PermAlerts},
	RoleInvestigator:     {PermSignedIn, PermAlerts, PermRawContent, PermRealNames},
	RoleAuditor:          {PermSignedIn, PermAudit},
	RoleSecurityEngineer: {PermSignedIn, PermRules},
}

// AllPerms lists the permissions in matrix column order (for docs and the users page).
var AllPerms = []Perm{PermConfigure, PermConnectors, PermAccounts, PermAlerts, PermRawContent, PermRealNames, PermAudit, PermRules}

// Can reports whether any of roles grants p.
func Can(roles []string, p Perm) bool {
	for _, r := range roles {
		if slices.Contains(matrix[r], p) {
			return true
		}
	}
	return false
}

// ParseRoles parses a comma-separated role list ("admin,auditor"), rejecting unknown
// names and returning them in canonical order without duplicates.
func ParseRoles(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if _, ok := matrix[r]; !ok {
			return nil, fmt.Errorf("unknown role %q (roles: %s)", r, strings.Join(Roles, ", "))
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one role is needed (roles: %s)", strings.Join(Roles, ", "))
	}
	return CanonicalRoles(out), nil
}

// CanonicalRoles returns roles de-duplicated in the order of Roles, dropping unknown ones.
func CanonicalRoles(roles []string) []string {
	var out []string
	for _, r := range Roles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out
}

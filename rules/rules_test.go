package rules_test

import (
	"testing"

	"irm/dsl"
	"irm/rules"
)

// TestCatalog compiles the built-in catalog and runs every [[test]] in it, so that
// `go test ./rules` fails when a rule file breaks or a rule test fails.
func TestCatalog(t *testing.T) {
	rs, err := dsl.Load(rules.FS, "", dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatalf("built-in rules do not compile:\n%v", err)
	}
	results := rs.RunTests()
	failed := 0
	for _, r := range results {
		if !r.Pass {
			failed++
			t.Error(r.String())
		}
	}
	t.Logf("%d passed, %d failed", len(results)-failed, failed)
}

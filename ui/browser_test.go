package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"irm/account"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; CI installs it (test.sh). A missing browser fails
// the browser tests: skipping them would let the UI go untested in a real browser.
const chromiumPath = "/usr/bin/chromium"

// browser is one headless chromium with a fresh profile, driving a tab.
type browser struct {
	t   *testing.T
	ctx context.Context
	env *testEnv
	dir string // where failure screenshots go
}

func newBrowser(t *testing.T, env *testEnv) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("browser tests need %s (apt-get install chromium): %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
		chromedp.WSURLReadTimeout(90*time.Second),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser without a deadline
		t.Fatalf("start chromium: %v", err)
	}
	dir := os.Getenv("IRM_ARTIFACT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "irm-ui-artifacts")
	}
	return &browser{t: t, ctx: ctx, env: env, dir: dir}
}

// do runs one named step with a deadline; on failure it saves a screenshot of the tab
// and fails the test with the screenshot's path.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	for i, a := range actions {
		if err := chromedp.Do(ctx, a); err != nil {
			b.fail(step, fmt.Errorf("action %d of %d: %w", i+1, len(actions), err))
		}
	}
}

func (b *browser) fail(step string, err error) {
	b.t.Helper()
	path := b.screenshot(step)
	b.t.Fatalf("browser step %q: %v\nscreenshot: %s", step, err, path)
}

func (b *browser) screenshot(step string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name() + "-" + step)
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	return path
}

func (b *browser) text(step, sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		b.fail(step, err)
	}
	return s
}

// waitText waits until the element's text satisfies ok. htmx swaps the results in
// place, so the old results stay readable for a moment, and a read can race the swap
// ("no node with given id"); such reads are retried.
func (b *browser) waitText(step, sel, want string, ok func(string) bool) string {
	b.t.Helper()
	var got string
	var err error
	for range 150 {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		got, err = chromedp.Run(ctx, chromedp.Text(sel))
		cancel()
		if err == nil && ok(got) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		b.fail(step, err)
	}
	b.fail(step, &textError{sel: sel, want: want, got: got})
	return ""
}

type textError struct{ sel, want, got string }

func (e *textError) Error() string {
	return e.sel + " never contained " + e.want + "; last text: " + e.got
}

func (b *browser) signIn(name string) {
	b.t.Helper()
	b.do("sign in as "+name,
		chromedp.Navigate(b.env.ts.URL+"/login"),
		chromedp.WaitVisible("#signin"),
		chromedp.SendKeys("#name", name),
		chromedp.SendKeys("#password", testPassword(name)),
		chromedp.Click("#signin"),
		chromedp.WaitVisible(`[data-testid="whoami"]`),
	)
	if who := b.text("whoami", `[data-testid="whoami"]`); who != name {
		b.fail("whoami", &textError{sel: "whoami", want: name, got: who})
	}
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do("sign out", chromedp.Click(`[data-testid="logout"]`), chromedp.WaitVisible("#signin"))
}

// TestBrowserRolesWizardSettingsAudit drives a real chromium: every role signs in and
// sees only its own pages; an admin creates a policy through the wizard and changes a
// setting; an auditor finds both in the audit log.
func TestBrowserRolesWizardSettingsAudit(t *testing.T) {
	env := newTestEnv(t)
	b := newBrowser(t, env)

	navWant := map[string][]string{
		account.RoleIRM:              {"Overview", "Alerts", "Policies", "Settings", "Connectors", "Accounts", "Rules", "Audit log"},
		account.RoleAdmin:            {"Overview", "Policies", "Settings", "Connectors", "Accounts", "Rules"},
		account.RoleAnalyst:          {"Overview", "Alerts"},
		account.RoleInvestigator:     {"Overview", "Alerts"},
		account.RoleAuditor:          {"Overview", "Audit log"},
		account.RoleSecurityEngineer: {"Overview", "Rules"},
	}
	for _, role := range account.Roles {
		b.signIn(role)
		nav := b.text("nav of "+role, `[data-testid="nav"]`)
		for _, label := range []string{"Overview", "Alerts", "Policies", "Settings", "Connectors", "Accounts", "Rules", "Audit log"} {
			want := strings.Contains(strings.Join(navWant[role], "|"), label)
			if strings.Contains(nav, label) != want {
				t.Errorf("%s: nav %q: shows %s = %v, want %v", role, nav, label, !want, want)
			}
		}
		b.signOut()
	}

	// The wizard, one step per page, plain form posts.
	b.signIn(account.RoleAdmin)
	b.do("wizard: template",
		chromedp.Navigate(env.ts.URL+"/policies/new"),
		chromedp.Click("#template-data_theft_departing"),
		chromedp.Click("#wizard-next"),
		chromedp.WaitVisible("#policy-name"),
	)
	b.do("wizard: name",
		chromedp.SendKeys("#policy-name", "Browser policy"),
		chromedp.SendKeys("#policy-description", "made in chromium"),
		chromedp.Click("#wizard-next"),
		chromedp.WaitVisible(`input[name="users_mode"]`),
	)
	b.do("wizard: users", chromedp.Click("#wizard-next"), chromedp.WaitVisible(`input[name="content_mode"]`))
	b.do("wizard: content", chromedp.Click("#wizard-next"), chromedp.WaitVisible("#use-template"))
	b.do("wizard: indicators", chromedp.Click("#wizard-next"), chromedp.WaitVisible(`input[name="thresholds_mode"]`))
	b.do("wizard: thresholds", chromedp.Click("#wizard-next"), chromedp.WaitVisible(`[data-testid="review"]`))
	if review := b.text("review", `[data-testid="review"]`); !strings.Contains(review, "Browser policy") || !strings.Contains(review, "data_theft_departing") {
		t.Errorf("review page: %q", review)
	}
	b.do("wizard: create", chromedp.Click("#wizard-create"), chromedp.WaitVisible(`[data-testid="flash"]`))
	p, ok := env.eng.Policy("Browser policy")
	if !ok || p.Template != "data_theft_departing" || p.Description != "made in chromium" || !p.Enabled {
		t.Fatalf("policy after wizard: %+v, %v", p, ok)
	}

	// A setting.
	b.do("settings",
		chromedp.Navigate(env.ts.URL+"/settings"),
		chromedp.WaitVisible("#activation_window_days"),
		chromedp.SetValue("#activation_window_days", "14"),
		chromedp.Click("#save-settings"),
		chromedp.WaitVisible(`[data-testid="flash"]`),
	)
	if got := env.eng.Settings().ActivationWindowDays; got != 14 {
		t.Fatalf("activation window after save: %d, want 14", got)
	}
	b.signOut()

	// The auditor finds both, with the filters.
	b.signIn(account.RoleAuditor)
	b.do("audit: policies", chromedp.Navigate(env.ts.URL+"/audit"), chromedp.WaitVisible("#f-category"),
		chromedp.SetValue("#f-category", "policies"), chromedp.Click("#f-apply"))
	// Filtered to one category, the sign-ins of this test disappear from the table.
	onlyPolicies := func(s string) bool { return strings.Contains(s, "Browser policy") && !strings.Contains(s, "Signed in") }
	rows := b.waitText("audit: policy entry", `[data-testid="audit"]`, "the policy and no sign-ins", onlyPolicies)
	if !strings.Contains(rows, "admin\tpolicies") {
		t.Errorf("policy entry does not name the admin: %q", rows)
	}
	b.do("audit: settings", chromedp.SetValue("#f-category", "settings"), chromedp.Click("#f-apply"))
	onlySettings := func(s string) bool {
		return strings.Contains(s, "\tsettings\t") && !strings.Contains(s, "Browser policy")
	}
	rows = b.waitText("audit: settings entry", `[data-testid="audit"]`, "a settings entry only", onlySettings)
	if !strings.Contains(rows, "admin\tsettings") {
		t.Errorf("settings entry does not name the admin: %q", rows)
	}
	// Text search across categories finds the policy by its description (in the after-image).
	b.do("audit: text", chromedp.SetValue("#f-category", ""), chromedp.SetValue("#f-text", "made in chromium"), chromedp.Click("#f-apply"))
	b.waitText("audit: text search", `[data-testid="audit"]`, "only the policy", func(s string) bool {
		return strings.Contains(s, "Browser policy") && !strings.Contains(s, "Signed in")
	})
	b.signOut()
}

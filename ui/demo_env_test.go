package ui

import (
	"context"
	"testing"

	"irm/demo"
	"irm/engine"
	"irm/ingest"
)

// newDemoEnv is a test UI over the demo organisation (realistic background, its
// smallest size), ingested from drop files through the real parsers, store and engine,
// with the demo's settings and the default policies.
func newDemoEnv(t *testing.T) (*testEnv, demo.Manifest) {
	t.Helper()
	env := newTestEnv(t)
	dir := t.TempDir()
	m, err := demo.Generate(demo.Options{Users: demo.MinRealisticUsers, Days: demo.MinRealisticDays, Seed: 1, OrgDomain: "contoso.com"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	rs := env.srv.rules.Current()
	st, err := engine.ParseSettings("demo settings", []byte(m.SettingsTOML()), rs)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.eng.UpdateSettings("test", st); err != nil {
		t.Fatal(err)
	}
	if _, err := env.eng.ImportPolicies("test", "default policies", engine.DefaultPolicies); err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(env.db, ingest.Options{DropDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	in.OnCommit(env.eng.Process)
	if _, err := in.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := env.eng.Flush(); err != nil {
		t.Fatal(err)
	}
	return env, m
}

package ui

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"irm/account"
	"irm/engine"
)

// Analytics (/analytics): what each policy template would look at in the last days,
// before any policy exists; aggregates only (engine.Analytics). The report is computed
// daily by serve and on demand here.

func (s *server) latestAnalytics() (engine.AnalyticsReport, error) {
	rep, ok, err := s.eng.LatestAnalytics()
	if err != nil || ok {
		return rep, err
	}
	return s.eng.RefreshAnalytics(s.now())
}

func (s *server) showAnalytics(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	rep, err := s.latestAnalytics()
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	s.render(w, r, http.StatusOK, analyticsPage(s.page(r, c, "Analytics"), rep))
}

func (s *server) refreshAnalytics(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if _, err := s.eng.RefreshAnalytics(s.now()); err != nil {
		s.serverError(w, r, c, err)
		return
	}
	s.redirectFlash(w, r, c, "/analytics", "Analytics computed now")
}

func (a *api) analytics() {
	s := a.s
	tags := []string{"analytics"}
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "getAnalytics", Method: "GET", Path: "/api/v1/analytics", Tags: tags,
		Summary: "The latest analytics report", Description: "Per policy template, the users (counts only, none below the minimum group) whose activity of the last 10 days it would score, the top indicators and sequences, and the recommended template. Computed daily; POST computes it now."},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[engine.AnalyticsReport], error) {
			rep, err := s.latestAnalytics()
			if err != nil {
				return nil, err
			}
			return reply(rep)
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "computeAnalytics", Method: "POST", Path: "/api/v1/analytics", Tags: tags,
		Summary: "Compute the analytics now"},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[engine.AnalyticsReport], error) {
			rep, err := s.eng.RefreshAnalytics(s.now())
			if err != nil {
				return nil, err
			}
			return reply(rep)
		})
}

func percent(f float64) string {
	return itoa(int(f*100+0.5)) + " %"
}

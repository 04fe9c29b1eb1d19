package ui

import (
	"net/http"
	"sort"
	"time"

	"irm/engine"
	"irm/event"
	"irm/store"
)

// feedHealth is one feed's row on the connectors page and the overview.
type feedHealth struct {
	store.FeedStat
	Status string // ok|warn|bad|none
	Note   string
	Files  []store.FileRecord // newest first
}

// silentAfter is how long a feed may stay without a new file before the page warns;
// HR is daily at best, so it gets the week that policy health also uses.
func silentAfter(feed string) time.Duration {
	if feed == event.FeedHR {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

func (s *server) feedHealth(filesPerFeed int) ([]feedHealth, error) {
	stats, err := s.db.FeedStats()
	if err != nil {
		return nil, err
	}
	var out []feedHealth
	for _, st := range stats {
		h := feedHealth{FeedStat: st, Status: "ok"}
		switch {
		case st.Files == 0:
			h.Status, h.Note = "none", "no files yet"
		case st.FailedFiles > 0:
			h.Status, h.Note = "bad", "some files failed"
		case st.Rejected > 0:
			h.Status, h.Note = "warn", "some records rejected"
		case s.now().Sub(st.LastFile) > silentAfter(st.Feed):
			h.Status, h.Note = "warn", "no new file for "+engine.DurationWords(silentAfter(st.Feed))
		}
		if filesPerFeed > 0 {
			h.Files, err = s.db.LedgerList(st.Feed, filesPerFeed)
			if err != nil {
				return nil, err
			}
		}
		out = append(out, h)
	}
	// Known feeds first in their fixed order, then any others by name.
	rank := func(f string) int {
		for i, k := range event.Feeds {
			if k == f {
				return i
			}
		}
		return len(event.Feeds)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank(out[i].Feed), rank(out[j].Feed)
		if ri != rj {
			return ri < rj
		}
		return out[i].Feed < out[j].Feed
	})
	return out, nil
}

func (s *server) showConnectors(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	feeds, err := s.feedHealth(25)
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	dropDir := ""
	if s.cfg != nil {
		dropDir = s.cfg.Drop.Dir
	}
	s.render(w, r, http.StatusOK, connectorsPage(s.page(r, c, "Connectors"), feeds, dropDir))
}

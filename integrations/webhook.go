package integrations

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"irm/store"
)

// Webhooks. Each event a webhook subscribes to becomes one delivery: the JSON body is
// fixed when the event is dispatched, and every attempt POSTs it with
//
//	X-Irm-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// so the receiver can check that the body came from this appliance and is fresh. A
// delivery that does not get a 2xx answer is retried after [webhooks] retry_first_ms,
// doubling (with jitter) up to retry_max_minutes between tries, until give_up_hours
// after its event. Deliveries are records in the database: a restart resumes them.

// Webhook is a receiver of events. Its secret is never shown after creation, never
// audited and never exported.
type Webhook struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Events    []string  `json:"events" doc:"Event types sent; empty for all."`
	RealNames bool      `json:"real_names" doc:"Send UPNs even when the settings pseudonymise users."`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

type hookRecord struct {
	Webhook
	Secret string `json:"secret"`
}

func (h *hookRecord) wants(typ string) bool {
	return typ == Ping || len(h.Events) == 0 || slices.Contains(h.Events, typ)
}

// Delivery states.
const (
	Pending   = "pending"
	Delivered = "delivered"
	Failed    = "failed"
)

// Delivery is one event on its way to one webhook: the delivery log.
type Delivery struct {
	Key         string          `json:"key" doc:"The delivery's id: webhook id and event id."`
	Webhook     string          `json:"webhook"`
	EventID     string          `json:"event_id"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject" doc:"The alert or case id."`
	Created     time.Time       `json:"created"`
	State       string          `json:"state" enum:"pending,delivered,failed"`
	Attempts    int             `json:"attempts"`
	NextAt      time.Time       `json:"next_at,omitzero"`
	LastAt      time.Time       `json:"last_at,omitzero"`
	LastStatus  int             `json:"last_status,omitempty" doc:"HTTP status of the last attempt (0: no answer)."`
	LastError   string          `json:"last_error,omitempty"`
	DeliveredAt time.Time       `json:"delivered_at,omitzero"`
	Payload     json.RawMessage `json:"payload,omitempty" doc:"The JSON body sent (in the delivery log)."`
}

// deliveryDoc is how a delivery is stored: with its body.
type deliveryDoc struct {
	Delivery
	Body json.RawMessage `json:"body"`
}

func hookKey(id string) string { return store.OutboxWebhooks + id }

func (s *Service) hooks() ([]hookRecord, error) {
	var out []hookRecord
	err := s.db.OutboxDocs(store.OutboxWebhooks, func(_ string, val []byte) error {
		var h hookRecord
		if err := json.Unmarshal(val, &h); err != nil {
			return fmt.Errorf("webhook record: %w", err)
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

// Webhooks lists the webhooks by name, without secrets.
func (s *Service) Webhooks() ([]Webhook, error) {
	hs, err := s.hooks()
	if err != nil {
		return nil, err
	}
	out := make([]Webhook, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.Webhook)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Webhook returns one webhook, without its secret.
func (s *Service) Webhook(id string) (Webhook, bool, error) {
	h, ok, err := s.hook(id)
	return h.Webhook, ok, err
}

func (s *Service) hook(id string) (hookRecord, bool, error) {
	var h hookRecord
	if id == "" || strings.ContainsAny(id, "/") {
		return h, false, nil
	}
	val, ok, err := s.db.OutboxDoc(hookKey(id))
	if err != nil || !ok {
		return h, false, err
	}
	return h, true, json.Unmarshal(val, &h)
}

// WebhookSpec is what a new webhook is made of.
type WebhookSpec struct {
	Name      string
	URL       string
	Events    []string
	RealNames bool
	// Secret signs the deliveries; "" makes a random one (returned once).
	Secret string
}

// redactURL is a webhook's URL as the audit log records it: the host, not the path or
// query, which for many chat services is itself the secret.
func redactURL(u *url.URL) string {
	r := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		r += "/…"
	}
	return r
}

// CreateWebhook validates, stores and audits a webhook and returns it with its secret.
func (s *Service) CreateWebhook(actor string, spec WebhookSpec) (Webhook, string, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	if spec.Name == "" || len(spec.Name) > 64 {
		return Webhook{}, "", errors.New("webhook: a name of 1 to 64 characters is required")
	}
	u, err := url.Parse(strings.TrimSpace(spec.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(spec.URL) > 2048 {
		return Webhook{}, "", fmt.Errorf("webhook %s: url %q must be an http:// or https:// URL with a host and no user:password (at most 2048 bytes)", spec.Name, spec.URL)
	}
	var events []string
	for _, e := range spec.Events {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if !slices.Contains(EventTypes, e) {
			return Webhook{}, "", fmt.Errorf("webhook %s: event %q is not one of %s", spec.Name, e, strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	if events == nil {
		events = []string{}
	}
	secret := spec.Secret
	if secret == "" {
		b := make([]byte, 32)
		rand.Read(b)
		secret = "whsec_" + hex.EncodeToString(b)
	} else if len(secret) < 16 || len(secret) > 256 {
		return Webhook{}, "", fmt.Errorf("webhook %s: a secret must have 16 to 256 characters", spec.Name)
	}
	id := make([]byte, 6)
	rand.Read(id)
	h := hookRecord{Webhook: Webhook{ID: "W" + strings.ToUpper(hex.EncodeToString(id)), Name: spec.Name, URL: u.String(), Events: events,
		RealNames: spec.RealNames, Created: s.now().UTC(), CreatedBy: actor}, Secret: secret}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing, err := s.hooks()
	if err != nil {
		return Webhook{}, "", err
	}
	for _, o := range existing {
		if strings.EqualFold(o.Name, h.Name) {
			return Webhook{}, "", fmt.Errorf("webhook %s: the name is taken", h.Name)
		}
	}
	val, err := json.Marshal(h)
	if err != nil {
		return Webhook{}, "", err
	}
	if err := s.db.PutOutbox([]store.Doc{{Key: hookKey(h.ID), Value: val}}); err != nil {
		return Webhook{}, "", err
	}
	shown := map[string]any{"id": h.ID, "name": h.Name, "url": redactURL(u), "events": h.Events, "real_names": h.RealNames}
	details := "sends " + cmpOr(strings.Join(events, ", "), "every event")
	if h.RealNames {
		details += "; with real user names"
	}
	if err := s.audit(actor, "Added webhook", h.Name, nil, shown, details); err != nil {
		return Webhook{}, "", err
	}
	return h.Webhook, secret, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// DeleteWebhook removes a webhook and its deliveries, and audits it.
func (s *Service) DeleteWebhook(actor, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok, err := s.hook(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	docs := []store.Doc{{Key: hookKey(id)}}
	if err := s.db.OutboxKeys(store.OutboxDeliveries+id+"/", func(k string) error {
		docs = append(docs, store.Doc{Key: k})
		return nil
	}); err != nil {
		return err
	}
	if err := s.db.PutOutbox(docs); err != nil {
		return err
	}
	u, _ := url.Parse(h.URL)
	return s.audit(actor, "Removed webhook", h.Name, map[string]any{"id": h.ID, "name": h.Name, "url": redactURL(u), "events": h.Events}, nil, "")
}

// Ping queues a ping event to the webhook, to try it out.
func (s *Service) Ping(actor, id string) (Delivery, error) {
	h, ok, err := s.hook(id)
	if err != nil {
		return Delivery{}, err
	}
	if !ok {
		return Delivery{}, fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	now := s.now().UTC()
	ev := Event{ID: "ping-" + strconv.FormatInt(now.UnixNano(), 36), Type: Ping, Time: now, Actor: actor}
	doc, err := s.newDelivery(h, ev)
	if err != nil {
		return Delivery{}, err
	}
	if err := s.db.PutOutbox([]store.Doc{doc}); err != nil {
		return Delivery{}, err
	}
	s.poke()
	var d deliveryDoc
	json.Unmarshal(doc.Value, &d)
	return d.Delivery, nil
}

func (s *Service) newDelivery(h hookRecord, ev Event) (store.Doc, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return store.Doc{}, err
	}
	subject := ""
	if ev.Alert != nil {
		subject = ev.Alert.ID
	} else if ev.Case != nil {
		subject = ev.Case.ID
	}
	now := s.now().UTC()
	d := deliveryDoc{Delivery: Delivery{Key: h.ID + "/" + ev.ID, Webhook: h.ID, EventID: ev.ID, Type: ev.Type, Subject: subject,
		Created: now, State: Pending, NextAt: now}, Body: body}
	val, err := json.Marshal(d)
	if err != nil {
		return store.Doc{}, err
	}
	return store.Doc{Key: deliveryKey(h.ID, ev.ID), Value: val}, nil
}

// deliveryKey orders a webhook's deliveries by event: audit sequence numbers are
// zero-padded so that key order is event order.
func deliveryKey(hook, eventID string) string {
	if rest, ok := strings.CutPrefix(eventID, "evt-"); ok {
		seq, sub, _ := strings.Cut(rest, "-")
		if n, err := strconv.ParseUint(seq, 10, 64); err == nil {
			eventID = fmt.Sprintf("evt-%020d", n)
			if sub != "" {
				eventID += "-" + sub
			}
		}
	}
	return store.OutboxDeliveries + hook + "/" + eventID
}

// Deliveries returns the webhook's delivery log, newest first (at most limit).
func (s *Service) Deliveries(id string, limit int) ([]Delivery, error) {
	var all []Delivery
	err := s.db.OutboxDocs(store.OutboxDeliveries+id+"/", func(_ string, val []byte) error {
		var d deliveryDoc
		if err := json.Unmarshal(val, &d); err != nil {
			return err
		}
		d.Delivery.Payload = d.Body
		all = append(all, d.Delivery)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	if all == nil {
		all = []Delivery{}
	}
	return all, nil
}

// Sign returns the X-Irm-Signature value of body sent at t under secret.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks an X-Irm-Signature header against body and secret, refusing
// signatures older than tolerance (a replay). Receivers written in Go can use it; the
// algorithm is in docs/api.md for others.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("signature: want t=<unix seconds>,v1=<hex>")
	}
	if d := now.Sub(time.Unix(n, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature: timestamp %s is more than %s away", time.Unix(n, 0).UTC().Format(time.RFC3339), tolerance)
	}
	want := Sign(secret, time.Unix(n, 0), body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, sig := range sigs {
		if hmac.Equal([]byte(sig), []byte(wantSig)) {
			return nil
		}
	}
	return errors.New("signature: no v1 signature matches")
}

// keepDone is how many finished deliveries per webhook the log keeps.
const keepDone = 200

// deliverLoop tries the due deliveries every Poll (or at once when woken).
func (s *Service) deliverLoop(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		if err := s.deliverDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("integrations: webhook deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// deliverDue makes one attempt at every delivery that is due, oldest first, and keeps
// the delivery log bounded.
func (s *Service) deliverDue(ctx context.Context) error {
	hooks := map[string]hookRecord{}
	hs, err := s.hooks()
	if err != nil {
		return err
	}
	for _, h := range hs {
		hooks[h.ID] = h
	}
	now := s.now()
	var due []deliveryDoc
	done := map[string][]string{} // webhook -> keys of finished deliveries, in key order
	pending := int64(0)
	err = s.db.OutboxDocs(store.OutboxDeliveries, func(key string, val []byte) error {
		var d deliveryDoc
		if err := json.Unmarshal(val, &d); err != nil {
			return fmt.Errorf("delivery %s: %w", key, err)
		}
		if d.State != Pending {
			done[d.Webhook] = append(done[d.Webhook], key)
			return nil
		}
		pending++
		if !d.NextAt.After(now) {
			due = append(due, d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.whPending.Store(pending)
	sort.SliceStable(due, func(i, j int) bool { return due[i].Created.Before(due[j].Created) })
	for _, d := range due {
		if ctx.Err() != nil {
			return nil
		}
		h, ok := hooks[d.Webhook]
		if !ok {
			continue // deleted with its deliveries
		}
		s.attempt(ctx, h, &d)
		val, err := json.Marshal(d)
		if err != nil {
			return err
		}
		s.mu.Lock()
		// A webhook deleted meanwhile takes its deliveries with it.
		_, still, _ := s.hook(h.ID)
		if still {
			err = s.db.PutOutbox([]store.Doc{{Key: deliveryKey(d.Webhook, d.EventID), Value: val}})
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if d.State != Pending {
			s.whPending.Add(-1)
		}
	}
	var prune []store.Doc
	for _, keys := range done {
		for _, k := range keys[:max(0, len(keys)-keepDone)] {
			prune = append(prune, store.Doc{Key: k})
		}
	}
	return s.db.PutOutbox(prune)
}

// attempt POSTs the delivery once and records the outcome in d.
func (s *Service) attempt(ctx context.Context, h hookRecord, d *deliveryDoc) {
	now := s.now()
	d.Attempts++
	d.LastAt = now.UTC()
	d.LastStatus, d.LastError = 0, ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(d.Body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "irm-webhook/"+s.ver)
		req.Header.Set("X-Irm-Event", d.Type)
		req.Header.Set("X-Irm-Delivery", d.Key)
		req.Header.Set("X-Irm-Signature", Sign(h.Secret, now, d.Body))
		var resp *http.Response
		if resp, err = s.hc.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			d.LastStatus = resp.StatusCode
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				d.State, d.DeliveredAt, d.NextAt = Delivered, now.UTC(), time.Time{}
				s.whDelivered.Add(1)
				return
			}
			err = fmt.Errorf("answered %s", resp.Status)
		}
	}
	if ctx.Err() != nil {
		// Stopping: the attempt did not really happen; the next start makes it again.
		d.Attempts--
		d.LastError = "interrupted by shutdown"
		return
	}
	s.whFailures.Add(1)
	d.LastError = err.Error()
	if len(d.LastError) > 500 {
		d.LastError = d.LastError[:500]
	}
	w := s.cfg.Webhooks
	if now.Sub(d.Created) >= time.Duration(w.GiveUpHours)*time.Hour {
		d.State, d.NextAt = Failed, time.Time{}
		s.whGaveUp.Add(1)
		s.log.Warn("integrations: webhook delivery given up", "webhook", h.Name, "event", d.EventID, "attempts", d.Attempts, "err", d.LastError)
		return
	}
	delay := time.Duration(w.RetryFirstMS) * time.Millisecond
	for i := 1; i < d.Attempts && delay < time.Duration(w.RetryMaxMinutes)*time.Minute; i++ {
		delay *= 2
	}
	delay = min(delay, time.Duration(w.RetryMaxMinutes)*time.Minute)
	d.NextAt = now.Add(s.jit(delay)).UTC()
}

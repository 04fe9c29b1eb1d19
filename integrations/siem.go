package integrations

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"irm/config"
	"irm/store"
)

// The SIEM export: every alert event becomes one CEF line (ArcSight Common Event
// Format) in an RFC 5424 syslog message, sent over TCP or TLS with octet-counting
// framing (RFC 6587 3.4.1, RFC 5425) or over UDP one message per datagram (RFC 5426).
// Messages wait in a queue in the database (siemq/), written in the dispatcher's batch,
// so a SIEM that is down or slow never holds up anything; the queue is bounded by
// [siem] queue_max, beyond which the oldest messages are dropped and counted. The
// sender reconnects with backoff (1 s doubling to 1 min).

type siem struct {
	s        *Service
	network  string // tcp, tls or udp
	addr     string
	tls      *tls.Config
	facility int
	host     string
	max      int64

	mu       sync.Mutex // serialises queue changes (dispatcher: add and drop; sender: remove)
	depth    atomic.Int64
	sent     atomic.Int64
	failures atomic.Int64
	dropped  atomic.Int64
	wake     chan struct{}

	// Backoff bounds between reconnection attempts (tests shorten them).
	minBackoff, maxBackoff time.Duration
}

func newSIEM(s *Service, c config.SIEM) (*siem, error) {
	network, addr, err := config.SIEMAddr(c.Address)
	if err != nil {
		return nil, fmt.Errorf("siem.address: %w", err)
	}
	sm := &siem{s: s, network: network, addr: addr, facility: config.Facilities[strings.ToLower(c.Facility)], max: int64(c.QueueMax),
		wake: make(chan struct{}, 1), minBackoff: time.Second, maxBackoff: time.Minute}
	sm.host, _ = os.Hostname()
	if sm.host == "" {
		sm.host = "-"
	}
	if network == "tls" {
		host, _, _ := net.SplitHostPort(addr)
		sm.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("siem.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("siem.ca_file %s: no PEM certificate in it", c.CAFile)
			}
			sm.tls.RootCAs = pool
		}
	}
	n := int64(0)
	if err := s.db.OutboxKeys(store.OutboxSIEM, func(string) error { n++; return nil }); err != nil {
		return nil, err
	}
	sm.depth.Store(n)
	return sm, nil
}

// cefSeverity maps an alert's severity to CEF's 0-10.
func cefSeverity(sev string) int {
	switch sev {
	case "high":
		return 9
	case "medium":
		return 6
	case "low":
		return 3
	}
	return 1
}

// syslogSeverity maps an alert's severity to syslog's (RFC 5424 6.2.1).
func syslogSeverity(sev string) int {
	switch sev {
	case "high":
		return 2 // critical
	case "medium":
		return 4 // warning
	case "low":
		return 5 // notice
	}
	return 6 // informational
}

var (
	cefHeader = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r", " ", "\n", " ")
	cefValue  = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r", `\r`, "\n", `\n`)
)

// CEF is the CEF line of an alert event.
func CEF(version string, ev Event) string {
	a := ev.Alert
	if a == nil {
		a = &AlertInfo{}
	}
	name := map[string]string{AlertCreated: "Alert created", AlertSeverityRaised: "Alert severity raised", AlertStatusChanged: "Alert status changed"}[ev.Type]
	if name == "" {
		name = ev.Type
	}
	name += ": " + a.Title
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|irm|irm|%s|%s|%s|%d|", cefHeader.Replace(version), cefHeader.Replace(ev.Type), cefHeader.Replace(name), cefSeverity(a.Severity))
	ext := [][2]string{
		{"rt", strconv.FormatInt(ev.Time.UnixMilli(), 10)},
		{"externalId", a.ID},
		{"suser", a.User},
		{"act", ev.Type},
		{"cs1Label", "policy"}, {"cs1", a.Policy},
		{"cs2Label", "template"}, {"cs2", a.Template},
		{"cs3Label", "status"}, {"cs3", a.Status},
		{"cs4Label", "riskFactors"}, {"cs4", strings.Join(a.RiskFactors, ",")},
		{"cs5Label", "eventId"}, {"cs5", ev.ID},
		{"cn1Label", "score"}, {"cn1", strconv.Itoa(a.Score)},
		{"suid", ev.Actor},
	}
	if ev.Change != nil {
		ext = append(ext, [2]string{"cs6Label", "change"}, [2]string{"cs6", ev.Change.From + "->" + ev.Change.To})
	}
	if a.URL != "" {
		ext = append(ext, [2]string{"request", a.URL})
	}
	ext = append(ext, [2]string{"msg", a.Title})
	first := true
	for _, kv := range ext {
		if kv[1] == "" {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(cefValue.Replace(kv[1]))
	}
	return b.String()
}

// message is the RFC 5424 syslog message carrying the event's CEF line.
func (sm *siem) message(ev Event) string {
	sev := ""
	if ev.Alert != nil {
		sev = ev.Alert.Severity
	}
	pri := sm.facility*8 + syslogSeverity(sev)
	msgid := strings.ReplaceAll(ev.Type, ".", "_")
	return fmt.Sprintf("<%d>1 %s %s irm - %s - %s", pri, ev.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), sm.host, msgid, CEF(sm.s.ver, ev))
}

func siemKey(seq uint64, n int) string { return fmt.Sprintf("%s%020d-%04d", store.OutboxSIEM, seq, n) }

// enqueue writes docs and the lines of the audit entries up to seq in one batch,
// dropping the oldest waiting lines beyond the bound.
func (sm *siem) enqueue(docs []store.Doc, lines []string, seq uint64) error {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	for i, l := range lines {
		docs = append(docs, store.Doc{Key: siemKey(seq, i), Value: []byte(l)})
	}
	over := sm.depth.Load() + int64(len(lines)) - sm.max
	dropped := int64(0)
	if over > 0 {
		// The newest lines win: drop the oldest waiting ones, then (if the batch alone
		// is over the bound) the batch's oldest.
		err := sm.s.db.OutboxKeys(store.OutboxSIEM, func(k string) error {
			if dropped == over {
				return store.ErrStop
			}
			docs = append(docs, store.Doc{Key: k})
			dropped++
			return nil
		})
		if err != nil {
			return err
		}
		for i := 0; dropped < over && i < len(lines); i++ {
			for j := range docs {
				if docs[j].Key == siemKey(seq, i) {
					docs[j].Value = nil
				}
			}
			dropped++
		}
	}
	if err := sm.s.db.PutOutbox(docs); err != nil {
		return err
	}
	sm.depth.Add(int64(len(lines)) - dropped)
	if dropped > 0 {
		sm.dropped.Add(dropped)
		sm.s.log.Warn("integrations: SIEM queue full; oldest lines dropped", "dropped", dropped, "queue_max", sm.max)
	}
	if len(lines) > 0 {
		select {
		case sm.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// oldest returns the first waiting message.
func (sm *siem) oldest() (string, string, bool, error) {
	var key, msg string
	err := sm.s.db.OutboxDocs(store.OutboxSIEM, func(k string, v []byte) error {
		key, msg = k, string(v)
		return store.ErrStop
	})
	return key, msg, key != "", err
}

func (sm *siem) remove(key string) error {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if _, ok, err := sm.s.db.OutboxDoc(key); err != nil || !ok {
		return err // dropped meanwhile: already counted out
	}
	if err := sm.s.db.PutOutbox([]store.Doc{{Key: key}}); err != nil {
		return err
	}
	sm.depth.Add(-1)
	return nil
}

func (sm *siem) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	switch sm.network {
	case "tls":
		return (&tls.Dialer{NetDialer: d, Config: sm.tls}).DialContext(ctx, "tcp", sm.addr)
	case "udp":
		return d.DialContext(ctx, "udp", sm.addr)
	}
	return d.DialContext(ctx, "tcp", sm.addr)
}

// frame is the message as written on the connection.
func (sm *siem) frame(msg string) []byte {
	if sm.network == "udp" {
		return []byte(msg)
	}
	return []byte(strconv.Itoa(len(msg)) + " " + msg)
}

// closedByPeer reports whether a stream connection was closed by the other side: a
// write into a closed TCP connection can succeed once and lose the line.
func closedByPeer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	c.SetReadDeadline(time.Time{})
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// run sends the queue in order until ctx is done.
func (sm *siem) run(ctx context.Context) {
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := time.Duration(0)
	fail := func(what string, err error) {
		sm.failures.Add(1)
		if conn != nil {
			conn.Close()
			conn = nil
		}
		backoff = min(max(backoff*2, sm.minBackoff), sm.maxBackoff)
		sm.s.log.Warn("integrations: SIEM "+what, "address", sm.network+"://"+sm.addr, "err", err, "retry_in", backoff)
	}
	for ctx.Err() == nil {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		key, msg, ok, err := sm.oldest()
		if err != nil {
			sm.s.log.Error("integrations: SIEM queue", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-sm.wake:
			case <-time.After(sm.s.poll):
			}
			continue
		}
		if conn != nil && sm.network != "udp" && closedByPeer(conn) {
			conn.Close()
			conn = nil
		}
		if conn == nil {
			if conn, err = sm.dial(ctx); err != nil {
				conn = nil
				fail("connect", err)
				continue
			}
		}
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(sm.frame(msg)); err != nil {
			fail("write", err)
			continue
		}
		backoff = 0
		sm.sent.Add(1)
		if err := sm.remove(key); err != nil {
			sm.s.log.Error("integrations: SIEM queue", "err", err)
		}
	}
}

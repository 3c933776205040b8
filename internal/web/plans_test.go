package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

const englishPolicy = `schema_version: 13
description: Keep English audio only
phases:
  - name: audio
    keep_audio:
      languages: [eng]
`

// brokenPolicy has an unknown operation on line 5.
const brokenPolicy = `schema_version: 13
phases:
  - name: audio
    keep_audio:
      languagez: [eng]
`

func twoAudio(title string) []probe.Track {
	return []probe.Track{
		{Index: 0, Type: "video", Codec: "h264", Default: true, Width: 1920, Height: 1080},
		{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Title: title, Default: true, Channels: 2},
		{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Title: "Français", Channels: 6},
	}
}

// plan stores the english policy's plan of file id, as a plan job would.
func (b *testBundle) plan(t *testing.T, id int64) catalog.StoredPlan {
	t.Helper()
	ctx := context.Background()
	l, err := b.app.Plans.LoadPolicy("english")
	if err != nil {
		t.Fatal(err)
	}
	f, err := b.app.Store.GetFile(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sp, _, err := b.app.Plans.PlanFile(ctx, l, f, catalog.PlanPending, 0)
	if err != nil || sp == nil {
		t.Fatalf("plan file %d: %v, %v", id, sp, err)
	}
	return *sp
}

func TestPoliciesPages(t *testing.T) {
	b := setup(t, setupOpts{policies: map[string]string{"english": englishPolicy, "broken": brokenPolicy, "two words?": englishPolicy}})
	c := b.client(t)
	r := c.get("/ui/policies")
	// A name is a file name: its link escapes it, and leads to it.
	if !strings.Contains(r.body, `<a href="/ui/policies/two%20words%3F">two words?</a>`) {
		t.Errorf("the link of a policy whose name needs escaping:\n%s", r.body)
	}
	mustStatus(t, "policy with an escaped name", c.get("/ui/policies/two%20words%3F"), http.StatusOK)
	mustStatus(t, "policies", r, http.StatusOK)
	for _, want := range []string{`<a href="/ui/policies/english">english</a>`, "Keep English audio only", "valid",
		`<span class="badge bad">invalid</span>`, "line 5, column 7", "languagez"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("policies page lacks %q:\n%s", want, r.body)
		}
	}
	r = c.get("/ui/policies/english")
	mustStatus(t, "policy", r, http.StatusOK)
	if !strings.Contains(r.body, `<strong>audio</strong>: <span class="mono">keep_audio</span>`) {
		t.Errorf("policy page lacks its phase:\n%s", r.body)
	}
	r = c.get("/ui/policies/broken")
	mustStatus(t, "broken policy", r, http.StatusOK)
	if !strings.Contains(r.body, `id="problems"`) || strings.Contains(r.body, "Preview over a directory") {
		t.Errorf("broken policy page: problems not shown or preview offered:\n%s", r.body)
	}
	mustStatus(t, "unknown policy", c.get("/ui/policies/nope"), http.StatusNotFound)
	// The preview refuses a directory outside the library roots, with the form
	// filled in again; and a preview of an unknown job is a 404.
	csrf := c.csrf("/ui/policies/english")
	r = c.post("/ui/policies/english/preview", url.Values{"csrf": {csrf}, "path": {"/not/a/root"}})
	mustStatus(t, "preview outside the roots", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, `id="preview-error"`) || !strings.Contains(r.body, `value="/not/a/root"`) {
		t.Errorf("preview refusal:\n%s", r.body)
	}
	mustStatus(t, "preview without CSRF", c.post("/ui/policies/english/preview", url.Values{"path": {"/x"}}), http.StatusForbidden)
	mustStatus(t, "preview of no job", c.get("/ui/policies/english?job=9999"), http.StatusNotFound)
}

// TestPreviewJob runs a preview from the policy's page: a plan job over a library
// root, whose counters and plans the page then shows.
func TestPreviewJob(t *testing.T) {
	root := t.TempDir()
	b := setup(t, setupOpts{start: true, roots: []string{root}, policies: map[string]string{"english": englishPolicy}})
	id := b.record(t, root+"/Film.mkv", "matroska,webm", twoAudio("Main")...)
	b.record(t, root+"/Fine.mkv", "matroska,webm", sampleTracks("x")[:2]...)
	c := b.client(t)
	r := c.post("/ui/policies/english/preview", url.Values{"csrf": {c.csrf("/ui/policies/english")}, "path": {root}})
	mustStatus(t, "preview", r, http.StatusSeeOther)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/ui/policies/english?job=") {
		t.Fatalf("preview redirects to %q", loc)
	}
	var body string
	waitFor(t, "the preview job to finish", func() bool {
		body = c.get(loc).body
		return strings.Contains(body, `data-field="state">completed`)
	})
	for _, want := range []string{`<td data-field="done">2</td><td data-field="planned">1</td><td data-field="conformant">1</td>`,
		fmt.Sprintf(`<a href="/ui/files/%d">`, id), "removes 1 track"} {
		if !strings.Contains(body, want) {
			t.Errorf("preview lacks %q:\n%s", want, body)
		}
	}
}

func TestPlansReviewAndApprove(t *testing.T) {
	b := setup(t, setupOpts{policies: map[string]string{"english": englishPolicy}})
	ids := []int64{
		b.record(t, "/lib/a.mkv", "matroska,webm", twoAudio("<script>alert(1)</script>")...),
		b.record(t, "/lib/b.mkv", "matroska,webm", twoAudio("B")...),
		b.record(t, "/lib/c.mkv", "matroska,webm", twoAudio("C")...),
	}
	var plans []catalog.StoredPlan
	for _, id := range ids {
		plans = append(plans, b.plan(t, id))
	}
	c := b.client(t)
	r := c.get("/ui/plans?state=pending")
	mustStatus(t, "plans", r, http.StatusOK)
	if n := strings.Count(r.body, `type="checkbox" name="id"`); n != 3 {
		t.Errorf("pending plans page has %d selectable plans, want 3:\n%s", n, r.body)
	}
	if !strings.Contains(r.body, "removes 1 track") {
		t.Errorf("plans page lacks the summary:\n%s", r.body)
	}
	// The before → after view: the French track is removed, the English one
	// kept, and the hostile title is text.
	p := fmt.Sprintf("/ui/plans/%d", plans[0].ID)
	r = c.get(p)
	mustStatus(t, p, r, http.StatusOK)
	for _, want := range []string{`<caption>Before: 3 tracks, matroska,webm</caption>`, `<caption>After: 2 tracks`,
		`<tr class="removed">`, "&lt;script&gt;alert(1)&lt;/script&gt;", `id="approve"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("plan page lacks %q:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, "<script>alert") {
		t.Error("plan page carries the title unescaped")
	}
	// Approve one from its page.
	csrf := c.csrf(p)
	r = c.post(p+"/approve", url.Values{"csrf": {csrf}})
	mustStatus(t, "approve", r, http.StatusSeeOther)
	if got := b.planState(t, plans[0].ID); got != catalog.PlanApproved {
		t.Errorf("plan state after approve: %s", got)
	}
	mustStatus(t, "approve without CSRF", c.post(fmt.Sprintf("/ui/plans/%d/approve", plans[1].ID), url.Values{}), http.StatusForbidden)
	// Reject a selection: the second, and the first (approved: rejectable too).
	r = c.post("/ui/plans", url.Values{"csrf": {csrf}, "action": {"reject"}, "back": {"?state=pending"},
		"id": {fmt.Sprint(plans[1].ID), fmt.Sprint(plans[2].ID)}})
	mustStatus(t, "reject selection", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/ui/plans?state=pending&notice=plans-rejected" {
		t.Errorf("reject selection redirects to %q", loc)
	}
	for _, sp := range plans[1:] {
		if got := b.planState(t, sp.ID); got != catalog.PlanRejected {
			t.Errorf("plan %d after reject: %s", sp.ID, got)
		}
	}
	// Approving a rejected plan is refused (409), and a selection with one
	// says some were skipped.
	mustStatus(t, "approve rejected", c.post(fmt.Sprintf("/ui/plans/%d/approve", plans[1].ID), url.Values{"csrf": {csrf}}), http.StatusConflict)
	r = c.post("/ui/plans", url.Values{"csrf": {csrf}, "action": {"approve"}, "id": {fmt.Sprint(plans[0].ID), fmt.Sprint(plans[1].ID)}})
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "notice=plans-some-skipped") {
		t.Errorf("mixed selection redirects to %q", loc)
	}
	for _, bad := range []url.Values{{"action": {"approve"}}, {"action": {"delete"}, "id": {"1"}}, {"action": {"approve"}, "id": {"x"}}} {
		bad.Set("csrf", csrf)
		mustStatus(t, "bad selection "+bad.Encode(), c.post("/ui/plans", bad), http.StatusBadRequest)
	}
	// Filters.
	r = c.get("/ui/plans?state=rejected")
	if n := strings.Count(r.body, `<a href="/ui/plans/`); n != 2 {
		t.Errorf("rejected filter: %d plans, want 2", n)
	}
	mustStatus(t, "bad state", c.get("/ui/plans?state=bogus"), http.StatusBadRequest)
	// Apply approved queues one apply job and goes to its page.
	r = c.post("/ui/plans/apply", url.Values{"csrf": {csrf}})
	mustStatus(t, "apply approved", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); !regexp.MustCompile(`^/ui/jobs/\d+\?notice=apply-started$`).MatchString(loc) {
		t.Errorf("apply approved redirects to %q", loc)
	}
	applyJob := r.header.Get("Location")
	r = c.get(strings.TrimSuffix(applyJob, "?notice=apply-started"))
	if !strings.Contains(r.body, `<th scope="col">Changed</th>`) || !strings.Contains(r.body, `<td data-field="changed">0</td>`) {
		t.Errorf("the apply job's page lacks its counters:\n%s", r.body)
	}
	r = c.get("/ui/jobs?type=apply")
	mustStatus(t, "jobs filtered by apply", r, http.StatusOK)
	if !strings.Contains(r.body, `<option value="apply" selected>`) || !strings.Contains(r.body, "<td>apply</td>") {
		t.Errorf("jobs page filtered by apply:\n%s", r.body)
	}
	// The file's page: what the policy would do, its plans.
	r = c.get(fmt.Sprintf("/ui/files/%d", ids[0]))
	for _, want := range []string{`<a href="/ui/policies/english">english</a>`, "would change", fmt.Sprintf(`<a href="/ui/plans/%d">`, plans[0].ID),
		"No plan has been applied to this file."} {
		if !strings.Contains(r.body, want) {
			t.Errorf("file page lacks %q:\n%s", want, r.body)
		}
	}
}

func (b *testBundle) planState(t *testing.T, id int64) string {
	t.Helper()
	p, err := b.app.Store.GetPlan(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.State
}

func TestLibrarySearchSortConformant(t *testing.T) {
	b := setup(t, setupOpts{policies: map[string]string{"english": englishPolicy}})
	ctx := context.Background()
	for i, name := range []string{"/lib/Zebra.mkv", "/lib/alpha.mkv", "/lib/Mid zebra.mkv"} {
		tracks := sampleTracks("x")[:2]
		if i == 1 {
			tracks = twoAudio("y")
		}
		if _, err := b.app.Store.RecordFile(ctx, catalog.Observation{Path: name, Size: int64(100 * (3 - i)),
			Result: &probe.Result{Container: "matroska,webm", Tracks: tracks}}); err != nil {
			t.Fatal(err)
		}
	}
	c := b.client(t)
	rowRE := regexp.MustCompile(`<a href="/ui/files/\d+">([^<]+)</a>`)
	rows := func(q string) []string {
		t.Helper()
		r := c.get("/ui/library?" + q)
		mustStatus(t, q, r, http.StatusOK)
		var out []string
		for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, c := range []struct{ q, want string }{
		{"q=zebra", "/lib/Zebra.mkv|/lib/Mid zebra.mkv"},
		{"sort=path", "/lib/Mid zebra.mkv|/lib/Zebra.mkv|/lib/alpha.mkv"},
		{"sort=size", "/lib/Mid zebra.mkv|/lib/alpha.mkv|/lib/Zebra.mkv"},
		{"sort=size&order=desc&q=ZEBRA", "/lib/Zebra.mkv|/lib/Mid zebra.mkv"},
		{"policy=english&conformant=no", "/lib/alpha.mkv"},
		{"policy=english&conformant=yes", "/lib/Zebra.mkv|/lib/Mid zebra.mkv"},
	} {
		if got := strings.Join(rows(c.q), "|"); got != c.want {
			t.Errorf("%s: %q, want %q", c.q, got, c.want)
		}
	}
	for _, q := range []string{"sort=bogus", "order=up", "conformant=yes", "policy=nope&conformant=no", "policy=english&conformant=no&sort=path"} {
		mustStatus(t, q, c.get("/ui/library?"+q), http.StatusBadRequest)
	}
	// A sort link flips the order of the sorted column.
	r := c.get("/ui/library?sort=size")
	if !strings.Contains(r.body, `aria-sort="ascending"><a href="/ui/library?order=desc&amp;sort=size">Size</a>`) {
		t.Errorf("size column's sort link:\n%s", r.body)
	}
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConformanceFilterIsBounded: a page evaluates at most conformanceWindow
// files; when none of them matches, the page is empty and its next page goes on
// from where it stopped.
func TestConformanceFilterIsBounded(t *testing.T) {
	b := setup(t, setupOpts{policies: map[string]string{"english": englishPolicy}})
	ctx := context.Background()
	n := conformanceWindow + 20
	var odd string
	for i := range n {
		tracks := sampleTracks("x")[:2] // conformant
		path := fmt.Sprintf("/lib/f%04d.mkv", i)
		if i == n-1 {
			tracks, odd = twoAudio("y"), path // the one file the policy would change
		}
		if _, err := b.app.Store.RecordFile(ctx, catalog.Observation{Path: path, Size: 1,
			Result: &probe.Result{Container: "matroska,webm", Tracks: tracks}}); err != nil {
			t.Fatal(err)
		}
	}
	c := b.client(t)
	r := c.get("/ui/library?policy=english&conformant=no")
	mustStatus(t, "first page", r, http.StatusOK)
	if strings.Contains(r.body, odd) || !strings.Contains(r.body, fmt.Sprintf("%d files evaluated for this page", conformanceWindow)) {
		t.Fatalf("first page: the file past the window is listed, or the count is missing:\n%s", r.body)
	}
	m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("first page has no next page:\n%s", r.body)
	}
	r = c.get("/ui/library" + strings.ReplaceAll(m[1], "&amp;", "&"))
	if !strings.Contains(r.body, odd) || !strings.Contains(r.body, "20 files evaluated for this page") || strings.Contains(r.body, `rel="next"`) {
		t.Errorf("second page:\n%s", r.body)
	}
}

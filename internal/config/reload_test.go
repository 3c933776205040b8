package config

import (
	"slices"
	"testing"
)

func TestChangesAndKeep(t *testing.T) {
	t.Parallel()
	old := Default("/data")
	next := Default("/data")
	if got := Changes(old, next); len(got) != 0 {
		t.Fatalf("Changes of two defaults = %+v", got)
	}
	next.Server.Port = 9000
	next.Server.AuthToken = "a-secret-token-0123456789"
	next.Library.RootConfigs = []Root{{Path: "/srv", Mode: ModeCatalog}}
	next.Library.Roots = []string{"/srv"}
	next.Sources["server.port"] = SourceFile
	next.Server.AllowedHosts = []string{} // empty and nil are the same
	got := Changes(old, next)
	var ks []string
	for _, c := range got {
		ks = append(ks, c.Key)
	}
	if want := []string{"library.roots", "server.auth_token", "server.port"}; !slices.Equal(ks, want) {
		t.Fatalf("changed keys = %v, want %v", ks, want)
	}
	for _, c := range got {
		if c.Key == "server.auth_token" && (c.Old != "(not set)" || c.New != "(set, redacted)") {
			t.Errorf("secret change shown as %v -> %v", c.Old, c.New)
		}
		if c.Key == "server.port" && (c.Old != DefaultPort || c.New != 9000) {
			t.Errorf("port change shown as %v -> %v", c.Old, c.New)
		}
	}
	for _, k := range []string{"server.port", "library.roots"} {
		if !next.Keep(k, old) {
			t.Fatalf("Keep(%s) = false", k)
		}
	}
	if next.Server.Port != DefaultPort || next.Sources["server.port"] != "" || len(next.Library.Roots) != 0 || len(next.Library.RootConfigs) != 0 {
		t.Errorf("after Keep: port %d (source %q), roots %v %v", next.Server.Port, next.Sources["server.port"], next.Library.Roots, next.Library.RootConfigs)
	}
	if next.Keep("no.such.key", old) {
		t.Error("Keep of an unknown key = true")
	}
}

package scan

import (
	"errors"
	"testing"
)

func TestNewExtSet(t *testing.T) {
	tests := []struct {
		name    string
		exts    []string
		wantErr bool
		match   []string // names that must match when there is no error
	}{
		{name: "defaults", exts: DefaultExtensions, match: []string{"a.mkv", "a.mpeg", "a.m2ts"}},
		{name: "leading dot stripped", exts: []string{".mkv"}, match: []string{"a.mkv"}},
		{name: "upper case lowered", exts: []string{"MKV", ".Mp4"}, match: []string{"a.mkv", "a.mp4"}},
		{name: "duplicates tolerated", exts: []string{"mkv", ".mkv", "MKV"}, match: []string{"a.mkv"}},
		{name: "empty list", exts: nil, wantErr: true},
		{name: "empty entry", exts: []string{"mkv", ""}, wantErr: true},
		{name: "only a dot", exts: []string{"."}, wantErr: true},
		{name: "two leading dots", exts: []string{"..mkv"}, wantErr: true},
		{name: "dot inside", exts: []string{"mkv.part"}, wantErr: true},
		{name: "slash", exts: []string{"a/b"}, wantErr: true},
		{name: "backslash", exts: []string{`a\b`}, wantErr: true},
		{name: "NUL byte", exts: []string{"mk\x00v"}, wantErr: true},
		{name: "invalid UTF-8", exts: []string{"mk\xffv"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewExtSet(tt.exts)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidExtension) {
					t.Fatalf("NewExtSet(%q) error = %v, want one wrapping ErrInvalidExtension", tt.exts, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewExtSet(%q): %v", tt.exts, err)
			}
			for _, name := range tt.match {
				if !s.Match(name) {
					t.Errorf("Match(%q) = false, want true", name)
				}
			}
		})
	}
}

func TestExtSetMatch(t *testing.T) {
	s, err := NewExtSet(append([]string{"ÄVI"}, DefaultExtensions...))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		want bool
	}{
		{name: "lower case", file: "movie.mkv", want: true},
		{name: "upper case", file: "MOVIE.MKV", want: true},
		{name: "mixed case", file: "movie.Mp4", want: true},
		{name: "two-letter extension", file: "clip.ts", want: true},
		{name: "dots in stem", file: "Some.Movie.2020.1080p.mkv", want: true},
		{name: "path given", file: "/lib/Show/S01/e01.m2ts", want: true},
		{name: "non-UTF-8 stem", file: "bad\xffname.mkv", want: true},
		{name: "non-ASCII extension folded", file: "x.äVi", want: true},
		{name: "no extension", file: "movie", want: false},
		{name: "partial download", file: "movie.mkv.part", want: false},
		{name: "other extension", file: "movie.nfo", want: false},
		{name: "trailing dot", file: "movie.", want: false},
		{name: "dotfile", file: ".mkv", want: false},
		{name: "dotfile in a path", file: "/lib/.mkv", want: false},
		{name: "extension only on a directory", file: "dir.mkv/movie", want: false},
		{name: "trailing space", file: "movie.mkv ", want: false},
		{name: "prefix of an extension", file: "movie.mk", want: false},
		{name: "extension with suffix", file: "movie.mkvx", want: false},
		{name: "very long extension", file: "movie." + string(make([]byte, 100)), want: false},
		{name: "empty name", file: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Match(tt.file); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v", tt.file, got, tt.want)
			}
		})
	}
}

func TestExtSetZeroMatchesNothing(t *testing.T) {
	var s ExtSet
	if s.Match("movie.mkv") {
		t.Error("zero ExtSet matched movie.mkv")
	}
}

func BenchmarkExtSetMatch(b *testing.B) {
	s, err := NewExtSet(DefaultExtensions)
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"Movie.2020.1080p.MKV", "poster.jpg", "movie.nfo", "README"}
	for b.Loop() {
		for _, n := range names {
			s.Match(n)
		}
	}
}

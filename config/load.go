package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

// File name suffixes of spec files.
const (
	HCLSuffix  = ".envmig.hcl"
	JSONSuffix = ".envmig.json"
)

// LoadOptions are the variable values given on the command line and in the
// process environment.
type LoadOptions struct {
	// VarFiles are -var-file paths, in command-line order.
	VarFiles []string
	// Vars are -var options ("name=value"), in command-line order.
	Vars []string
	// Environ is the process environment (os.Environ()); only its
	// ENVMIG_VAR_<name> entries are read.
	Environ []string
}

// Load reads and evaluates every spec file in dir. It always returns a
// non-nil Config whose Files render the diagnostics; the rest of it is
// meaningful only when the diagnostics have no errors. It never returns an
// empty non-nil hcl.Diagnostics.
func Load(dir string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	cfg := &Config{
		Dir:       dir,
		Files:     map[string]*hcl.File{},
		Variables: map[string]*Variable{},
	}
	files, diags := readSpecFiles(dir, cfg)
	if diags.HasErrors() {
		return cfg, diags
	}
	l := newLoader(cfg, opts)
	l.diags = diags
	l.load(files)
	if len(l.diags) == 0 {
		return cfg, nil
	}
	sortDiagnostics(l.diags)
	return cfg, l.diags
}

// specFile is one parsed spec file.
type specFile struct {
	name string // path as used in ranges
	file *hcl.File
}

// readSpecFiles parses the spec files of dir in name order, records them in
// cfg.Files and sets cfg.Digest.
func readSpecFiles(dir string, cfg *Config) ([]specFile, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the spec directory",
			Detail:   fmt.Sprintf("Reading directory %q failed: %s. Run envmig in the directory that holds the *%s files, or point -chdir=DIR at it.", dir, err, HCLSuffix),
		}}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, HCLSuffix) || strings.HasSuffix(n, JSONSuffix)) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		shown := dir
		if abs, err := filepath.Abs(dir); err == nil {
			shown = abs // "." says nothing after -chdir
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No spec files found",
			Detail: fmt.Sprintf("Directory %q has no *%s or *%s file. Create one (see the examples/ folder), or point -chdir=DIR at the directory that holds your spec.",
				shown, HCLSuffix, JSONSuffix),
		}}
	}

	h := sha256.New()
	var files []specFile
	var diags hcl.Diagnostics
	for _, n := range names {
		path := filepath.Join(dir, n)
		src, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read spec file",
				Detail:   fmt.Sprintf("Reading %s failed: %s. Check the file's permissions.", path, err),
			})
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(src))
		h.Write(src)

		f, fdiags := parseFile(src, path, strings.HasSuffix(n, JSONSuffix))
		diags = append(diags, fdiags...)
		if f != nil {
			cfg.Files[path] = f
			files = append(files, specFile{name: path, file: f})
		}
	}
	cfg.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return files, diags
}

// maxSyntaxErrors is how many of a file's syntax errors are reported.
const maxSyntaxErrors = 5

// parseFile checks that src is UTF-8 text and parses it in the native or the
// JSON syntax. The file is returned even when it has syntax errors, so that
// their snippets can be shown.
func parseFile(src []byte, filename string, isJSON bool) (*hcl.File, hcl.Diagnostics) {
	if d := checkText(src, filename); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	var f *hcl.File
	var diags hcl.Diagnostics
	if isJSON {
		f, diags = hcljson.Parse(src, filename)
	} else {
		f, diags = hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	}
	if diags.HasErrors() {
		syntax := "HCL"
		if isJSON {
			syntax = "JSON"
		}
		detail := fmt.Sprintf("%s could not be parsed; the errors below say where. Fix the syntax, or rename the file if it is not an envmig spec.", filename)
		if len(diags) > maxSyntaxErrors {
			detail += fmt.Sprintf(" (Only the first %d of its %d syntax errors are shown.)", maxSyntaxErrors, len(diags))
			diags = diags[:maxSyntaxErrors]
		}
		diags = append(hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%s is not valid %s", filename, syntax),
			Detail:   detail,
			Subject:  diags[0].Subject,
		}}, diags...)
	}
	return f, diags
}

// checkText reports a file that is binary or not UTF-8, or returns nil.
func checkText(src []byte, filename string) *hcl.Diagnostic {
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%s is a binary file, not HCL", filename),
			Detail: fmt.Sprintf("%s contains a NUL byte at %s, so it is not a text file. Spec files must be UTF-8 text; remove the file or rename it so that its name does not end in %s or %s.",
				filename, posString(src, i), HCLSuffix, JSONSuffix),
			Subject: byteRange(src, filename, i).Ptr(),
		}
	}
	if !utf8.Valid(src) {
		i := 0
		for i < len(src) {
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%s is not valid UTF-8", filename),
			Detail: fmt.Sprintf("%s has a byte that is not UTF-8 at %s. Spec files must be UTF-8 text: save the file as UTF-8 (for example iconv -f latin1 -t utf-8).",
				filename, posString(src, i)),
			Subject: byteRange(src, filename, i).Ptr(),
		}
	}
	return nil
}

// byteRange is the one-byte range at offset i of src.
func byteRange(src []byte, filename string, i int) hcl.Range {
	line := 1 + bytes.Count(src[:i], []byte("\n"))
	col := i - bytes.LastIndexByte(src[:i], '\n')
	start := hcl.Pos{Line: line, Column: col, Byte: i}
	end := hcl.Pos{Line: line, Column: col + 1, Byte: i + 1}
	return hcl.Range{Filename: filename, Start: start, End: end}
}

func posString(src []byte, i int) string {
	r := byteRange(src, "", i)
	return "line " + strconv.Itoa(r.Start.Line) + ", column " + strconv.Itoa(r.Start.Column)
}

// sortDiagnostics orders diagnostics by file and position; diagnostics
// without a subject come first, in the order they were found.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}

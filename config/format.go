package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// FormatResult is one spec file and its canonical form. Old and New are
// equal when the file is already formatted.
type FormatResult struct {
	Path     string
	Old, New []byte
}

// Changed reports whether formatting changes the file.
func (r FormatResult) Changed() bool { return string(r.Old) != string(r.New) }

// Format returns the canonical form of a native-syntax spec. It refuses a
// file that is not UTF-8 text or does not parse (the diagnostics say why),
// and returns a JSON file (name ending in .json) unchanged.
func Format(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	if strings.HasSuffix(filename, ".json") {
		return src, nil
	}
	if d := checkText(src, filename); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	out := hclwrite.Format(src)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}

// FormatDir formats every *.envmig.hcl file of dir, and with recursive
// those of its subdirectories too, skipping directories whose name starts
// with a dot. Results are in path order and include unchanged files. A file
// that cannot be read or parsed makes the error, which names each such file;
// the other files' results are still returned.
func FormatDir(dir string, recursive bool) ([]FormatResult, error) {
	var paths []string
	if recursive {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != dir && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), HCLSuffix) {
				paths = append(paths, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("format %s: %w", dir, err)
		}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("format %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), HCLSuffix) {
				paths = append(paths, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(paths)

	var results []FormatResult
	var errs []error
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("format %s: %w", p, err))
			continue
		}
		out, diags := Format(src, p)
		if diags.HasErrors() {
			errs = append(errs, fmt.Errorf("format %s: the file does not parse: %w", p, diags))
			continue
		}
		results = append(results, FormatResult{Path: p, Old: src, New: out})
	}
	return results, errors.Join(errs...)
}

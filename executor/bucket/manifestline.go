package bucket

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// One manifest entry is one line of JSON with short field names, written
// and read by hand (a manifest of a million objects is read in standby,
// where every microsecond per object counts):
//
//	{"k":"key","s":123,"e":"etag","t":"2025-03-01T12:00:00Z"}
//	{"k":"key","v":"version","s":123,"e":"etag","t":"...","c":"CRC32","l":true,"d":true}
//
// "c", the stored checksum's algorithm, is written when the listing named
// one; manifests written before it existed have none.

// appendEntry encodes e as one JSON line with short field names.
func appendEntry(b []byte, e Entry, versions bool) []byte {
	b = append(b, `{"k":`...)
	b = appendJSONString(b, e.Key)
	if versions {
		b = append(b, `,"v":`...)
		b = appendJSONString(b, e.VersionID)
	}
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, e.Size, 10)
	b = append(b, `,"e":`...)
	b = appendJSONString(b, e.ETag)
	b = append(b, `,"t":"`...)
	b = e.LastModified.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.Checksum != "" {
		b = append(b, `,"c":`...)
		b = appendJSONString(b, e.Checksum)
	}
	if versions && e.IsLatest {
		b = append(b, `,"l":true`...)
	}
	if versions && e.DeleteMarker {
		b = append(b, `,"d":true`...)
	}
	return append(b, "}\n"...)
}

// appendJSONString quotes a valid UTF-8 string as JSON.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// lineParser reads an entry line exactly as appendEntry writes it, and
// refuses anything else: a manifest is never written by hand.
type lineParser struct {
	b       []byte
	i       int
	scratch []byte
	err     error
}

func (p *lineParser) entry(versions bool) Entry {
	e := Entry{IsLatest: !versions}
	p.lit(`{"k":`)
	e.Key = p.str()
	if versions {
		p.lit(`,"v":`)
		e.VersionID = p.str()
	}
	p.lit(`,"s":`)
	e.Size = p.int()
	p.lit(`,"e":`)
	e.ETag = p.str()
	p.lit(`,"t":"`)
	if p.err == nil {
		end := bytes.IndexByte(p.b[p.i:], '"')
		if end < 0 {
			p.fail()
			return e
		}
		t, err := time.Parse(time.RFC3339Nano, string(p.b[p.i:p.i+end]))
		if err != nil {
			p.err = err
			return e
		}
		e.LastModified = t.UTC()
		p.i += end + 1
	}
	if p.peek(`,"c":`) {
		p.lit(`,"c":`)
		e.Checksum = p.str()
	}
	if versions && p.peek(`,"l":true`) {
		p.lit(`,"l":true`)
		e.IsLatest = true
	}
	if versions && p.peek(`,"d":true`) {
		p.lit(`,"d":true`)
		e.DeleteMarker = true
	}
	p.lit("}\n")
	if p.err == nil && p.i != len(p.b) {
		p.fail()
	}
	return e
}

func (p *lineParser) fail() {
	if p.err == nil {
		p.err = fmt.Errorf("not a manifest entry at byte %d", p.i)
	}
}

func (p *lineParser) peek(s string) bool {
	return p.err == nil && bytes.HasPrefix(p.b[p.i:], []byte(s))
}

func (p *lineParser) lit(s string) {
	if !p.peek(s) {
		p.fail()
		return
	}
	p.i += len(s)
}

func (p *lineParser) int() int64 {
	if p.err != nil {
		return 0
	}
	j := p.i
	for j < len(p.b) && (p.b[j] >= '0' && p.b[j] <= '9' || j == p.i && p.b[j] == '-') {
		j++
	}
	n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		p.fail()
		return 0
	}
	p.i = j
	return n
}

// str reads a JSON string as appendJSONString writes it.
func (p *lineParser) str() string {
	if p.err != nil || p.i >= len(p.b) || p.b[p.i] != '"' {
		p.fail()
		return ""
	}
	p.i++
	out := p.scratch[:0]
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			p.scratch = out
			if !utf8.Valid(out) {
				p.fail()
			}
			return string(out)
		case c < 0x20:
			p.fail()
			return ""
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		switch esc := p.b[p.i+1]; esc {
		case '"', '\\':
			out = append(out, esc)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if p.i+6 > len(p.b) {
				p.fail()
				return ""
			}
			v, err := strconv.ParseUint(string(p.b[p.i+2:p.i+6]), 16, 8)
			if err != nil || v >= 0x20 {
				p.fail()
				return ""
			}
			out = append(out, byte(v))
			p.i += 4
		default:
			p.fail()
			return ""
		}
		p.i += 2
	}
	p.fail()
	return ""
}

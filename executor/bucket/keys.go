package bucket

// copySource is the x-amz-copy-source value for key in bucket: the bucket,
// a slash, and the key percent-encoded byte by byte except for unreserved
// characters and '/'. S3 decodes it once, so '+', '%', '?', '#', spaces and
// non-ASCII keys survive. Keys needing no escape cost one allocation.
func copySource(bucket, key string) string {
	n := 0
	for i := 0; i < len(key); i++ {
		if !keepInPath(key[i]) {
			n++
		}
	}
	b := make([]byte, 0, len(bucket)+1+len(key)+2*n)
	b = append(b, bucket...)
	b = append(b, '/')
	if n == 0 {
		return string(append(b, key...))
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(key); i++ {
		c := key[i]
		if keepInPath(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

func keepInPath(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}

package statefile

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
)

// crash returns what a power failure could leave: the number of
// alternatives of each independent choice it makes, and a function that
// builds the rebooted disk for one pick of each (pick[i] < dims[i]).
func (m *memFS) crash() (dims []int, reboot func(pick []int) *memFS) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		dirs, files []*memNode
		seen        = map[*memNode]bool{}
		walk        func(n *memNode)
	)
	walk = func(n *memNode) {
		if seen[n] {
			return
		}
		seen[n] = true
		if !n.dir {
			if len(fileVariants(n)) > 1 {
				files = append(files, n)
			}
			return
		}
		if len(n.log) > 0 {
			dirs = append(dirs, n)
		}
		var kids []*memNode
		for _, c := range n.durable {
			kids = append(kids, c)
		}
		for _, op := range n.log {
			for _, e := range op {
				if e.node != nil {
					kids = append(kids, e.node)
				}
			}
		}
		for _, c := range kids {
			walk(c)
		}
	}
	walk(m.root)
	for _, d := range dirs {
		dims = append(dims, len(d.log)+1)
	}
	for _, f := range files {
		dims = append(dims, len(fileVariants(f)))
	}
	reboot = func(pick []int) *memFS {
		if len(pick) != len(dims) {
			panic(fmt.Sprintf("crash: %d picks for %d choices", len(pick), len(dims)))
		}
		prefix := map[*memNode]int{}
		for i, d := range dirs {
			prefix[d] = pick[i]
		}
		content := map[*memNode][]byte{}
		for i, f := range files {
			content[f] = fileVariants(f)[pick[len(dirs)+i]]
		}
		copies := map[*memNode]*memNode{}
		var clone func(n *memNode) *memNode
		clone = func(n *memNode) *memNode {
			if c, ok := copies[n]; ok {
				return c
			}
			c := &memNode{dir: n.dir, mode: n.mode}
			copies[n] = c
			if !n.dir {
				data, ok := content[n]
				if !ok {
					data = n.synced
				}
				c.data, c.synced = slices.Clone(data), slices.Clone(data)
				return c
			}
			entries := maps.Clone(n.durable)
			for _, op := range n.log[:prefix[n]] {
				for _, e := range op {
					if e.node == nil {
						delete(entries, e.name)
					} else {
						entries[e.name] = e.node
					}
				}
			}
			c.entries = map[string]*memNode{}
			for name, k := range entries {
				c.entries[name] = clone(k)
			}
			c.durable = maps.Clone(c.entries)
			return c
		}
		out := newMemFS()
		out.root = clone(m.root)
		return out
	}
	return dims, reboot
}

// fileVariants are the contents a power failure may leave in a file: its
// synced content, everything written, and a torn write in between.
func fileVariants(n *memNode) [][]byte {
	if bytes.Equal(n.data, n.synced) {
		return [][]byte{n.synced}
	}
	out := [][]byte{n.synced, n.data}
	if bytes.HasPrefix(n.data, n.synced) && len(n.data)-len(n.synced) > 1 {
		out = append(out, n.data[:len(n.synced)+(len(n.data)-len(n.synced))/2])
	}
	return out
}

// eachPick calls f with every combination of picks for dims.
func eachPick(dims []int, f func(pick []int)) {
	pick := make([]int, len(dims))
	for {
		f(slices.Clone(pick))
		i := 0
		for ; i < len(dims); i++ {
			pick[i]++
			if pick[i] < dims[i] {
				break
			}
			pick[i] = 0
		}
		if i == len(dims) {
			return
		}
	}
}

# envmig: the two commands of the quick start are `make demo` and `make test`.
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test demo demo-stack reliability bench clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/envmig ./cmd/envmig

test:
	./scripts/test.sh

demo:
	./scripts/demo.sh

# The second act: an environment kept as a CloudFormation stack, migrated
# by stack-swap (examples/cloudformation).
demo-stack:
	./scripts/demo-stack.sh

reliability:
	./scripts/reliability.sh

bench:
	./bench/run.sh

clean:
	rm -rf bin

"""Results store: immutable, versioned long-format tables with manifests; reported-vs-measured joins."""

"""Development and test support, outside the production services (a dev-group member of the uv workspace; the
production image does not install it): the whole-loop driver through the public APIs (`county`, `api`, `loop`,
`processes`), used by the end-to-end test, `make demo` and the benchmarks, and the province real-name simulator
(`province_simulator`), which `make run` starts in development."""

//! `--accept` strategies of the io_uring model over real sockets (the shared bodies are in
//! `servers/evloop/testsupport`).

mod common;

#[test]
fn reuseport_spreads_connections_over_the_loops() {
    common::cases::reuseport_spreads_connections_over_the_loops();
}

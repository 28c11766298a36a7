//! `--accept` strategies of the io_uring model over real sockets (the shared bodies are in
//! `servers/evloop/testsupport`).

mod common;

#[test]
fn reuseport_spreads_connections_over_the_loops() {
    common::cases::reuseport_spreads_connections_over_the_loops();
}

/// The default `--accept` (`shared`) with several rings: short connections, one request each,
/// are spread over the rings, each ring taking at least a quarter of its even share. Before
/// the fix every ring armed a multishot accept on the one socket, and the ring that armed first
/// took (nearly) every connection: the kernel wakes the first of the socket's exclusive
/// waiters, and a multishot accept stays first. Counts only.
#[test]
fn default_accept_spreads_short_connections_over_the_rings() {
    if common::unavailable() {
        return;
    }
    const RINGS: usize = 4;
    const CONNECTIONS: u64 = 400;
    let setup = common::config(RINGS, false);
    assert_eq!(setup.options.accept.accept, lab_core::AcceptMode::Shared);
    let server = common::Server::start(setup);
    for _ in 0..CONNECTIONS {
        let mut client = server.connect();
        client.get("/").unwrap();
        assert_eq!(client.reply().status, 200);
    }
    let counts: Vec<u64> = server
        .counters
        .loops
        .iter()
        .map(|c| c.accepted.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), CONNECTIONS, "{counts:?}");
    let quarter_share = CONNECTIONS / RINGS as u64 / 4;
    assert!(
        counts.iter().all(|&n| n >= quarter_share),
        "accepted per ring {counts:?}: each should have at least {quarter_share}"
    );
    server.stop();
}

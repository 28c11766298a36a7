//! The lecture's question, as a test: what happens to the second client of a single-threaded
//! server? It waits until the first connection ends. Order of events is asserted, not time.

use lab_core::{bind_listener, Config, LabApp, Shutdown};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

fn request(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    read_response(stream)
}

fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"Hello, World!") {
        let n = stream
            .read(&mut buf)
            .expect("response within the read timeout");
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn the_second_client_waits_for_the_first_to_close() {
    let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(LabApp::new(dir.path(), "single_thread").unwrap());
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let server = std::thread::spawn(move || {
        lab_single_thread::run(
            listener.into(),
            app,
            &Config::default(),
            &Default::default(),
            stop,
        )
    });

    let mut first = connect(addr);
    assert!(request(&mut first).starts_with("HTTP/1.1 200"));
    // The second client connects (the kernel completes the handshake: it sits in the backlog)
    // and sends its request.
    let mut second = connect(addr);
    second
        .write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // The server is still busy with the first connection: it answers the first client again...
    assert!(request(&mut first).starts_with("HTTP/1.1 200"));
    assert!(request(&mut first).starts_with("HTTP/1.1 200"));
    // ...and by now the second client still has nothing.
    second.set_nonblocking(true).unwrap();
    let mut probe = [0u8; 1];
    assert!(
        second.peek(&mut probe).is_err(),
        "the second client was answered while the first was open"
    );
    second.set_nonblocking(false).unwrap();
    // Only when the first client closes does the server get to the second.
    drop(first);
    assert!(read_response(&mut second).starts_with("HTTP/1.1 200"));
    drop(second);
    shutdown.trigger();
    server.join().unwrap().unwrap();
}

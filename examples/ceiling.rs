//! The ceiling: a mio event loop that does no HTTP at all, to measure the models against.
//!
//! It counts `\r\n\r\n` in what it reads and answers each with the same fixed plaintext response
//! (the bytes `lab serve` sends for `GET /`), one `write` per read batch. No parsing, no routing,
//! no `Date` formatting, no allocation per request, one thread: what is left is the kernel's work
//! for the workload (accept, epoll, loopback TCP reads and writes). A model's throughput as a
//! fraction of this loop's is how much of the machine its user-space work costs; the README's
//! "What we measured" gives the fractions.
//!
//! ```sh
//! cargo run --release --example ceiling -- --addr 127.0.0.1:8080   # or: ceiling 8080
//! wrk -t1 -c100 -d4s http://127.0.0.1:8080/
//! ```
//!
//! It prints `listening on http://ADDR` first, as `lab serve` does, and stops on SIGINT/SIGTERM
//! (the default action). It is not a server: a request split so that its terminator straddles
//! two reads is still counted once (the loop keeps the last three bytes), but bodies, a `\r\n\r\n`
//! inside one, and every rule of HTTP are ignored.

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

const LISTENER: Token = Token(usize::MAX);
/// The response `lab serve` writes for `GET /` (less its `Date` header's changing value).
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: http-lab\r\n\
Date: Wed, 25 Nov 2026 00:00:00 GMT\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: 13\r\n\r\nHello, World!";
const TERMINATOR: &[u8] = b"\r\n\r\n";
/// Read buffer per read call (shared by all connections: the loop serves one at a time).
const READ_BUF: usize = 64 * 1024;
/// A write the client does not take at once waits at most this long per connection (a bound:
/// a loaded wrk reads its responses promptly).
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

struct Conn {
    stream: TcpStream,
    /// The last bytes of the previous read, in case a terminator straddles two reads.
    tail: Vec<u8>,
    /// Responses not yet written (only when the socket's send buffer was full).
    out: Vec<u8>,
}

fn main() -> io::Result<()> {
    let addr = parse_addr(std::env::args().skip(1))?;
    let mut listener = TcpListener::bind(addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match poll.poll(&mut events, Some(POLL_TIMEOUT)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                // Accept until WouldBlock: readiness is edge-triggered.
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let token = Token(next);
                            next = next.wrapping_add(1) % (usize::MAX - 1);
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            conns.insert(
                                token,
                                Conn {
                                    stream,
                                    tail: Vec::with_capacity(3),
                                    out: Vec::new(),
                                },
                            );
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let token = event.token();
            let Some(conn) = conns.get_mut(&token) else {
                continue; // a spurious event for a closed connection
            };
            // The peer's FIN may sit behind the data: then read on to the end of the stream.
            if serve(conn, &mut buf, event.is_read_closed()).is_err() {
                let mut conn = conns.remove(&token).expect("present");
                let _ = poll.registry().deregister(&mut conn.stream);
            }
        }
    }
}

/// Reads until the socket is drained, answering each batch's terminators with one write. `Err`
/// closes. A read that fills less than the buffer has drained it (a TCP socket hands over all it
/// holds, up to the buffer), so the loop stops there instead of reading again for the
/// `WouldBlock` that edge-triggered readiness would otherwise ask for: new data raises a new
/// edge. nginx stops the same way, and so does the epoll model; without it this loop made one
/// more `recvfrom` per batch than the model and was no ceiling for it. With `to_eof` (the event
/// says the peer has shut its side) it reads on until the end of the stream.
fn serve(conn: &mut Conn, buf: &mut [u8], to_eof: bool) -> io::Result<()> {
    flush(conn)?;
    loop {
        let n = match conn.stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let count = count_terminators(&mut conn.tail, &buf[..n]);
        for _ in 0..count {
            conn.out.extend_from_slice(RESPONSE);
        }
        if count > 0 {
            flush(conn)?;
        }
        if n < buf.len() && !to_eof {
            return Ok(());
        }
    }
}

/// Writes what is pending; what the socket does not take waits for the next event.
fn flush(conn: &mut Conn) -> io::Result<()> {
    let mut done = 0;
    while done < conn.out.len() {
        match conn.stream.write(&conn.out[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    conn.out.drain(..done);
    Ok(())
}

/// Counts `\r\n\r\n` in `tail` + `bytes` that end inside `bytes`, and keeps the last three bytes
/// in `tail` for the next call.
fn count_terminators(tail: &mut Vec<u8>, bytes: &[u8]) -> usize {
    let mut count = 0;
    // Terminators that start in the tail: at most three bytes of it, so at most three places.
    let head = &bytes[..bytes.len().min(3)];
    for start in 0..tail.len() {
        let from_tail = &tail[start..];
        let need = TERMINATOR.len() - from_tail.len();
        if from_tail == &TERMINATOR[..from_tail.len()]
            && head.len() >= need
            && head[..need] == TERMINATOR[from_tail.len()..]
        {
            count += 1;
        }
    }
    count += bytes
        .windows(TERMINATOR.len())
        .filter(|w| *w == TERMINATOR)
        .count();
    let keep = bytes.len().min(3);
    if keep < 3 {
        tail.extend_from_slice(bytes);
        let excess = tail.len().saturating_sub(3);
        tail.drain(..excess);
    } else {
        tail.clear();
        tail.extend_from_slice(&bytes[bytes.len() - 3..]);
    }
    count
}

/// `--addr IP:PORT`, `--addr :PORT`, `PORT` or `IP:PORT`; default 127.0.0.1:8080.
fn parse_addr(mut args: impl Iterator<Item = String>) -> io::Result<SocketAddr> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    let text = match args.next() {
        None => return Ok(SocketAddr::from(([127, 0, 0, 1], 8080))),
        Some(flag) if flag == "--addr" => args.next().ok_or_else(|| bad("--addr needs a value"))?,
        Some(other) => other,
    };
    if let Ok(port) = text.trim_start_matches(':').parse::<u16>() {
        let ip = if text.starts_with(':') {
            [0, 0, 0, 0]
        } else {
            [127, 0, 0, 1]
        };
        return Ok(SocketAddr::from((ip, port)));
    }
    text.parse()
        .map_err(|_| bad(&format!("--addr {text:?}: expected IP:PORT, :PORT or PORT")))
}

#[cfg(test)]
mod tests {
    use super::count_terminators;

    #[test]
    fn counts_terminators_split_across_reads() {
        let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for split in 0..=wire.len() {
            let mut tail = Vec::new();
            let n = count_terminators(&mut tail, &wire[..split])
                + count_terminators(&mut tail, &wire[split..]);
            assert_eq!(n, 2, "split at {split}");
        }
    }
}

//! The `/proc` sampler sees a process tree.

use std::process::Command;
use std::time::Duration;

use loadgen::procmon::{tree_pids, Sampler};

#[test]
fn samples_a_child_process() {
    let mut child = Command::new("sleep")
        .arg("10")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    let handle = Sampler::start(pid, Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(150));
    let stats = handle.stop();
    assert!(stats.peak_processes >= 1);
    assert!(stats.peak_threads >= 1);
    assert!(stats.peak_rss_bytes > 0);
    assert!(stats.peak_pss_bytes > 0);
    assert!(stats.peak_fds >= 1);
    assert!(stats.samples.len() >= 2);

    // This test process is the root of a tree that holds the child.
    let ours = tree_pids(std::process::id());
    assert_eq!(ours[0], std::process::id());
    assert!(ours.contains(&pid));
    assert_eq!(tree_pids(pid), vec![pid]);

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(tree_pids(pid).is_empty());
    assert!(!tree_pids(std::process::id()).contains(&pid));
}

#[test]
fn counts_cpu_of_the_current_process() {
    let handle = Sampler::start(std::process::id(), Duration::from_millis(20));
    // Burn some CPU so there is something to count.
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(300) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let stats = handle.stop();
    assert!(stats.cpu_user_s + stats.cpu_sys_s > 0.0);
    assert!(stats.ctx_voluntary + stats.ctx_involuntary > 0);
    let json = serde_json::to_string(&stats).unwrap();
    let back: loadgen::ServerStats = serde_json::from_str(&json).unwrap();
    assert_eq!(back, stats);
}

/// `listens_on` finds this process's listening sockets in `/proc`: at a specific address (also
/// named v4-mapped), at a v4 and a v6 wildcard (which serve 127.0.0.1), on a Unix path (with
/// spaces too); not another address, another port, a connected socket's port, or a process
/// without sockets.
#[test]
fn listens_on_reads_the_listening_sockets_of_a_tree() {
    use loadgen::procmon::listens_on;
    use loadgen::Target;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    let me = std::process::id();
    let at = |addr: &str| Target::Tcp(addr.parse::<SocketAddr>().unwrap());

    let local = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = local.local_addr().unwrap().port();
    assert_eq!(
        listens_on(me, &at(&format!("127.0.0.1:{port}"))),
        Some(true)
    );
    assert_eq!(
        listens_on(me, &at(&format!("127.0.0.2:{port}"))),
        Some(false)
    );
    // A connected socket on the other end of that port is not a listener.
    let client = TcpStream::connect(local.local_addr().unwrap()).unwrap();
    let client_port = client.local_addr().unwrap().port();
    assert_eq!(
        listens_on(me, &at(&format!("127.0.0.1:{client_port}"))),
        Some(false)
    );

    // A v4-mapped v6 address is its v4 one.
    assert_eq!(
        listens_on(me, &at(&format!("[::ffff:127.0.0.1]:{port}"))),
        Some(true)
    );

    let any4 = TcpListener::bind("0.0.0.0:0").unwrap();
    let port4 = any4.local_addr().unwrap().port();
    assert_eq!(
        listens_on(me, &at(&format!("127.0.0.1:{port4}"))),
        Some(true)
    );
    if let Ok(any6) = TcpListener::bind("[::]:0") {
        let port6 = any6.local_addr().unwrap().port();
        assert_eq!(
            listens_on(me, &at(&format!("127.0.0.1:{port6}"))),
            Some(true)
        );
        assert_eq!(listens_on(me, &at(&format!("[::1]:{port6}"))), Some(true));
    }
    if let Ok(loop6) = TcpListener::bind("[::1]:0") {
        let port6 = loop6.local_addr().unwrap().port();
        assert_eq!(listens_on(me, &at(&format!("[::1]:{port6}"))), Some(true));
        assert_eq!(
            listens_on(me, &at(&format!("127.0.0.1:{port6}"))),
            Some(false)
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let _unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    assert_eq!(listens_on(me, &Target::Unix(path.clone())), Some(true));
    assert_eq!(
        listens_on(me, &Target::Unix(dir.path().join("other.sock"))),
        Some(false)
    );
    // `/proc/net/unix` ends a line with the path, spaces and all.
    let spaced = dir.path().join("a b  c.sock");
    let _spaced = std::os::unix::net::UnixListener::bind(&spaced).unwrap();
    assert_eq!(listens_on(me, &Target::Unix(spaced)), Some(true));
    assert_eq!(
        listens_on(me, &Target::Unix(dir.path().join("a b"))),
        Some(false)
    );

    // A process that holds no socket, and whose parent's sockets are not its own.
    let mut child = Command::new("sleep").arg("10").spawn().unwrap();
    assert_eq!(
        listens_on(child.id(), &at(&format!("127.0.0.1:{port}"))),
        Some(false)
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

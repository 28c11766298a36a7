//! The docroot's containment, checked for both resolution strategies on a tree built to escape it:
//! symbolic links to files and directories outside, a symlinked `index.html` (the bug this file is
//! named after: `GET /static/sub/` served /etc/passwd), `..` in every spelling, and files that are
//! not regular (a FIFO must be refused without blocking, a socket, a directory without index).

use lab_core::response::Response;
use lab_core::static_files::{Docroot, Refusal, Resolve};
use std::os::unix::fs::symlink;
use std::path::Path;

struct Tree {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir(&root).unwrap();
    lab_core::static_files::write_sample_site(&root).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "SECRET").unwrap();
    // Links that leave the docroot.
    symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
    symlink(dir.path(), root.join("up")).unwrap();
    symlink("/etc", root.join("etc")).unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    symlink("/etc/passwd", root.join("sub/index.html")).unwrap();
    std::fs::create_dir(root.join("rel")).unwrap();
    symlink("../../secret.txt", root.join("rel/index.html")).unwrap();
    symlink("/proc/self/root/etc/passwd", root.join("magic.txt")).unwrap();
    // A link that stays inside.
    symlink("hello.txt", root.join("inner.txt")).unwrap();
    // Not regular files.
    let fifo = root.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let _sock = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    std::fs::create_dir(root.join("empty")).unwrap();
    Tree { _dir: dir, root }
}

fn status(r: &Response) -> u16 {
    r.status.code()
}

fn body(r: &Response) -> String {
    String::from_utf8_lossy(&r.body.to_bytes().expect("readable body")).into_owned()
}

fn check(root: &Path, resolve: Resolve) {
    let d = Docroot::open_with(root, resolve).unwrap();
    let ok = |rel: &str, want: &str| {
        let r = d.serve(rel);
        assert_eq!(
            (status(&r), body(&r).as_str()),
            (200, want),
            "{rel} ({resolve:?})"
        );
    };
    ok("hello.txt", "Hello from a static file.\n");
    ok(
        "docs/",
        "<!doctype html>\n<html><body><p>docs</p></body></html>\n",
    );
    ok(
        "./docs/./index.html",
        "<!doctype html>\n<html><body><p>docs</p></body></html>\n",
    );
    assert_eq!(status(&d.serve("")), 200);
    assert_eq!(d.open_file("nope.txt").unwrap_err(), Refusal::NotFound);
    assert_eq!(d.open_file("hello.txt/x").unwrap_err(), Refusal::NotFound);
    for rel in [
        "sub/",
        "sub",
        "sub/index.html",
        "rel/",
        "leak.txt",
        "up/secret.txt",
        "etc/passwd",
        "magic.txt",
        "../secret.txt",
        "%2e%2e/secret.txt",
        "docs/../../secret.txt",
        "..%5csecret.txt",
        "a%00b",
        "fifo",
        "sock",
        "empty/",
    ] {
        let r = d.serve(rel);
        assert!(
            matches!(status(&r), 403 | 404),
            "{rel} ({resolve:?}): {}",
            body(&r)
        );
        assert!(!body(&r).contains("SECRET") && !body(&r).contains("root:"));
    }
    // The symlinked index.html, and files that are not regular: 403 exactly.
    for rel in ["sub/", "sub/index.html", "rel/", "leak.txt", "fifo", "sock"] {
        assert_eq!(status(&d.serve(rel)), 403, "{rel} ({resolve:?})");
    }
    // A link that stays inside: followed by openat2, refused by the no-follow walk.
    let inner = d.serve("inner.txt");
    match resolve {
        Resolve::Beneath => assert_eq!(body(&inner), "Hello from a static file.\n"),
        Resolve::Walk => assert_eq!(status(&inner), 403),
    }
}

#[test]
fn symlinked_index_html_does_not_escape_the_docroot_openat2() {
    let t = tree();
    check(&t.root, Resolve::Beneath);
}

#[test]
fn symlinked_index_html_does_not_escape_the_docroot_walk() {
    let t = tree();
    check(&t.root, Resolve::Walk);
}

#[test]
fn content_types_follow_the_file_name() {
    let t = tree();
    let d = Docroot::open(&t.root).unwrap();
    assert_eq!(
        d.open_file("style.css").unwrap().content_type,
        "text/css; charset=utf-8"
    );
    assert_eq!(
        d.open_file("").unwrap().content_type,
        "text/html; charset=utf-8"
    );
}

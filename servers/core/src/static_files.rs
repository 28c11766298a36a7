//! `GET /static/<path>`: files under the docroot, and never a byte from outside it.
//!
//! Three defences, in order: the decoded path may not contain a `..` segment, a NUL or a
//! backslash (403); the joined path is canonicalized (symlinks resolved) and must still lie under
//! the canonical docroot (403); only regular files are served (a directory serves its
//! `index.html`). A production server would also open with `O_NOFOLLOW`/`openat2(RESOLVE_BENEATH)`
//! to close the race between the check and the open; the lab's docroot is not writable by clients.

use crate::response::{Response, Status};
use percent_encoding::percent_decode_str;
use std::borrow::Cow;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Largest file served.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Serves `rel` (the part of the path after `/static/`, still percent-encoded) from `docroot`,
/// which must be canonical.
pub fn serve(docroot: &Path, rel: &str) -> Response {
    let path = match resolve(docroot, rel) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match open_file(&path) {
        // Streamed by the connection (sendfile), never read into memory here.
        Ok((file, len)) => Response::file(Status::OK, content_type(&path), file, len),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Response::error(Status::NOT_FOUND, "no such file")
        }
        Err(_) => Response::error(Status::FORBIDDEN, "not readable"),
    }
}

/// Maps the request path to a file under `docroot`, or to the response refusing it.
fn resolve(docroot: &Path, rel: &str) -> Result<PathBuf, Response> {
    let forbidden = || Response::error(Status::FORBIDDEN, "outside the docroot");
    let decoded = percent_decode_str(rel)
        .decode_utf8()
        .map_err(|_| Response::error(Status::NOT_FOUND, "no such file"))?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(forbidden());
    }
    let mut path = docroot.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(forbidden()),
            s => path.push(s),
        }
    }
    let mut canonical = match path.canonicalize() {
        Ok(c) => c,
        Err(_) => return Err(Response::error(Status::NOT_FOUND, "no such file")),
    };
    if !canonical.starts_with(docroot) {
        return Err(forbidden());
    }
    if canonical.is_dir() {
        canonical.push("index.html");
    }
    Ok(canonical)
}

fn open_file(path: &Path) -> io::Result<(fs::File, u64)> {
    let file = fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "not a servable file",
        ));
    }
    Ok((file, meta.len()))
}

fn content_type(path: &Path) -> Cow<'static, str> {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if mime.type_() == mime_guess::mime::TEXT
        || mime.essence_str() == "application/javascript"
        || mime.essence_str() == "application/json"
        || mime.essence_str() == "image/svg+xml"
    {
        Cow::Owned(format!("{}; charset=utf-8", mime.essence_str()))
    } else {
        Cow::Owned(mime.essence_str().to_string())
    }
}

/// The sample site `lab serve` writes when no `--docroot` is given: a few small files of the
/// common types.
pub const SAMPLE_SITE: &[(&str, &str)] = &[
    (
        "index.html",
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>http-lab</title>\
         <link rel=\"stylesheet\" href=\"style.css\"></head>\n<body><h1>http-lab</h1>\
         <p>A sample page served from the lab's docroot.</p><img src=\"logo.svg\" alt=\"logo\">\
         <script src=\"app.js\"></script></body></html>\n",
    ),
    (
        "style.css",
        "body { font-family: sans-serif; margin: 2em; }\n",
    ),
    ("app.js", "document.title = 'http-lab (script ran)';\n"),
    ("hello.txt", "Hello from a static file.\n"),
    ("data.json", "{\"lab\": \"http-lab\", \"ok\": true}\n"),
    (
        "logo.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\">\
         <circle cx=\"32\" cy=\"32\" r=\"30\" fill=\"#4a90d9\"/></svg>\n",
    ),
    (
        "docs/index.html",
        "<!doctype html>\n<html><body><p>docs</p></body></html>\n",
    ),
];

/// Writes [`SAMPLE_SITE`] into `dir`.
pub fn write_sample_site(dir: &Path) -> io::Result<()> {
    for (name, contents) in SAMPLE_SITE {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, contents)?;
    }
    Ok(())
}

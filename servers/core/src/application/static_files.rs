//! `GET /static/<path>`: files under the docroot, and never a byte from outside it.
//!
//! The docroot is opened once, as a directory file descriptor, and every request's file is opened
//! *relative to it* with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: the kernel resolves
//! the path and refuses any step that would leave the docroot (a `..`, an absolute symbolic link,
//! a link to `/etc/passwd` named `index.html`), in the same call that opens the file, so there is
//! no window between a check and the open. Where openat2 is missing (Linux before 5.6, or a
//! seccomp profile that forbids it) the path is walked one component at a time with
//! `openat(O_NOFOLLOW)`: no symbolic link is followed at all, inside the docroot or not.
//!
//! Around that guarantee: the decoded path may not contain a NUL, a backslash or a `..` segment
//! (403, before any system call); a directory serves its `index.html`, opened the same way; and
//! only regular files are served. A FIFO, socket or device in the docroot gets 403, and opening
//! one never blocks (`O_NONBLOCK`), so a FIFO cannot freeze an event loop. This is what nginx
//! does with `disable_symlinks if_not_owner from=$document_root` and Apache with
//! `SymLinksIfOwnerMatch`, minus the ownership rule: links that stay inside are followed.

use crate::response::{Response, Status};
use crate::sys;
use percent_encoding::percent_decode_str;
use std::borrow::Cow;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest file served. Not a memory bound (a file is streamed, never read into memory): the
/// lab's docroot holds small sample files, and a larger one is more likely a mistake.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How a path is resolved under the docroot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// `openat2(RESOLVE_BENEATH)`, falling back to [`Resolve::Walk`] if the kernel lacks it.
    Beneath,
    /// One `openat(O_NOFOLLOW)` per component: no symbolic link is followed.
    Walk,
}

/// Set once openat2 answered ENOSYS or EPERM: this process walks from then on.
static OPENAT2_MISSING: AtomicBool = AtomicBool::new(false);

/// The directory files are served from, held open.
#[derive(Debug)]
pub struct Docroot {
    dir: OwnedFd,
    path: PathBuf,
    resolve: Resolve,
}

/// A file ready to be served: open, regular, within the size limit.
#[derive(Debug)]
pub struct StaticFile {
    pub file: fs::File,
    pub len: u64,
    pub content_type: Cow<'static, str>,
}

/// Why a static path was not served; each maps to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 404: nothing by that name (or a name that is not valid UTF-8).
    NotFound,
    /// 403: outside the docroot, a refused link, not a regular file, unreadable, or too large.
    Forbidden(&'static str),
}

impl Refusal {
    pub fn response(self) -> Response {
        match self {
            Refusal::NotFound => Response::error(Status::NOT_FOUND, "no such file"),
            Refusal::Forbidden(why) => Response::error(Status::FORBIDDEN, why),
        }
    }
}

impl Docroot {
    /// Opens the directory at `path` (which must exist) as the docroot.
    pub fn open(path: &Path) -> io::Result<Docroot> {
        Docroot::open_with(path, Resolve::Beneath)
    }

    /// [`Docroot::open`] with a chosen resolution (tests use [`Resolve::Walk`] to exercise the
    /// fallback on kernels that have openat2).
    pub fn open_with(path: &Path, resolve: Resolve) -> io::Result<Docroot> {
        let path = path.canonicalize()?;
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in docroot path"))?;
        let cwd = std::fs::File::open("/")?;
        let dir = sys::open_at(cwd.as_fd(), &c, sys::O_DIR_PATH)?;
        Ok(Docroot { dir, path, resolve })
    }

    /// The docroot's canonical path (for messages; files are never opened by this path).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves `rel` (the part of the path after `/static/`, still percent-encoded).
    /// The file is not read here: the response holds it open and the connection streams it
    /// after the head (`sendfile`), so serving a large file costs no memory of ours.
    pub fn serve(&self, rel: &str) -> Response {
        match self.open_file(rel) {
            Ok(f) => Response::file(Status::OK, f.content_type, f.file, f.len),
            Err(refusal) => refusal.response(),
        }
    }

    /// Opens the regular file that `rel` names under the docroot (a directory's `index.html`).
    pub fn open_file(&self, rel: &str) -> Result<StaticFile, Refusal> {
        let decoded = decode(rel)?;
        let mut segments = segments(&decoded)?;
        let mut file = fs::File::from(self.open_segments(&segments)?);
        let mut meta = file
            .metadata()
            .map_err(|_| Refusal::Forbidden("not readable"))?;
        if meta.is_dir() {
            // A directory serves its index.html, resolved from the docroot again with the same
            // guarantee (a symlinked index.html pointing outside is refused like any other path).
            segments.push("index.html");
            file = fs::File::from(self.open_segments(&segments)?);
            meta = file
                .metadata()
                .map_err(|_| Refusal::Forbidden("not readable"))?;
        }
        if !meta.is_file() {
            return Err(Refusal::Forbidden("not a regular file"));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(Refusal::Forbidden("file too large"));
        }
        let name = segments.last().copied().unwrap_or("index.html");
        Ok(StaticFile {
            file,
            len: meta.len(),
            content_type: content_type(Path::new(name)),
        })
    }

    /// Opens the path made of `segments` under the docroot, by the kernel's rules.
    fn open_segments(&self, segments: &[&str]) -> Result<OwnedFd, Refusal> {
        let walk = self.resolve == Resolve::Walk || OPENAT2_MISSING.load(Ordering::Relaxed);
        let result = if walk {
            self.walk(segments)
        } else {
            let joined = if segments.is_empty() {
                ".".to_string()
            } else {
                segments.join("/")
            };
            let path = CString::new(joined).map_err(|_| Refusal::Forbidden("NUL in path"))?;
            match sys::open_beneath(self.dir.as_fd(), &path, sys::O_SERVE) {
                Err(e) if matches!(e.raw_os_error(), Some(sys::ENOSYS) | Some(sys::EPERM)) => {
                    OPENAT2_MISSING.store(true, Ordering::Relaxed);
                    self.walk(segments)
                }
                other => other,
            }
        };
        result.map_err(|e| refusal(&e))
    }

    /// The fallback: one `openat(O_NOFOLLOW)` per component, directories opened `O_PATH`.
    fn walk(&self, segments: &[&str]) -> io::Result<OwnedFd> {
        let Some((last, dirs)) = segments.split_last() else {
            let dot = CString::new(".").expect("no NUL");
            return sys::open_at(self.dir.as_fd(), &dot, sys::O_SERVE | sys::O_NOFOLLOW);
        };
        let mut held: Option<OwnedFd> = None;
        for name in dirs {
            let c = CString::new(*name)?;
            let parent = held.as_ref().map_or(self.dir.as_fd(), |fd| fd.as_fd());
            held = Some(sys::open_at(parent, &c, sys::O_DIR_PATH | sys::O_NOFOLLOW)?);
        }
        let c = CString::new(*last)?;
        let parent = held.as_ref().map_or(self.dir.as_fd(), |fd| fd.as_fd());
        sys::open_at(parent, &c, sys::O_SERVE | sys::O_NOFOLLOW)
    }
}

/// Serves `rel` from `docroot`; see [`Docroot::serve`].
pub fn serve(docroot: &Docroot, rel: &str) -> Response {
    docroot.serve(rel)
}

/// Decodes `rel`, refusing what can never name a file beneath the docroot.
fn decode(rel: &str) -> Result<String, Refusal> {
    let decoded = percent_decode_str(rel)
        .decode_utf8()
        .map_err(|_| Refusal::NotFound)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(Refusal::Forbidden("outside the docroot"));
    }
    Ok(decoded.into_owned())
}

/// Splits a decoded path into the names to open; `..` is refused before any system call.
fn segments(decoded: &str) -> Result<Vec<&str>, Refusal> {
    let mut out = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(Refusal::Forbidden("outside the docroot")),
            s => out.push(s),
        }
    }
    Ok(out)
}

/// The status for an error from opening a path under the docroot.
fn refusal(e: &io::Error) -> Refusal {
    match e.raw_os_error() {
        Some(sys::ENOENT) | Some(sys::ENOTDIR) => Refusal::NotFound,
        // EXDEV: the path would leave the docroot; ELOOP: a refused symbolic or magic link.
        Some(sys::EXDEV) | Some(sys::ELOOP) => Refusal::Forbidden("outside the docroot"),
        _ => Refusal::Forbidden("not readable"),
    }
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

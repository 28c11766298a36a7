//! The `lab` command line: listing models, one-line errors for bad flags and impossible settings.

mod common;

use common::lab;

/// `lab models` lists every registered model, one line each, and no other.
#[test]
fn models_lists_every_registered_model() {
    let (ok, stdout, _) = lab(&["models"]);
    assert!(ok);
    for model in http_lab::models::ALL {
        assert!(
            stdout.lines().any(|l| l.starts_with(model.name())),
            "{} missing from:\n{stdout}",
            model.name()
        );
    }
    assert_eq!(stdout.lines().count(), http_lab::models::ALL.len());
}

#[test]
fn bad_flags_get_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--model", "nope"], "--model"),
        (
            &["serve", "--model", "single_thread", "--addr", "nonsense"],
            "--addr",
        ),
        (
            &["serve", "--model", "single_thread", "--max-headers", "0"],
            "--max-headers",
        ),
        (
            &["serve", "--model", "single_thread", "--max-headers", "1000"],
            "--max-headers",
        ),
        (
            &[
                "serve",
                "--model",
                "single_thread",
                "--header-timeout",
                "abc",
            ],
            "--header-timeout",
        ),
        (
            &["serve", "--model", "single_thread", "--idle-timeout", "0"],
            "--idle-timeout",
        ),
        (
            &[
                "serve",
                "--model",
                "single_thread",
                "--max-target-bytes",
                "100000",
            ],
            "--max-target-bytes",
        ),
        (
            &[
                "serve",
                "--model",
                "thread_per_request",
                "--stack-size",
                "100",
            ],
            "--stack-size",
        ),
        (
            &[
                "serve",
                "--model",
                "thread_per_request",
                "--max-threads",
                "0",
            ],
            "--max-threads",
        ),
        (
            &[
                "serve",
                "--model",
                "single_thread",
                "--docroot",
                "/no/such/dir",
            ],
            "--docroot",
        ),
        (&["serve", "--model", "single_thread", "--bogus"], "--bogus"),
    ];
    for (args, flag) in cases {
        let (ok, stdout, stderr) = lab(args);
        assert!(!ok, "{args:?} should fail");
        assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line:\n{stderr}"
        );
        assert!(
            stderr.contains(flag),
            "{args:?}: {stderr} does not name {flag}"
        );
    }
}

#[test]
fn address_in_use_names_the_flag_and_the_fix() {
    let server = common::Server::start("single_thread", &[]);
    let addr = server.addr.to_string();
    let (ok, _, stderr) = lab(&["serve", "--model", "single_thread", "--addr", &addr]);
    assert!(!ok);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--addr") && stderr.contains("already in use"),
        "{stderr}"
    );
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn sigint_also_stops_gracefully() {
    let server = common::Server::start("thread_per_request", &[]);
    let mut c = server.connect();
    assert_eq!(c.get("/hello").status, 200);
    common::signal(server.pid(), libc::SIGINT);
    drop(c);
    let (status, _) = server.stop();
    assert!(status.success(), "{status}");
}

/// The README's server-flag table names every model's flags (they are declared in the model
/// crates, so a new flag must be documented where users look).
#[test]
fn readme_documents_every_model_flag() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for (model, arg) in http_lab::models::declared_args() {
        let long = arg.get_long().expect("model flags are long flags");
        assert!(
            readme.contains(&format!("`--{long}`")),
            "README.md does not document {model}'s --{long}"
        );
    }
}

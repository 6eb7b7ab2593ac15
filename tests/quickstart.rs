//! The README's set-up commands, run as written: every line of the shell
//! blocks (```sh) of its "Set-up" section goes verbatim through `sh -c`, in
//! order, from the root of a fresh copy of the repository (what `git clone`
//! gives a newcomer: nothing built, no `zerodown.db`, no state file), with no
//! database server needed. `cargo test`, the command that runs this very
//! test, is not run again; it must be the command `.ci/run` runs.
//!
//! The copy holds the files git tracks, plus the new ones it does not ignore,
//! as they are in the working tree (so the test checks the sources being
//! tested, committed or not). `cargo run --release` builds zerodown, as for a
//! newcomer, into this test's own target directory (CARGO_TARGET_DIR): the
//! copy keeps the files' modification times, so a release build of the same
//! sources is reused, and the first run of this test makes one.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use support::{remove_cargo_test_env, text, Scratch};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The command lines of the shell blocks of the README's "Set-up" section,
/// in order (blank lines and `#` comments left out).
fn readme_setup_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).expect("README.md");
    let start = readme.find("\n## Set-up\n").expect("a Set-up section") + 1;
    let section = &readme[start..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
        } else if in_sh && !trimmed.is_empty() && !trimmed.starts_with('#') {
            assert!(
                !trimmed.ends_with('\\'),
                "one command per line, no continuation: {trimmed}"
            );
            commands.push(trimmed.to_string());
        }
    }
    commands
}

fn is_test_command(command: &str) -> bool {
    command.split_whitespace().take(2).eq(["cargo", "test"])
}

/// The zerodown subcommand of a `cargo run … -- SUBCOMMAND …` line.
fn subcommand(command: &str) -> Option<&str> {
    command.split_whitespace().skip_while(|w| *w != "--").nth(1)
}

/// The test command `.ci/run` runs.
fn ci_test_command() -> String {
    let ci = std::fs::read_to_string(Path::new(REPO).join(".ci/run")).expect(".ci/run");
    let found: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| is_test_command(l))
        .collect();
    assert_eq!(found.len(), 1, "one test command in .ci/run: {found:?}");
    found[0].to_string()
}

/// Copy the repository's files (tracked, or new and not ignored) into `to`,
/// with their modification times.
fn copy_checkout(to: &Path) {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(REPO)
        .output()
        .expect("run git: the test copies the repository's files as git lists them");
    assert!(out.status.success(), "git ls-files: {}", text(&out.stderr));
    let files: BTreeSet<&[u8]> = out.stdout.split(|b| *b == 0).collect();
    let mut copied = 0;
    for file in files.into_iter().filter(|f| !f.is_empty()) {
        let rel = Path::new(std::str::from_utf8(file).expect("a UTF-8 path"));
        let from = Path::new(REPO).join(rel);
        let Ok(meta) = std::fs::metadata(&from) else {
            continue; // deleted in the working tree, not yet in git
        };
        if !meta.is_file() {
            continue;
        }
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&from, &target).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&target)
            .and_then(|f| f.set_modified(meta.modified()?))
            .unwrap();
        copied += 1;
    }
    assert!(
        copied > 0 && to.join("Cargo.toml").is_file(),
        "copied the repository"
    );
}

/// The target directory this test was built in.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .to_path_buf()
}

/// Run one README line as written, with `sh -c`, in `dir`, in the
/// environment of a newcomer's shell: what cargo set for this test and
/// zerodown's own variables are left out.
fn sh(line: &str, dir: &Path) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).current_dir(dir);
    remove_cargo_test_env(&mut cmd);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("ZERODOWN_") || key == "DATABASE_URL" {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("CARGO_TARGET_DIR", target_dir());
    let started = Instant::now();
    let out = cmd.output().expect("run sh");
    eprintln!("`{line}`: {:?} in {:.1?}", out.status, started.elapsed());
    out
}

fn explain(line: &str, out: &Output) -> String {
    format!(
        "`{line}` exited with {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// After the quick start: version 2's schema, the sample rows, nothing of
/// the rename's twin column and triggers left.
fn check_quickstart_database(path: &Path) {
    assert!(
        path.is_file(),
        "the embedded default database file zerodown.db"
    );
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let names = |kind: &str| -> Vec<String> {
        let mut stmt = db
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = ?1 AND name NOT LIKE 'sqlite_%' \
                 ORDER BY name",
            )
            .unwrap();
        stmt.query_map([kind], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(names("table"), ["notes", "users", "zerodown_history"]);
    assert_eq!(names("index"), ["notes_user_idx"]);
    assert_eq!(
        names("trigger"),
        Vec::<String>::new(),
        "no sync trigger left"
    );
    let columns = |table: &str| -> Vec<String> {
        let mut stmt = db
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // The twin column full_name was added after the others.
    assert_eq!(columns("users"), ["id", "email", "full_name"]);
    assert_eq!(columns("notes"), ["id", "user_id", "body", "pinned"]);
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM users WHERE full_name <> ''"), 3);
    assert_eq!(
        count("SELECT count(*) FROM notes WHERE pinned = 0"),
        5,
        "backfilled"
    );
}

#[test]
fn the_readme_set_up_commands_work_as_written_on_a_fresh_clone() {
    let commands = readme_setup_commands();
    let tests: Vec<&String> = commands.iter().filter(|c| is_test_command(c)).collect();
    assert_eq!(tests.len(), 1, "one command runs the tests: {commands:?}");
    assert_eq!(
        *tests[0],
        ci_test_command(),
        "the README's test command is the one .ci/run runs"
    );
    let quickstart: Vec<&String> = commands.iter().filter(|c| !is_test_command(c)).collect();
    let subcommands: Vec<Option<&str>> = quickstart.iter().map(|c| subcommand(c)).collect();
    assert_eq!(
        subcommands,
        [Some("apply"), Some("status"), Some("plan")],
        "the quick start applies, then shows the status and the example plans: {quickstart:?}"
    );

    let clone = Scratch::new();
    copy_checkout(&clone.0);
    assert!(!clone.path("zerodown.db").exists() && !clone.path(".zerodown/state.json").exists());

    for line in &quickstart {
        let out = sh(line, &clone.0);
        let stdout = text(&out.stdout);
        match subcommand(line) {
            Some("apply") => {
                assert!(out.status.success(), "{}", explain(line, &out));
                for shown in [
                    "── schema at 2.migrate ──",
                    "app: 2/2 on 1.1.0",
                    "Done: version 1, 2 applied.",
                ] {
                    assert!(
                        stdout.contains(shown),
                        "{shown:?} not shown: {}",
                        explain(line, &out)
                    );
                }
                check_quickstart_database(&clone.path("zerodown.db"));
            }
            Some("status") => {
                assert!(out.status.success(), "{}", explain(line, &out));
                assert!(
                    stdout.contains("version 2: complete"),
                    "{}",
                    explain(line, &out)
                );
            }
            Some("plan") => {
                // 2: the plans are valid and have changes to make.
                assert_eq!(out.status.code(), Some(2), "{}", explain(line, &out));
                for dir in std::fs::read_dir(clone.path("plans")).unwrap() {
                    let dir = dir.unwrap();
                    if !dir.file_type().unwrap().is_dir() {
                        continue;
                    }
                    let name = dir.file_name();
                    let shown = format!("Plan set plans/{} (", name.to_string_lossy());
                    assert!(
                        stdout.contains(&shown),
                        "{shown:?} not shown: {}",
                        explain(line, &out)
                    );
                }
            }
            _ => unreachable!(),
        }
    }

    // Applying again has nothing to do.
    let again = sh(quickstart[0], &clone.0);
    assert!(again.status.success(), "{}", explain(quickstart[0], &again));
    assert!(
        text(&again.stdout).contains("No changes"),
        "{}",
        explain(quickstart[0], &again)
    );
    check_quickstart_database(&clone.path("zerodown.db"));
}

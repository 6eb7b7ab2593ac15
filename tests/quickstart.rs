//! The README's quick-start command, run as written: the first command of
//! the "Set-up" section, on a machine with no database server (the embedded
//! SQLite default), from a copy of the repository's plans and deploy scripts.

mod support;

use std::path::Path;
use std::process::Command;

use support::{text, Scratch};

/// The set-up commands of the README, in order.
fn readme_setup_commands() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let section = readme.split("## Set-up").nth(1).expect("a Set-up section");
    let block = section
        .split("```sh")
        .nth(1)
        .expect("a sh block")
        .split("```")
        .next()
        .unwrap();
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_readme_quick_start_applies_the_example_to_sqlite() {
    let commands = readme_setup_commands();
    assert_eq!(commands.len(), 2, "two set-up commands: {commands:?}");
    assert_eq!(
        commands[1], "cargo test",
        "the second runs the tests, as .ci/run does"
    );
    // `cargo run --release -- ARGS` runs the zerodown binary with ARGS; the
    // test runs the binary cargo built for it with the same ARGS.
    let args = commands[0]
        .strip_prefix("cargo run --release -- ")
        .expect("the first command runs zerodown");
    let args: Vec<&str> = args.split_whitespace().collect();

    let scratch = Scratch::new();
    copy_dir(Path::new("plans"), &scratch.path("plans"));
    copy_dir(Path::new("deploy"), &scratch.path("deploy"));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zerodown"))
            .args(args)
            .current_dir(&scratch.0)
            .env_remove("DATABASE_URL")
            .env_remove("ZERODOWN_FAILPOINT")
            .env_remove("ZERODOWN_DEMO_FLEET")
            .output()
            .expect("run zerodown")
    };

    let out = run(&args);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "quick start failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("── schema at 2.migrate ──"),
        "phases are shown:\n{stdout}"
    );
    assert!(
        stdout.contains("app: 2/2 on 1.1.0"),
        "the demo fleet rolled:\n{stdout}"
    );
    assert!(
        stdout.contains("Done: version 1, 2 applied."),
        "a summary:\n{stdout}"
    );
    assert!(
        scratch.path("zerodown.db").is_file(),
        "the embedded default database file"
    );

    let status = run(&["status"]);
    let status_out = text(&status.stdout);
    assert!(
        status.status.success(),
        "{status_out}{}",
        text(&status.stderr)
    );
    assert!(status_out.contains("version 2: complete"), "{status_out}");

    // Applying again has nothing to do.
    let again = run(&args);
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains("No changes"),
        "{}",
        text(&again.stdout)
    );
}

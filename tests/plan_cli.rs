//! `zerodown plan` end to end: the binary on the example plans and on every
//! error input, with snapshots of what the user sees and the exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn zerodown(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zerodown"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run zerodown");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn example_sets() -> Vec<PathBuf> {
    let mut sets: Vec<PathBuf> = std::fs::read_dir("plans")
        .expect("plans/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    sets
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_example_plan_renders_in_every_format() {
    let sets = example_sets();
    assert!(sets.len() >= 2, "expected example plan sets in plans/");
    for set in sets {
        let dir = set.to_str().unwrap();
        for format in ["text", "json", "markdown", "dot"] {
            let (code, stdout, stderr) = zerodown(&["plan", dir, "--format", format, "--no-color"]);
            assert_eq!(
                code, 2,
                "{dir} --format {format}: exit 2 (changes) expected; stderr:\n{stderr}"
            );
            assert!(stderr.is_empty(), "{dir}: unexpected stderr:\n{stderr}");
            snapshot_settings().bind(|| {
                insta::assert_snapshot!(format!("plan-{}-{format}", name_of(&set)), stdout);
            });
        }
    }
}

#[test]
fn json_output_is_valid_json_with_every_task() {
    let (code, stdout, _) = zerodown(&["plan", "plans", "--format", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let sets = v["plan_sets"].as_array().expect("plan_sets");
    assert_eq!(sets.len(), example_sets().len());
    for set in sets {
        let tasks = set["tasks"].as_array().expect("tasks");
        assert!(!tasks.is_empty());
        let ids: std::collections::HashSet<&str> =
            tasks.iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), tasks.len(), "task IDs are unique");
        for t in tasks {
            for dep in t["depends_on"].as_array().expect("depends_on") {
                assert!(
                    ids.contains(dep.as_str().unwrap()),
                    "dependency {dep} is a task"
                );
            }
        }
    }
}

#[test]
fn the_whole_plans_folder_prints_every_example() {
    let (code, stdout, stderr) = zerodown(&["plan", "plans", "--no-color"]);
    assert_eq!(code, 2, "stderr:\n{stderr}");
    for set in example_sets() {
        assert!(
            stdout.contains(set.to_str().unwrap()),
            "output mentions {}",
            set.display()
        );
    }
    assert!(stdout.contains("Plan: "), "summary line present");
}

#[test]
fn text_output_has_colour_only_when_asked() {
    // Not a terminal: no colour by default.
    let (_, plain, _) = zerodown(&["plan", "plans/pg-shop"]);
    assert!(!plain.contains('\u{1b}'));
    let (_, nocolor, _) = zerodown(&["plan", "plans/pg-shop", "--no-color"]);
    assert_eq!(plain, nocolor);
}

#[test]
fn nothing_to_do_exits_zero() {
    let (code, stdout, stderr) = zerodown(&["plan", "tests/inputs/up-to-date", "--no-color"]);
    assert_eq!(code, 0, "stderr:\n{stderr}");
    snapshot_settings().bind(|| insta::assert_snapshot!("plan-up-to-date", stdout));
}

#[test]
fn an_unsafe_rollout_is_refused_naming_both_tasks() {
    let (code, stdout, stderr) = zerodown(&["plan", "tests/inputs/incompatible"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("v2/rollout/api/1"),
        "names the rollout task:\n{stderr}"
    );
    assert!(
        stderr.contains("v2/migrate"),
        "names the schema task:\n{stderr}"
    );
    assert!(
        stderr.contains("1 ..= 2.expand"),
        "names the range:\n{stderr}"
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("error-incompatible", stderr));
}

#[test]
fn every_error_input_fails_with_a_located_message() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/inputs/errors")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15);
    for case in cases {
        let (code, stdout, stderr) = zerodown(&["plan", case.to_str().unwrap()]);
        assert_eq!(
            code,
            1,
            "{}: exit 1 expected; stdout:\n{stdout}",
            case.display()
        );
        assert!(stdout.is_empty(), "{}: nothing on stdout", case.display());
        assert!(
            stderr.contains(case.to_str().unwrap()),
            "{}: the message names the file:\n{stderr}",
            case.display()
        );
        assert!(
            stderr.contains("help:"),
            "{}: the message says what to do:\n{stderr}",
            case.display()
        );
        snapshot_settings()
            .bind(|| insta::assert_snapshot!(format!("error-{}", name_of(&case)), stderr));
    }
}

#[test]
fn a_missing_path_is_an_error() {
    let (code, _, stderr) = zerodown(&["plan", "no/such/dir"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no such file or directory"));
}

#[test]
fn help_documents_exit_codes() {
    let (code, stdout, _) = zerodown(&["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Exit codes"));
    assert!(stdout.contains("--format"));
}

/// A typo on the command line is neither success nor "has changes" (2),
/// which a CI gate would pass: it exits 64; `--help` exits 0.
#[test]
fn a_usage_error_exits_64_and_help_exits_0() {
    let (code, stdout, stderr) = zerodown(&["plan", "--no-colour", "plans/"]);
    assert_eq!(code, 64, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("--no-colour"), "{stderr}");
    assert!(stdout.is_empty());
    let (code, _, _) = zerodown(&["frobnicate"]);
    assert_eq!(code, 64);
    let (code, stdout, _) = zerodown(&["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("64"),
        "--help documents the exit code:\n{stdout}"
    );
}

//! What zerodown generates about itself, run as a user would: the shell
//! completion scripts (`zerodown completions SHELL`, the bash one driven
//! through bash's own completion machinery) and the man pages
//! (`zerodown man`, rendered by groff).

use std::io::Write;
use std::process::{Command, Stdio};

use clap::CommandFactory;

fn zerodown(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zerodown"))
        .args(args)
        .output()
        .expect("run zerodown");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

/// zerodown's commands, from its clap definitions (clap's `help` aside).
fn commands() -> Vec<String> {
    let names: Vec<String> = zerodown::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    // The definitions themselves are what is tested elsewhere; this list
    // only has to hold the commands a user knows.
    for known in ["plan", "apply", "resume", "abort", "status", "purge"] {
        assert!(names.iter().any(|n| n == known), "{known} in {names:?}");
    }
    names
}

/// Run `script` in bash with `input` on its standard input.
fn bash(script: &str, input: &str) -> (bool, String, String) {
    let mut child = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash (the completion test drives bash's completion)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// What bash offers for the command line `words` (the last one being
/// completed) once the script on stdin is sourced, as a user's shell would
/// after installing it: the function `complete -p zerodown` names is called
/// the way bash calls it.
fn bash_completions(script: &str, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let driver = format!(
        r#"source /dev/stdin
spec=$(complete -p zerodown) || exit 1
fn=$(printf '%s\n' "$spec" | sed -E 's/.*-F ([^ ]+).*/\1/')
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$fn" zerodown "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = quoted.join(" ")
    );
    let (ok, stdout, stderr) = bash(&driver, script);
    assert!(ok, "completing {words:?} failed:\n{stderr}");
    stdout.lines().map(str::to_string).collect()
}

#[test]
fn the_bash_script_completes_every_command_and_the_options() {
    let (code, script, stderr) = zerodown(&["completions", "bash"]);
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let (ok, _, syntax) = bash("bash -n /dev/stdin", &script);
    assert!(ok, "the bash script does not parse:\n{syntax}");
    for command in commands() {
        assert!(script.contains(&command), "the script names {command}");
    }
    assert!(script.contains("--until"));

    let offered = bash_completions(&script, &["zerodown", ""]);
    for command in commands() {
        assert!(
            offered.contains(&command),
            "`zerodown <TAB>` offers {command}: {offered:?}"
        );
    }
    assert_eq!(
        bash_completions(&script, &["zerodown", "apply", "--unt"]),
        ["--until"]
    );
    assert_eq!(
        bash_completions(&script, &["zerodown", "apply", "--until", ""]),
        ["expand", "migrate", "contract"]
    );
    let formats = bash_completions(&script, &["zerodown", "plan", "--format", ""]);
    assert_eq!(formats, ["text", "json", "markdown", "dot"]);
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef zerodown"),
        ("fish", "complete -c zerodown"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[zerodown]"),
    ] {
        let (code, script, stderr) = zerodown(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: stderr:\n{stderr}");
        assert!(script.contains(marker), "{shell}: {marker:?} in the script");
        assert!(
            script.contains("until"),
            "{shell}: the script knows --until"
        );
    }
    let (code, _, stderr) = zerodown(&["completions", "tcsh"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("possible values"), "{stderr}");
}

/// The page rendered by groff as `man` would (`-man`, every warning on):
/// its text, or the warnings.
fn groff(page: &str) -> String {
    let mut child = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rLL=200n"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff (Debian's groff-base, which man-db needs) renders the man pages");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.is_empty(),
        "groff warns:\n{warnings}"
    );
    // Without the terminal's bold and underline (`x\bx`, `_\bx`).
    let text = String::from_utf8_lossy(&out.stdout);
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The first request of a page, past the apostrophe preamble (`.ie`/`.el`)
/// that roff writers put before it.
fn first_request(page: &str) -> &str {
    page.lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap_or("")
}

#[test]
fn the_man_page_is_roff_and_lists_every_command() {
    let (code, page, stderr) = zerodown(&["man"]);
    assert_eq!(code, 0, "stderr:\n{stderr}");
    assert!(
        first_request(&page).starts_with(".TH zerodown 1 "),
        "the page starts with its title:\n{page}"
    );
    let text = groff(&page);
    for command in commands() {
        assert!(
            text.contains(&format!("zerodown-{command}(1)")),
            "zerodown(1) lists zerodown-{command}(1):\n{text}"
        );
    }
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"] {
        assert!(
            text.lines().any(|l| l == section),
            "a {section} section:\n{text}"
        );
    }
    assert!(!text.contains("EXTRA"), "no EXTRA section:\n{text}");
    assert!(
        text.contains("zerodown resume` continues"),
        "exit code 3:\n{text}"
    );
}

#[test]
fn each_command_has_its_page() {
    let (code, page, stderr) = zerodown(&["man", "apply"]);
    assert_eq!(code, 0, "stderr:\n{stderr}");
    assert!(first_request(&page).starts_with(".TH zerodown-apply 1 "));
    let text = groff(&page);
    assert!(text.contains("zerodown apply"), "the synopsis:\n{text}");
    assert!(text.contains("--until"), "the options:\n{text}");
    assert!(
        text.contains("Possible values") && text.contains("contract"),
        "--until's values:\n{text}"
    );

    let (code, _, stderr) = zerodown(&["man", "aply"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("plan, apply, resume"), "{stderr}");
}

#[test]
fn man_dir_writes_every_page() {
    let dir = std::env::temp_dir().join(format!("zerodown-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, stdout, stderr) = zerodown(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let mut want = vec!["zerodown.1".to_string()];
    want.extend(commands().iter().map(|c| format!("zerodown-{c}.1")));
    for name in &want {
        let path = dir.join(name);
        assert!(stdout.contains(path.to_str().unwrap()), "{name} told");
        let page = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let stem = name.trim_end_matches(".1");
        assert!(first_request(&page).starts_with(&format!(".TH {stem} 1 ")));
        groff(&page);
        if name != "zerodown.1" {
            let (_, printed, _) = zerodown(&["man", &stem["zerodown-".len()..]]);
            assert_eq!(page, printed, "{name} is what `zerodown man` prints");
        }
    }
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    want.sort();
    assert_eq!(written, want);
    std::fs::remove_dir_all(&dir).unwrap();
}

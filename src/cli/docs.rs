//! Documentation generated from the clap definitions, so that it cannot
//! drift from the command line: shell completion scripts (clap_complete)
//! and manual pages (clap_mangen).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};

use super::{exit, fail, Cli, ManArgs, DOCUMENTATION, EXIT_CODES};

/// The binary's name, as the shells and `man` know it.
const BIN: &str = "zerodown";

/// The DESCRIPTION of zerodown(1) (`--help` has the one-line about).
const DESCRIPTION: &str = "\
zerodown upgrades a database and the application fleet using it without \
downtime. A plan file (YAML) holds ordinary DDL; zerodown parses every \
statement, classifies it for the plan's engine (PostgreSQL, MySQL or MariaDB, \
SQLite), splits it into expand, migrate, node rollout and contract steps that \
never block traffic, and proves before anything runs that every release \
running in the fleet stays compatible with the schema at every step.

Each command has its page, listed below (`man zerodown-apply`); \
`zerodown COMMAND --help` prints the same.";

/// `zerodown completions SHELL`: the script on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut script);
    write_stdout(&script)
}

/// `zerodown man [COMMAND]`: one page on stdout; `zerodown man --dir DIR`:
/// every page into DIR, each path written on stdout.
pub fn man(args: ManArgs) -> ExitCode {
    let pages = man_pages();
    if let Some(dir) = &args.dir {
        return write_pages(&pages, dir);
    }
    let wanted = args.command.as_deref();
    let page = match wanted {
        None => pages.first(),
        Some(name) => pages.iter().skip(1).find(|p| p.get_name() == name),
    };
    match page {
        Some(page) => write_stdout(&render_page(page)),
        None => fail(format!(
            "`{}` is not a zerodown command; the commands are {}",
            wanted.unwrap_or_default(),
            pages
                .iter()
                .skip(1)
                .map(|p| p.get_name())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// zerodown's page first, then one per command (`zerodown-apply`, …), in
/// the order of `--help`. Built, so that each command knows its page name
/// (`zerodown-apply`) and its synopsis (`zerodown apply`); without clap's
/// `help` command, which has no page of its own.
fn man_pages() -> Vec<clap::Command> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = vec![root.clone().long_about(DESCRIPTION)];
    pages.extend(root.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    pages
}

/// The file name of a page: `zerodown.1`, `zerodown-apply.1`.
fn page_file_name(page: &clap::Command) -> String {
    format!("{}.1", page.get_display_name().unwrap_or(BIN))
}

fn write_pages(pages: &[clap::Command], dir: &Path) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fail(format!("cannot create {}: {e}", dir.display()));
    }
    for page in pages {
        let path = dir.join(page_file_name(page));
        if let Err(e) = std::fs::write(&path, render_page(page)) {
            return fail(format!("cannot write {}: {e}", path.display()));
        }
        println!("{}", path.display());
    }
    ExitCode::from(exit::OK)
}

/// One page in roff: clap_mangen's sections, with the exit codes as an
/// EXIT STATUS list (clap_mangen would print `--help`'s closing text as one
/// run-on paragraph headed EXTRA) and a SEE ALSO.
fn render_page(page: &clap::Command) -> Vec<u8> {
    let is_root = page.get_display_name().is_none_or(|n| n == BIN);
    let man = clap_mangen::Man::new(page.clone().after_help(None::<&'static str>))
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")));
    let mut page_roff = Vec::new();
    // Writing into a Vec does not fail.
    let _ = man.render(&mut page_roff);
    // No hyphenation and a ragged right margin, so that a path or a
    // command in the text reads (and copies) as written: right after `.TH`.
    let mut text = String::from_utf8_lossy(&page_roff).into_owned();
    if let Some(title) = text.find("\n.TH ") {
        let after_title = text[title + 1..]
            .find('\n')
            .map_or(text.len(), |end| title + 1 + end + 1);
        text.insert_str(after_title, ".nh\n.ad l\n");
    }

    let mut extra = Roff::new();
    extra.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_CODES {
        extra.control("TP", []);
        extra.text([bold(code.to_string())]);
        extra.text([roman(meaning)]);
    }
    extra.control("SH", ["SEE ALSO"]);
    if !is_root {
        extra.text([bold(BIN), roman("(1); ")]);
    }
    extra.text([roman(format!(
        "{DOCUMENTATION}, in the zerodown repository."
    ))]);
    // The page's preamble (from clap_mangen) already defines what `render`
    // would define again.
    text.push_str(&extra.to_roff());
    text.into_bytes()
}

/// Write to stdout; a closed pipe (`zerodown man | head`) is exit 1, quietly.
fn write_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(_) => ExitCode::from(exit::ERROR),
    }
}

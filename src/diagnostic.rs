//! Errors that point into the user's files: file, line, column, the change
//! they concern, what is wrong and what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem found in a plan, a schema file or `releases.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the file as a whole.
    pub line: u64,
    pub column: u64,
    /// The 1-based index of the change (`changes:` entry) concerned.
    pub change: Option<usize>,
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// The offending source lines, with a caret, when the source is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: 0,
            column: 0,
            change: None,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    pub fn at(mut self, line: u64, column: u64) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    pub fn change(mut self, index: usize) -> Self {
        self.change = Some(index);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attach the source lines around the location.
    pub fn with_source(mut self, source: &str) -> Self {
        if self.line > 0 {
            self.snippet = Some(snippet(source, self.line, self.column));
        }
        self
    }
}

/// Two lines of context before the offending line, then a caret under the
/// column.
fn snippet(source: &str, line: u64, column: u64) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let idx = (line as usize).saturating_sub(1);
    if idx >= lines.len() {
        return String::new();
    }
    let first = idx.saturating_sub(2);
    let width = (idx + 1).to_string().len();
    let mut out = String::new();
    for (n, text) in lines.iter().enumerate().take(idx + 1).skip(first) {
        out.push_str(&format!("{:>width$} | {}\n", n + 1, text));
    }
    let pad = (column as usize).saturating_sub(1);
    out.push_str(&format!("{:>width$} | {}^", "", " ".repeat(pad)));
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(change) = self.change {
            write!(f, ": change #{change}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found at once, like a compiler: fixing one at a time and
/// re-running is slow when a plan has several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// Turn a YAML error from serde-saphyr into our diagnostic, with our own
/// snippet and a hint for the common mistakes.
pub fn from_yaml(file: &Path, source: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let mut message = err.without_snippet().to_string();
    // The library appends the position in words; we print it as file:line:col.
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    let help = if message.starts_with("unknown field") {
        "remove the key or fix its spelling; the expected keys are listed above"
    } else if message.starts_with("duplicate mapping key") {
        "a key may appear once per map; remove one of them"
    } else if message.starts_with("missing field") {
        "add the missing key; README.md documents the plan format"
    } else if message.contains("invalid boolean") {
        "write `true` or `false`"
    } else if message.contains("`raw:`") {
        "a raw change reads `- raw: \"SQL\"` with `phase: expand|migrate|contract` (README.md, \"The escape hatch\")"
    } else {
        "README.md documents the plan format"
    };
    Diagnostic::new(file, message)
        .at(line, column)
        .with_source(source)
        .help(help)
}

//! Local file names from names the server hands out.
//!
//! A stored object's `filename` is whatever its uploader chose, so it may be
//! `../../.bashrc`, `C:\x\report.pdf` or contain control characters. Before
//! it names a file on this machine it goes through [`safe_file_name`].

use crate::error::{Error, Result};

/// Turns a server-provided file name into one that names a file inside the
/// directory it is joined to, and nowhere else.
///
/// Only the final path component is kept (both `/` and `\` separate, since
/// uploads come from every OS); control characters, which could rewrite a
/// terminal or break a shell script, become `_`; surrounding white space is
/// dropped. An empty name, `.` or `..` is refused rather than guessed at.
pub fn safe_file_name(name: &str) -> Result<String> {
    let last_component = name.rsplit(['/', '\\']).next().unwrap_or_default();
    match last_component.trim() {
        "" | "." | ".." => Err(Error::UnsafeFileName(name.to_owned())),
        trimmed => Ok(trimmed
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(name: &str) -> Option<String> {
        safe_file_name(name).ok()
    }

    #[test]
    fn plain_names_pass_unchanged() {
        assert_eq!(safe("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(safe("café menu.txt").as_deref(), Some("café menu.txt"));
        assert_eq!(safe(".hidden").as_deref(), Some(".hidden"));
        assert_eq!(safe("a..b").as_deref(), Some("a..b"));
    }

    #[test]
    fn only_the_last_component_is_kept() {
        assert_eq!(safe("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(safe("/abs/path/x.txt").as_deref(), Some("x.txt"));
        assert_eq!(safe(r"C:\Users\me\x.txt").as_deref(), Some("x.txt"));
        assert_eq!(safe(r"..\..\evil.bat").as_deref(), Some("evil.bat"));
    }

    #[test]
    fn names_that_point_at_a_directory_are_refused() {
        for name in ["", " ", ".", "..", "a/..", "dir/", r"dir\", "a/ . ", "\t"] {
            assert_eq!(safe(name), None, "{name:?} should be refused");
        }
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(safe("a\nb\x1b[31m.txt").as_deref(), Some("a_b_[31m.txt"));
        assert_eq!(safe("nul\0byte").as_deref(), Some("nul_byte"));
    }
}

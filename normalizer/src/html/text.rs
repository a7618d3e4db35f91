//! The visible text of an HTML body, as a reader sees it: the text of the `<body>` (not of
//! `<head>`, `<title>`, `<script>`, `<style>`, `<template>`, `<noscript>`, `<iframe>`, `<svg>`,
//! `<math>`, nor of comments), character references decoded, every run of whitespace
//! (`&nbsp;` included) one space, blocks, table cells and `<br>` separating words, at most
//! [`MAX_TEXT`] bytes, cut at a space when there is one in the last tenth.

/// The most bytes of visible text kept (an email's text is a preview, like a provider's
/// snippet, not the whole body).
pub const MAX_TEXT: usize = 2048;

/// Builds the visible text from the tokenizer's text runs.
#[derive(Default)]
pub(super) struct Builder {
    out: String,
    space: bool,
    full: bool,
}

impl Builder {
    /// Appends a run of text.
    pub(super) fn push(&mut self, s: &str) {
        if self.full {
            return;
        }
        for c in s.chars() {
            if c.is_whitespace() {
                self.space = !self.out.is_empty();
                continue;
            }
            let need = c.len_utf8() + usize::from(self.space);
            if self.out.len() + need > MAX_TEXT {
                self.full = true;
                self.cut();
                return;
            }
            if self.space {
                self.out.push(' ');
                self.space = false;
            }
            self.out.push(c);
        }
    }

    /// A word boundary (a block starts or ends).
    pub(super) fn separate(&mut self) {
        self.space = !self.out.is_empty();
    }

    /// Cuts a full text at its last space, when that loses at most a tenth.
    fn cut(&mut self) {
        if let Some(i) = self.out.rfind(' ') {
            if i >= MAX_TEXT - MAX_TEXT / 10 {
                self.out.truncate(i);
            }
        }
    }

    pub(super) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_folds_and_long_text_is_cut_at_a_space() {
        let mut b = Builder::default();
        b.push("  a \n\u{a0} b");
        b.separate();
        b.push("c");
        assert_eq!(b.finish(), "a b c");
        let mut b = Builder::default();
        for _ in 0..1000 {
            b.push("word ");
        }
        let t = b.finish();
        assert!(t.len() <= MAX_TEXT && t.ends_with("word"), "{}", t.len());
    }
}

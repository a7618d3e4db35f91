//! An email's HTML body, read once with a WHATWG HTML tokenizer
//! ([html5gum](https://docs.rs/html5gum)): the schema.org markup it carries (JSON-LD blocks and
//! microdata items, as JSON for [`crate::schema_org`]) and, when asked, its visible text.
//!
//! The tokenizer does what the markup's senders rely on browsers to do, so none of it changes
//! what is read: attribute names in any case and order, values in double, single or no quotes,
//! character references (`&amp;`, `&eacute;`, `&#233;`, `&#xE9;`, and the legacy ones without
//! `;`) decoded in text and attribute values, comments and `<![CDATA[…]]>` sections (comments in
//! HTML) skipped, `<script>` and `<style>` contents read raw (a `<div>` inside a script is
//! text), duplicate attributes (the first counts). On top of the tokens `tree` keeps the
//! stack of open elements, with the HTML rules that matter for malformed mail: void elements
//! (`<meta>`, `<br>`, `<img>`, …) never open, `/>` on any other HTML element is ignored, end
//! tags close what was left open inside them, a stray end tag is ignored, the optional end tags
//! are implied (`<p>` before a block, `<li>` before `<li>`, `<td>`/`<th>` before a cell, `<tr>`
//! before a row, `<option>`, `<dt>`/`<dd>`, `<head>` at `<body>`), and everything still open at
//! the end of the input is closed.
//!
//! Cost: one pass over the body, only when needed. [`may_hold_markup`] is the gate: markup needs
//! an `itemscope` attribute or a `<script` element, and a body with neither is not tokenized
//! unless its text is wanted. The tokens go straight from the tokenizer to the tree through an
//! emitter of our own (`emitter`: names packed into integers by `names`, no copy of what nobody
//! reads); microdata (`microdata`) and visible text (`text`) are built from the same tokens.

mod emitter;
mod microdata;
mod names;
mod text;
mod tree;

pub use text::MAX_TEXT;

use html5gum::Tokenizer;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// What a body holds, as far as asked.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Body {
    /// Every JSON-LD block that parsed, in document order.
    pub json_ld: Vec<Value>,
    /// One JSON object per top-level microdata item (`@type`: the `itemtype`).
    pub microdata: Vec<Value>,
    /// The visible text (see `mod@text`), when asked for.
    pub text: Option<String>,
}

/// What to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// JSON-LD and microdata.
    pub markup: bool,
    /// The visible text.
    pub text: bool,
}

/// The gate's literals, in any ASCII case (the regex crate finds them with a vectorized
/// literal search).
static MARKERS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("(?i-u:itemscope|<script)").expect("markers compile"));

/// Whether `html` can hold schema.org markup: microdata needs an `itemscope` attribute and
/// JSON-LD a `<script` element (names, which character references cannot spell). False
/// means [`read`] would find no markup.
pub fn may_hold_markup(html: &str) -> bool {
    MARKERS.is_match(html)
}

/// Reads `html` once for what `want` asks (markup only when [`may_hold_markup`]).
pub fn read(html: &str, want: Want) -> Body {
    let want = Want {
        markup: want.markup && may_hold_markup(html),
        text: want.text,
    };
    if !want.markup && !want.text {
        return Body::default();
    }
    let mut tree = tree::Tree::new(want);
    // Reading a `&str` cannot fail.
    let _ = Tokenizer::new_with_emitter(html, emitter::Sink::new(&mut tree)).finish();
    tree.finish()
}

/// `application/ld+json`, in any case, with parameters or spaces around.
fn is_ld_json(t: &str) -> bool {
    t.split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/ld+json"))
}

/// A script's JSON, once the wrappers old mail templates put around script contents
/// (`<!-- … -->`, `<![CDATA[ … ]]>`, also behind `//` or inside `/* */`) are taken off.
fn parse_ld_json(script: &str) -> Option<Value> {
    let mut s = script.trim();
    loop {
        let before = s.len();
        for open in ["<!--", "/*<![CDATA[*/", "//<![CDATA[", "<![CDATA["] {
            if let Some(rest) = s.strip_prefix(open) {
                s = rest.trim_start();
            }
        }
        for close in ["-->", "/*]]>*/", "//]]>", "]]>"] {
            if let Some(rest) = s.strip_suffix(close) {
                s = rest.trim_end();
            }
        }
        if s.len() == before {
            break;
        }
    }
    serde_json::from_str(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MARKUP: Want = Want {
        markup: true,
        text: false,
    };
    const TEXT: Want = Want {
        markup: false,
        text: true,
    };

    #[test]
    fn gate() {
        assert!(may_hold_markup("<DIV ItemScope>"));
        assert!(may_hold_markup("<SCRIPT type=application/ld+json>"));
        assert!(!may_hold_markup("<p>schema.org</p>"));
        assert_eq!(read("<p>plain</p>", MARKUP), Body::default());
    }

    #[test]
    fn json_ld_blocks_in_every_wrapping() {
        for html in [
            r#"<script type="application/ld+json">{"a":1}</script>"#,
            r#"<SCRIPT TYPE='Application/LD+JSON; charset=utf-8'>{"a":1}</SCRIPT>"#,
            r#"<script type=application/ld+json><!-- {"a":1} --></script>"#,
            "<script type=\"application/ld+json\">//<![CDATA[\n{\"a\":1}\n//]]></script>",
            r#"<script type="application/ld&#x2B;json">/*<![CDATA[*/{"a":1}/*]]>*/</script>"#,
        ] {
            assert_eq!(read(html, MARKUP).json_ld, vec![json!({"a": 1})], "{html}");
        }
        // Not JSON-LD: another type, a commented-out block, text that only looks like one.
        for html in [
            r#"<script type="text/javascript">{"a":1}</script>"#,
            r#"<!-- <script type="application/ld+json">{"a":1}</script> -->"#,
            r#"<p>&lt;script type="application/ld+json"&gt;{"a":1}&lt;/script&gt;</p>"#,
            r#"<textarea><script type="application/ld+json">{"a":1}</script></textarea>"#,
        ] {
            assert!(read(html, MARKUP).json_ld.is_empty(), "{html}");
        }
    }

    #[test]
    fn script_contents_are_raw() {
        let b = read(
            r#"<script type="application/ld+json">{"name":"<div itemscope>&amp;</div>"}</script>"#,
            MARKUP,
        );
        assert_eq!(
            b.json_ld,
            vec![json!({"name": "<div itemscope>&amp;</div>"})]
        );
        assert!(b.microdata.is_empty());
    }

    #[test]
    fn visible_text() {
        let b = read(
            "<html><head><title>T</title><style>p{x:1}</style></head><body><p>Caf&eacute; &amp; \
             bar<p>Total:<b>12</b>&nbsp;EUR<br>Row<table><tr><td>a<td>b</table><!-- hidden -->\
             <script>var x;</script>end",
            TEXT,
        );
        assert_eq!(
            b.text.as_deref(),
            Some("Café & bar Total:12 EUR Row a b end")
        );
    }

    #[test]
    fn implied_ends() {
        let b = read(
            "<ul><li itemscope itemtype=a><span itemprop=n>x</span><li itemscope itemtype=b>\
             <span itemprop=n>y</span></ul>",
            MARKUP,
        );
        assert_eq!(
            b.microdata,
            vec![
                json!({"@type": "a", "n": "x"}),
                json!({"@type": "b", "n": "y"})
            ]
        );
    }
}

//! An email's HTML body, read once with a WHATWG HTML tokenizer
//! ([html5gum](https://docs.rs/html5gum)): the schema.org markup it carries (JSON-LD blocks and
//! microdata items, as JSON for [`crate::schema_org`]) and, when asked, its visible text.
//!
//! The tokenizer does what the markup's senders rely on browsers to do, so none of it changes
//! what is read: attribute names in any case and order, values in double, single or no quotes,
//! character references (`&amp;`, `&eacute;`, `&#233;`, `&#xE9;`, and the legacy ones without
//! `;`) decoded in text and attribute values, comments and `<![CDATA[…]]>` sections (comments in
//! HTML) skipped, `<script>` and `<style>` contents read raw (a `<div>` inside a script is
//! text), duplicate attributes (the first counts). On top of the tokens this module keeps the
//! stack of open elements, with the HTML rules that matter for malformed mail: void elements
//! (`<meta>`, `<br>`, `<img>`, …) never open, `/>` on any other HTML element is ignored, end
//! tags close what was left open inside them, a stray end tag is ignored, the optional end tags
//! are implied (`<p>` before a block, `<li>` before `<li>`, `<td>`/`<th>` before a cell, `<tr>`
//! before a row, `<option>`, `<dt>`/`<dd>`, `<head>` at `<body>`), and everything still open at
//! the end of the input is closed.
//!
//! Cost: one pass over the body, only when needed. [`may_hold_markup`] is the gate: markup needs
//! an `itemscope` attribute or a `<script` element, and a body with neither is not tokenized
//! unless its text is wanted. Microdata (`microdata`) and visible text (`text`) are built
//! from the same tokens.

mod microdata;
mod text;

pub use text::MAX_TEXT;

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Span, Tokenizer};
use regex::Regex;
use serde_json::Value;
use std::convert::Infallible;
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
    let mut r = Reader::new(want);
    {
        let mut emitter = CallbackEmitter::new(|ev: CallbackEvent<'_>, _: Span<()>| {
            r.event(ev);
            None::<Infallible>
        });
        emitter.naively_switch_states(true);
        // Reading a `&str` cannot fail.
        let _ = Tokenizer::new_with_emitter(html, Lenient(emitter)).finish();
    }
    r.finish()
}

/// An emitter that does not look for parse errors: malformed markup is read the way browsers
/// read it, and the tokenizer skips the checks that only report errors (a tenth of its time).
struct Lenient<E>(E);

impl<E: Emitter> ForwardingEmitter for Lenient<E> {
    type Token = E::Token;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.0
    }

    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn emit_error(&mut self, _: html5gum::Error) {}
}

/// A tag or attribute name (lowercased by the tokenizer) packed into one integer: its first
/// 15 bytes and its length, so that comparing names is one integer comparison. Two names
/// longer than 15 bytes with the same length and first 15 bytes compare equal (only custom
/// elements have such names).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Name(u128);

/// [`Name`]'s packing, usable in constants.
const fn pack(name: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < name.len() && i < 15 {
        v |= (name[i] as u128) << (8 * i);
        i += 1;
    }
    let len = if name.len() > 255 { 255 } else { name.len() };
    v | ((len as u128) << 120)
}

/// The packed names of a list of literals, as a constant.
macro_rules! names {
    ($($n:literal),+ $(,)?) => {
        &[$(pack($n)),+]
    };
}

impl Name {
    fn new(name: &[u8]) -> Self {
        Self(pack(name))
    }

    /// The name's (first 15) bytes.
    fn bytes(&self) -> ([u8; 16], usize) {
        let len = ((self.0 >> 120) as usize).min(15);
        (self.0.to_le_bytes(), len)
    }

    fn is(&self, names: &[u128]) -> bool {
        names.contains(&self.0)
    }
}

/// The attributes read from a start tag.
#[derive(Default)]
struct Attrs {
    itemscope: bool,
    itemtype: Option<String>,
    itemprop: Option<String>,
    content: Option<String>,
    datetime: Option<String>,
    href: Option<String>,
    src: Option<String>,
    data: Option<String>,
    value: Option<String>,
    type_: Option<String>,
    /// Some slot was set.
    set: bool,
}

#[derive(Clone, Copy)]
enum Key {
    ItemType,
    ItemProp,
    Content,
    Datetime,
    Href,
    Src,
    Data,
    Value,
    Type,
}

impl Attrs {
    /// Forgets the previous tag's attributes (most tags set none).
    fn reset(&mut self) {
        if self.itemscope || self.set {
            *self = Attrs::default();
        }
    }

    fn slot(&mut self, k: Key) -> &mut Option<String> {
        self.set = true;
        match k {
            Key::ItemType => &mut self.itemtype,
            Key::ItemProp => &mut self.itemprop,
            Key::Content => &mut self.content,
            Key::Datetime => &mut self.datetime,
            Key::Href => &mut self.href,
            Key::Src => &mut self.src,
            Key::Data => &mut self.data,
            Key::Value => &mut self.value,
            Key::Type => &mut self.type_,
        }
    }
}

/// One open element.
struct Open {
    name: Name,
    /// Its [`kind`] flags.
    kind: u8,
    /// Opened a microdata item.
    scope: bool,
    /// Collects its text as a microdata property value.
    collects: bool,
    /// A JSON-LD script.
    ld_json: bool,
}

/// What kind of element a tag name is (bit flags).
mod kind {
    /// Never has content or an end tag.
    pub const VOID: u8 = 1;
    /// Its text is not visible.
    pub const HIDDEN: u8 = 2;
    /// Separates words in the visible text.
    pub const BLOCK: u8 = 4;
    /// Its start tag ends an open `<p>`.
    pub const CLOSES_P: u8 = 8;
    /// Stops the search for a `<p>` to end.
    pub const P_STOP: u8 = 16;
    /// SVG or MathML, where `/>` closes an element.
    pub const FOREIGN: u8 = 32;
}

fn kind_of(name: Name) -> u8 {
    use kind::*;
    const TABLE: &[(&[u128], u8)] = &[
        (names!(b"td", b"th", b"caption"), BLOCK | P_STOP),
        (
            names!(b"tr", b"tbody", b"thead", b"tfoot", b"option"),
            BLOCK,
        ),
        (
            names!(
                b"address",
                b"article",
                b"aside",
                b"blockquote",
                b"center",
                b"dd",
                b"div",
                b"dl",
                b"dt",
                b"fieldset",
                b"figcaption",
                b"figure",
                b"footer",
                b"form",
                b"h1",
                b"h2",
                b"h3",
                b"h4",
                b"h5",
                b"h6",
                b"header",
                b"li",
                b"main",
                b"nav",
                b"ol",
                b"p",
                b"pre",
                b"section",
                b"ul"
            ),
            BLOCK | CLOSES_P,
        ),
        (
            names!(
                b"area", b"base", b"col", b"embed", b"img", b"input", b"link", b"meta", b"param",
                b"source", b"track", b"wbr", b"keygen"
            ),
            VOID,
        ),
        (names!(b"br"), VOID | BLOCK),
        (names!(b"hr"), VOID | BLOCK | CLOSES_P),
        (names!(b"table"), BLOCK | CLOSES_P | P_STOP),
        (
            names!(
                b"head",
                b"title",
                b"script",
                b"style",
                b"noscript",
                b"iframe",
                b"noembed",
                b"noframes",
                b"xmp"
            ),
            HIDDEN,
        ),
        (names!(b"template"), HIDDEN | P_STOP),
        (names!(b"svg", b"math"), HIDDEN | FOREIGN),
        (
            names!(b"details", b"dialog", b"dir", b"hgroup", b"menu", b"summary"),
            CLOSES_P,
        ),
        (
            names!(b"html", b"button", b"object", b"marquee", b"applet"),
            P_STOP,
        ),
    ];
    TABLE
        .iter()
        .find(|(names, _)| name.is(names))
        .map_or(0, |&(_, k)| k)
}

/// A rule of implied end tags: the elements a start tag ends (the innermost one open) and the
/// elements the search for them stops at.
type Implied = (&'static [u128], &'static [u128]);

/// The elements the start tag `name` implicitly ends, besides a `<p>` ([`kind::CLOSES_P`]).
fn implied_end(name: Name) -> Option<Implied> {
    const RULES: &[(&[u128], Implied)] = &[
        (
            names!(b"td", b"th"),
            (names!(b"td", b"th"), names!(b"tr", b"table")),
        ),
        (
            names!(b"tr"),
            (
                names!(b"tr"),
                names!(b"table", b"tbody", b"thead", b"tfoot"),
            ),
        ),
        (
            names!(b"li"),
            (
                names!(b"li"),
                names!(b"ul", b"ol", b"menu", b"table", b"td", b"th"),
            ),
        ),
        (
            names!(b"dt", b"dd"),
            (names!(b"dt", b"dd"), names!(b"dl", b"table", b"td", b"th")),
        ),
        (
            names!(b"tbody", b"thead", b"tfoot"),
            (names!(b"tbody", b"thead", b"tfoot"), names!(b"table")),
        ),
        (
            names!(b"option"),
            (names!(b"option"), names!(b"select", b"datalist")),
        ),
        (names!(b"body"), (names!(b"head"), names!(b"html"))),
    ];
    RULES
        .iter()
        .find(|(starts, _)| name.is(starts))
        .map(|&(_, rule)| rule)
}

struct Reader {
    want: Want,
    /// The start tag being read (`None` between tags and inside end tags).
    tag: Option<Name>,
    /// Its attributes (kept in place: tags are many, attributes of interest few).
    attrs: Attrs,
    /// The attribute whose value comes next, when it is one that is read.
    attr: Option<Key>,
    open: Vec<Open>,
    /// Open svg/math elements (where `/>` closes an element).
    foreign: usize,
    /// Open hidden elements.
    hidden: usize,
    /// The JSON-LD script being read.
    script: Option<String>,
    json_ld: Vec<Value>,
    micro: microdata::Builder,
    text: text::Builder,
}

impl Reader {
    fn new(want: Want) -> Self {
        Self {
            want,
            tag: None,
            attrs: Attrs::default(),
            attr: None,
            open: Vec::new(),
            foreign: 0,
            hidden: 0,
            script: None,
            json_ld: Vec::new(),
            micro: microdata::Builder::default(),
            text: text::Builder::default(),
        }
    }

    fn event(&mut self, ev: CallbackEvent<'_>) {
        match ev {
            CallbackEvent::OpenStartTag { name } => {
                self.tag = Some(Name::new(name));
                self.attrs.reset();
                self.attr = None;
            }
            CallbackEvent::AttributeName { name } => {
                self.attr = None;
                if self.tag.is_none() {
                    return;
                }
                let attrs = &mut self.attrs;
                const KEYS: &[(u128, Option<Key>)] = &[
                    (pack(b"itemscope"), None),
                    (pack(b"itemtype"), Some(Key::ItemType)),
                    (pack(b"itemprop"), Some(Key::ItemProp)),
                    (pack(b"content"), Some(Key::Content)),
                    (pack(b"datetime"), Some(Key::Datetime)),
                    (pack(b"href"), Some(Key::Href)),
                    (pack(b"src"), Some(Key::Src)),
                    (pack(b"data"), Some(Key::Data)),
                    (pack(b"value"), Some(Key::Value)),
                    (pack(b"type"), Some(Key::Type)),
                ];
                let packed = pack(name);
                let key = match KEYS.iter().find(|(k, _)| *k == packed) {
                    None => return,
                    Some((_, None)) => {
                        attrs.itemscope = true;
                        return;
                    }
                    Some((_, Some(key))) => *key,
                };
                let slot = attrs.slot(key);
                if slot.is_none() {
                    // A valueless attribute reads as empty; a duplicate is ignored.
                    *slot = Some(String::new());
                    self.attr = Some(key);
                }
            }
            CallbackEvent::AttributeValue { value } => {
                if let (Some(key), Some(_)) = (self.attr.take(), self.tag) {
                    *self.attrs.slot(key) = Some(String::from_utf8_lossy(value).into_owned());
                }
            }
            CallbackEvent::CloseStartTag { self_closing } => {
                self.attr = None;
                if let Some(name) = self.tag.take() {
                    self.start(name, self_closing);
                }
            }
            CallbackEvent::EndTag { name } => {
                self.tag = None;
                self.attr = None;
                self.end(&Name::new(name));
            }
            CallbackEvent::String { value } => self.chars(value),
            CallbackEvent::Comment { .. }
            | CallbackEvent::Doctype { .. }
            | CallbackEvent::Error(_) => {}
        }
    }

    fn start(&mut self, name: Name, self_closing: bool) {
        let k = kind_of(name);
        if let Some(rule) = implied_end(name) {
            self.close_implied(rule);
        }
        if k & kind::CLOSES_P != 0 {
            self.close_open_p();
        }
        let void = k & kind::VOID != 0 || (self_closing && self.foreign > 0);
        if k & kind::BLOCK != 0 {
            self.text.separate();
        }
        let mut open = Open {
            name,
            kind: k,
            scope: false,
            collects: false,
            ld_json: false,
        };
        if self.want.markup {
            if name.0 == pack(b"script") {
                open.ld_json = self.attrs.type_.as_deref().is_some_and(is_ld_json);
                if open.ld_json {
                    self.script = Some(String::new());
                }
            }
            if self.attrs.itemscope || self.attrs.itemprop.is_some() {
                let attrs = std::mem::take(&mut self.attrs);
                self.microdata(&name, attrs, void, &mut open);
            }
        }
        if void {
            return;
        }
        if k & kind::FOREIGN != 0 {
            self.foreign += 1;
        }
        if k & kind::HIDDEN != 0 {
            self.hidden += 1;
        }
        self.open.push(open);
    }

    fn microdata(&mut self, name: &Name, mut attrs: Attrs, void: bool, open: &mut Open) {
        if attrs.itemscope {
            self.micro
                .open_item(attrs.itemtype.take(), attrs.itemprop.take());
            if void {
                self.micro.close_item();
            } else {
                open.scope = true;
            }
            return;
        }
        let Some(props) = attrs.itemprop.take() else {
            return;
        };
        if !self.micro.in_item() {
            return;
        }
        // The property's value, by element (HTML's microdata rules); `content` is read on any
        // element, as senders put it on spans and divs too.
        let (buf, len) = name.bytes();
        let n = &buf[..len];
        let value = attrs.content.take().or_else(|| match n {
            b"meta" => Some(String::new()),
            b"a" | b"area" | b"link" => attrs.href.take(),
            b"audio" | b"embed" | b"iframe" | b"img" | b"source" | b"track" | b"video" => {
                attrs.src.take()
            }
            b"object" => attrs.data.take(),
            b"data" | b"meter" => attrs.value.take(),
            b"time" => attrs.datetime.take(),
            _ => None,
        });
        match value {
            Some(v) => self.micro.property(&props, v),
            None if void => self.micro.property(&props, String::new()),
            None => {
                self.micro.start_text(props);
                open.collects = true;
            }
        }
    }

    /// Closes the innermost open element of `targets`, unless one of `stops` is open inside it.
    fn close_implied(&mut self, (targets, stops): Implied) {
        let found = self
            .open
            .iter()
            .rposition(|o| o.name.is(targets) || o.name.is(stops));
        if let Some(i) = found.filter(|&i| self.open[i].name.is(targets)) {
            self.close_from(i);
        }
    }

    /// Ends the innermost open `<p>`, unless a table, cell, button, … is open inside it.
    fn close_open_p(&mut self) {
        let found = self
            .open
            .iter()
            .rposition(|o| o.kind & kind::P_STOP != 0 || o.name.0 == pack(b"p"));
        if let Some(i) = found.filter(|&i| self.open[i].name.0 == pack(b"p")) {
            self.close_from(i);
        }
    }

    fn end(&mut self, name: &Name) {
        match self.open.iter().rposition(|o| o.name == *name) {
            Some(i) => self.close_from(i),
            // `</br>` is a line break; `</p>` without a `<p>` is an empty paragraph.
            None if name.is(names!(b"br", b"p")) => self.text.separate(),
            None => {}
        }
    }

    /// Closes the open elements from index `i` up, innermost first.
    fn close_from(&mut self, i: usize) {
        while self.open.len() > i {
            let o = self.open.pop().expect("len > i");
            self.close(o);
        }
    }

    fn close(&mut self, o: Open) {
        if o.collects {
            self.micro.end_text();
        }
        if o.scope {
            self.micro.close_item();
        }
        if o.ld_json {
            if let Some(v) = self.script.take().and_then(|s| parse_ld_json(&s)) {
                self.json_ld.push(v);
            }
        }
        if o.kind & kind::HIDDEN != 0 {
            self.hidden -= 1;
        }
        if o.kind & kind::FOREIGN != 0 {
            self.foreign -= 1;
        }
        if o.kind & kind::BLOCK != 0 {
            self.text.separate();
        }
    }

    fn chars(&mut self, s: &[u8]) {
        if let Some(script) = self.script.as_mut() {
            script.push_str(&String::from_utf8_lossy(s));
            return;
        }
        if self.hidden > 0 || !(self.want.text || self.micro.collecting()) {
            return;
        }
        let s = String::from_utf8_lossy(s);
        self.micro.text(&s);
        if self.want.text {
            self.text.push(&s);
        }
    }

    fn finish(mut self) -> Body {
        self.close_from(0);
        Body {
            json_ld: self.json_ld,
            microdata: self.micro.finish(),
            text: self.want.text.then(|| self.text.finish()),
        }
    }
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

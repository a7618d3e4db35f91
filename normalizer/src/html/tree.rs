//! The stack of open elements of one body, fed tag by tag by the tokenizer ([`super::emitter`]),
//! with the HTML rules that matter for malformed mail (see [`super`]): void elements never
//! open, end tags close what was left open inside them, stray end tags are ignored, optional
//! end tags are implied. On it ride the JSON-LD scripts, the microdata items
//! ([`super::microdata`]) and the visible text ([`super::text`]).

use super::names::{implied_end, kind, kind_of, names, pack, Implied, Name};
use super::{is_ld_json, microdata, parse_ld_json, text, Body, Want};
use serde_json::Value;

/// The attributes read from a start tag (the others are never copied).
#[derive(Default)]
pub(super) struct Attrs {
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

/// An attribute whose value is read.
#[derive(Clone, Copy)]
pub(super) enum Key {
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
    pub(super) fn reset(&mut self) {
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

    /// An attribute of the start tag: the key whose value is to be read, if it is one that is
    /// read and the first of its name (a valueless attribute reads as empty; a duplicate is
    /// ignored).
    pub(super) fn name(&mut self, name: Name) -> Option<Key> {
        const ITEMSCOPE: u128 = pack(b"itemscope");
        const KEYS: &[(u128, Key)] = &[
            (pack(b"itemtype"), Key::ItemType),
            (pack(b"itemprop"), Key::ItemProp),
            (pack(b"content"), Key::Content),
            (pack(b"datetime"), Key::Datetime),
            (pack(b"href"), Key::Href),
            (pack(b"src"), Key::Src),
            (pack(b"data"), Key::Data),
            (pack(b"value"), Key::Value),
            (pack(b"type"), Key::Type),
        ];
        if name.0 == ITEMSCOPE {
            self.itemscope = true;
            return None;
        }
        let key = KEYS.iter().find(|(k, _)| *k == name.0)?.1;
        let slot = self.slot(key);
        if slot.is_some() {
            return None;
        }
        *slot = Some(String::new());
        Some(key)
    }

    /// The (non-empty) value of the attribute [`Attrs::name`] returned `key` for.
    pub(super) fn value(&mut self, key: Key, value: &[u8]) {
        *self.slot(key) = Some(String::from_utf8_lossy(value).into_owned());
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

/// The open elements and what is read from them.
pub(super) struct Tree {
    want: Want,
    /// The attributes of the start tag being read.
    pub(super) attrs: Attrs,
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

impl Tree {
    pub(super) fn new(want: Want) -> Self {
        Self {
            want,
            attrs: Attrs::default(),
            open: Vec::new(),
            foreign: 0,
            hidden: 0,
            script: None,
            json_ld: Vec::new(),
            micro: microdata::Builder::default(),
            text: text::Builder::default(),
        }
    }

    /// A start tag, its attributes read into [`Tree::attrs`].
    pub(super) fn start(&mut self, name: Name, self_closing: bool) {
        let k = kind_of(name);
        if k & kind::IMPLIES != 0 {
            if let Some(rule) = implied_end(name) {
                self.close_implied(rule);
            }
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

    /// An end tag.
    pub(super) fn end(&mut self, name: Name) {
        match self.open.iter().rposition(|o| o.name == name) {
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

    /// Whether text here is read at all (a JSON-LD script, a microdata text value, the
    /// visible text); it changes only at tags.
    pub(super) fn reads_text(&self) -> bool {
        self.script.is_some() || (self.hidden == 0 && (self.want.text || self.micro.collecting()))
    }

    /// A run of text between two tags (comments, doctypes), whole.
    pub(super) fn chars(&mut self, s: &[u8]) {
        if let Some(script) = self.script.as_mut() {
            script.push_str(&String::from_utf8_lossy(s));
            return;
        }
        if !self.reads_text() {
            return;
        }
        let s = String::from_utf8_lossy(s);
        self.micro.text(&s);
        if self.want.text {
            self.text.push(&s);
        }
    }

    pub(super) fn finish(mut self) -> Body {
        self.close_from(0);
        Body {
            json_ld: self.json_ld,
            microdata: self.micro.finish(),
            text: self.want.text.then(|| self.text.finish()),
        }
    }
}

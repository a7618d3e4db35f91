//! What the tokenizer hands over, straight to the [`Tree`]: an html5gum [`Emitter`] of our own.
//! Tag and attribute names are packed into integers as their bytes arrive ([`Packer`]), only
//! the values of the attributes that are read ([`super::tree::Attrs::name`]) are copied, text runs only
//! while something reads them ([`Tree::reads_text`]), and parse errors are not even looked
//! for (malformed markup is read the way browsers read it).
//!
//! The tokenizer's state after a start tag (`<script>` contents raw, `<title>` and
//! `<textarea>` as text, `<style>`, … raw) follows html5gum's [`naive_next_state`]. A text run
//! reaches the tree whole, at the next tag, comment, doctype or the end of the input.

use super::names::{Name, Packer};
use super::tree::{Key, Tree};
use html5gum::{naive_next_state, Emitter, Error, State};
use std::convert::Infallible;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tag {
    None,
    Start,
    End,
}

pub(super) struct Sink<'t> {
    tree: &'t mut Tree,
    /// The current tag and its name so far.
    tag: Tag,
    name: Packer,
    self_closing: bool,
    /// The name of the last start tag emitted (`None` after an end tag), for the end of
    /// `<script>`, `<style>`, `<title>`, … contents.
    last_start: Option<Name>,
    /// The current attribute's name, not yet looked at.
    attr_name: Packer,
    /// The attribute whose value is being read, and the value so far.
    attr: Option<Key>,
    value: Vec<u8>,
    /// The text run so far (kept only when the tree reads it).
    text: Vec<u8>,
}

impl<'t> Sink<'t> {
    pub(super) fn new(tree: &'t mut Tree) -> Self {
        Self {
            tree,
            tag: Tag::None,
            name: Packer::default(),
            self_closing: false,
            last_start: None,
            attr_name: Packer::default(),
            attr: None,
            value: Vec::new(),
            text: Vec::new(),
        }
    }

    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            self.tree.chars(&self.text);
            self.text.clear();
        }
    }

    /// Looks at the current attribute's name once it is complete.
    fn attr_named(&mut self) {
        if self.attr_name.is_empty() {
            return;
        }
        let name = self.attr_name.take();
        self.attr = None;
        if self.tag == Tag::Start {
            self.attr = self.tree.attrs.name(name);
        }
    }

    /// Ends the current attribute.
    fn attr_done(&mut self) {
        self.attr_named();
        if let Some(key) = self.attr.take() {
            if !self.value.is_empty() {
                self.tree.attrs.value(key, &self.value);
            }
        }
        self.value.clear();
    }
}

impl Emitter for Sink<'_> {
    type Token = Infallible;

    fn set_last_start_tag(&mut self, last_start_tag: Option<&[u8]>) {
        self.last_start = last_start_tag.map(|n| {
            let mut p = Packer::default();
            p.push(n);
            p.take()
        });
    }

    fn emit_eof(&mut self) {
        self.flush_text();
    }

    fn emit_error(&mut self, _: Error) {}

    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn pop_token(&mut self) -> Option<Infallible> {
        None
    }

    fn emit_string(&mut self, s: &[u8]) {
        if self.tree.reads_text() {
            self.text.extend_from_slice(s);
        }
    }

    fn init_start_tag(&mut self) {
        self.tag = Tag::Start;
        self.name = Packer::default();
        self.self_closing = false;
        self.tree.attrs.reset();
        self.attr = None;
    }

    fn init_end_tag(&mut self) {
        self.tag = Tag::End;
        self.name = Packer::default();
    }

    fn init_comment(&mut self) {
        self.flush_text();
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        self.flush_text();
        self.attr_done();
        let name = self.name.take();
        match std::mem::replace(&mut self.tag, Tag::None) {
            Tag::Start => {
                self.last_start = Some(name);
                self.tree.start(name, self.self_closing);
                let (bytes, len) = name.bytes();
                // The names that switch states are all short: a longer one switches nothing.
                (name.0 >> 120 <= 15)
                    .then(|| naive_next_state(&bytes[..len]))
                    .flatten()
            }
            Tag::End => {
                self.last_start = None;
                self.tree.end(name);
                None
            }
            Tag::None => None,
        }
    }

    fn emit_current_comment(&mut self) {}

    fn emit_current_doctype(&mut self) {}

    fn set_self_closing(&mut self) {
        if self.tag == Tag::Start {
            self.self_closing = true;
        }
    }

    fn set_force_quirks(&mut self) {}

    fn push_tag_name(&mut self, s: &[u8]) {
        self.name.push(s);
    }

    fn push_comment(&mut self, _: &[u8]) {}

    fn push_doctype_name(&mut self, _: &[u8]) {}

    fn init_doctype(&mut self) {
        self.flush_text();
    }

    fn init_attribute(&mut self) {
        self.attr_done();
    }

    fn push_attribute_name(&mut self, s: &[u8]) {
        self.attr_name.push(s);
    }

    fn push_attribute_value(&mut self, s: &[u8]) {
        self.attr_named();
        if self.attr.is_some() {
            self.value.extend_from_slice(s);
        }
    }

    fn set_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn set_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        self.tag == Tag::End && self.last_start == Some(self.name.peek())
    }
}
